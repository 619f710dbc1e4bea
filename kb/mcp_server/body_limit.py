"""`/mcp` request bodies under Django's limit for non-upload bodies (kb.request_limits): the MCP
SDK reads a whole body into memory before parsing it, and kb/asgi.py's AsgiBodyLimit guards
only Django. The body is read here, at most up to the limit, and handed on in one piece; one
over it, declared or not, is a 413 in the REST API's error shape. Behind BearerAuth: a request
without a live token is refused before any of its body is read."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kb.request_limits import limit_for, too_large_message


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = limit_for(headers.get("content-type", ""))
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away: no one to answer
            body += message.get("body", b"")
            if len(body) > limit:
                await _too_large(limit)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body in one message; then what the client sends next (its disconnect)."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _too_large(limit: int) -> JSONResponse:
    body = {"error": {"code": "too_large", "message": too_large_message(limit)}}
    return JSONResponse(body, status_code=413, headers={"Connection": "close"})
