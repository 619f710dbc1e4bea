"""Request bodies too large or holding too many files: refused with 413 before they are read.

Django limits the form fields of a body (DATA_UPLOAD_MAX_MEMORY_SIZE) and the number of files
(DATA_UPLOAD_MAX_NUMBER_FILES), but not the files' total size, and the REST framework reads
JSON bodies without any limit. The middleware checks the declared length first; every refusal,
ours or Django's, becomes one `SuspiciousOperation` that kb.views.bad_request answers.

Under ASGI (kb_serve, uvicorn) Django reads the whole body into a temporary file before any
middleware runs; `AsgiBodyLimit` (kb/asgi.py) stops reading at the same limit first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.http import HttpRequest, HttpResponse

from kb.uploads import MB, too_many_files

MULTIPART = "multipart/form-data"


class RequestTooLarge(RequestDataTooBig):
    """The declared body is over our limit; carries the message the caller is shown."""


class RequestBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = body_limit(request)
        if _declared_length(request) > limit:
            raise RequestTooLarge(too_large_message(limit))
        return self.get_response(request)


def body_limit(request: HttpRequest) -> int:
    return limit_for(request.content_type or "")


def limit_for(content_type: str) -> int:
    """Uploads may be as large as KB_MAX_REQUEST_MB; anything else as a form field may."""
    if content_type.split(";")[0].strip().lower() == MULTIPART:
        return int(settings.KB_MAX_REQUEST_MB) * MB
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class AsgiBodyLimit:
    """Wraps the ASGI application. A declared length over the limit reaches Django without its
    body (RequestBodyLimitMiddleware then answers 413 from the header); a body without a
    declared length (chunked) that grows past the limit is cut off as a disconnect."""

    def __init__(self, app: AsgiApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        limit = limit_for(headers.get("content-type", ""))
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return await self.app(scope, _without_body(receive), send)
        return await self.app(scope, _counted(receive, limit), send)


def _without_body(receive: Receive) -> Receive:
    """An empty body first; then only what is not body (the disconnect Django listens for)."""
    given = False

    async def replacement() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        while (message := await receive())["type"] == "http.request":
            pass  # the rest of the refused body, read and dropped
        return message

    return replacement


def _counted(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                return {"type": "http.disconnect"}
        return message

    return counted


def refusal_message(exc: Exception) -> str | None:
    """What to tell the caller when Django or our middleware refused the body; None if `exc`
    is some other bad request."""
    if isinstance(exc, RequestTooLarge):
        return str(exc)
    if isinstance(exc, TooManyFilesSent):
        return too_many_files(int(settings.DATA_UPLOAD_MAX_NUMBER_FILES)).message
    if isinstance(exc, RequestDataTooBig):
        limit = int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        return f"The request's form fields are larger than {_size(limit)}; nothing was stored."
    return None


def too_large_message(limit: int) -> str:
    return f"The request is larger than {_size(limit)}; nothing was stored."


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # Django reads no body it cannot measure


def _size(limit: int) -> str:
    return f"{limit / MB:g} MB"
