"""Production: servers everywhere, secrets required, secure cookies."""

from __future__ import annotations

from kb.settings.base import *  # noqa: F403
from kb.settings.env import env_bool, env_int, env_required

SECRET_KEY = env_required("DJANGO_SECRET_KEY")
KB_LOG_PSEUDONYM_KEY = env_required("KB_LOG_PSEUDONYM_KEY")
KB_CONVERSATION_KEY = env_required("KB_CONVERSATION_KEY")
env_required("DATABASE_URL")  # never fall back to SQLite in production
DEBUG = False
KB_INJECTION_DEFENCES = True  # switchable only to measure them (kb/settings/base.py)

SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

# Hashed, compressed files made by `collectstatic` in the image (kb/deploy/Dockerfile).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False

if NEO4J_URI:  # noqa: F405
    NEO4J_PASSWORD = env_required("NEO4J_PASSWORD")
