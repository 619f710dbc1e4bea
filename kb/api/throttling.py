"""Requests per API token (or per signed-in user of the chat) per minute; 429 beyond that.

The counter lives in Django's cache: local memory in the embedded default, Redis when
KB_CACHE_URL points at it, so that several web replicas share one budget per token.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from kb.models import ApiToken


class PerTokenRateThrottle(SimpleRateThrottle):
    scope = "answering"

    def get_rate(self) -> str | None:
        per_minute = settings.KB_API_RATE_PER_MINUTE
        return f"{per_minute}/min" if per_minute > 0 else None

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if isinstance(request.auth, ApiToken):
            ident = f"token:{request.auth.pk}"
        elif request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            return None  # unauthenticated requests never get this far
        return self.cache_format % {"scope": self.scope, "ident": ident}
