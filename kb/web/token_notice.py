"""Tells a signed-in user, once, on their next page, that one of their API tokens was revoked
because it appeared in a logged question, answer or comment (kb.services.api_tokens).
The API says so on the token's next use (kb.bearer_auth.TokenLeaked); this is for owners
who only use the pages, or whose script does not show error messages."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponseBase

from kb.selectors.api_tokens import api_token_leak_notices
from kb.services.api_tokens import api_token_leak_notices_mark_shown

MESSAGE = (
    "Your API token {prefixes} was revoked automatically: it appeared in a question or comment, "
    "where it is logged and others could read it. Ask an administrator for a new one, and never "
    "paste tokens into questions."
)


class TokenLeakNoticeMiddleware:
    """After authentication and messages. One indexed query per signed-in page request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not request.path.startswith("/api/"):
            prefixes = [token.prefix for token in api_token_leak_notices(user=user)]
            if prefixes:
                shown = ", ".join(f"{prefix}…" for prefix in prefixes)
                messages.warning(request, MESSAGE.format(prefixes=shown))
                api_token_leak_notices_mark_shown(user=user)
        return self.get_response(request)
