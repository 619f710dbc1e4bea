import os

from django.core.asgi import get_asgi_application

from kb.request_limits import AsgiBodyLimit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kb.settings.base")
django_application = AsgiBodyLimit(get_asgi_application())

# After Django is set up: the MCP server's tools import the models.
from kb.mcp_server.app import with_mcp  # noqa: E402

application = with_mcp(django_application)
