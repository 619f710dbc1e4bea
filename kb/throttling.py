"""Questions per user per minute, over all their API tokens and their signed-in session; 429
beyond that. Keyed by user, not by token: a second token must not be a second budget. Shared
by the API's answering endpoints (kb.api.answers), the chat page's (kb.web.chat) and the MCP
server's questions and searches (kb.mcp_server, through question_wait).

The counter lives in Django's cache: local memory in the embedded default, Redis when
KB_CACHE_URL points at it, so that several web replicas share one budget per user.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest
from rest_framework.exceptions import Throttled
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


def question_wait(user: User) -> str | None:
    """For callers outside the REST framework's views: counts one request against `user`'s
    budget, as the views' throttle does. None when it may go ahead; otherwise the 429's message
    (how long to wait), and the request must not be served."""
    request = Request(HttpRequest())
    request.user = user
    throttle = PerUserRateThrottle()
    if throttle.allow_request(request, APIView()):
        return None
    return str(Throttled(wait=throttle.wait()).detail)
