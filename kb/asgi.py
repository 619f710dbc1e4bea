import os

from django.core.asgi import get_asgi_application

from kb.request_limits import AsgiBodyLimit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kb.settings.base")
application = AsgiBodyLimit(get_asgi_application())
