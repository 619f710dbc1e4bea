"""What a person sees when their chat history cannot be decrypted (KB_CONVERSATION_KEY is not
the key it was written with, or a row was altered): a 503 that says so in plain words, never a
traceback and never a chat without its history. The operator finds which key is missing in the
error log. Fails closed: until the key is back, no page writes more history under a key that
may itself be the wrong one."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import render

from kb.conversation_crypto import ConversationKeyError

log = logging.getLogger(__name__)

MESSAGE = (
    "Your chat history cannot be read right now: this server does not have the key it was "
    "encrypted with. Nothing has been deleted. An administrator needs to restore the "
    "conversation key; the server log says which one."
)


class UnreadableHistoryMiddleware:
    """Answers ConversationKeyError from any view: the chat pages (HTML), the chat's stream
    and anything under /api/ (the API's JSON error, code `history_unreadable`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ConversationKeyError):
            return None
        log.error("Chat history cannot be decrypted: %s", exception)
        if _wants_json(request):
            body = {"error": {"code": "history_unreadable", "message": MESSAGE}}
            return JsonResponse(body, status=503)
        return render(request, "chat/unavailable.html", {"message": MESSAGE}, status=503)


def _wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return (
        request.path.startswith("/api/")
        or "text/event-stream" in accept
        or ("application/json" in accept and "text/html" not in accept)
    )
