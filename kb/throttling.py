"""Questions per user per minute, over all their API tokens and their signed-in session; 429
beyond that. Keyed by user, not by token: a second token must not be a second budget. Shared
by the API's answering endpoints (kb.api.answers) and the chat page's (kb.web.chat).

The counter lives in Django's cache: local memory in the embedded default, Redis when
KB_CACHE_URL points at it, so that several web replicas share one budget per user.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView


class PerUserRateThrottle(SimpleRateThrottle):
    scope = "answering"

    def get_rate(self) -> str | None:
        per_minute = settings.KB_API_RATE_PER_MINUTE
        return f"{per_minute}/min" if per_minute > 0 else None

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if not request.user.is_authenticated:
            return None  # unauthenticated requests never get this far
        return self.cache_format % {"scope": self.scope, "ident": f"user:{request.user.pk}"}
