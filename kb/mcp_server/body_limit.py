"""`/mcp` request bodies under Quarry's limit for JSON bodies (kb.request_limits; the MCP SDK
has its own, 4 MB, which Quarry's settings did not reach), and never nested deeper than
Python's JSON decoder goes: the SDK answered that RecursionError with a 500 and a traceback in
the error log. The body is read here, at most up to the limit, and handed on in one piece;
one over it, declared or not, is a 413 in the REST API's error shape. Behind BearerAuth: a
request without a live token is refused before any of its body is read."""

from __future__ import annotations

import json

from django.conf import settings
from mcp.types import PARSE_ERROR
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kb.request_limits import too_large_message


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        # JSON's limit whatever the declared type: the SDK takes nothing else, and an upload's
        # limit (a multipart type) would have this buffer gigabytes.
        limit = int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
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
        if _too_deep(bytes(body)):
            await _parse_error()(scope, receive, send)
            return
        await self.app(scope, _replay(bytes(body), receive), send)


def _too_deep(body: bytes) -> bool:
    """Whether the decoder gives up on the body's nesting; any other error is the SDK's to
    answer (a JSON-RPC parse error)."""
    try:
        json.loads(body)
    except RecursionError:
        return True
    except ValueError:
        return False
    return False


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


def _parse_error() -> JSONResponse:
    """The SDK's answer to malformed JSON (JSON-RPC's parse error)."""
    error = {"code": PARSE_ERROR, "message": "Parse error: nested too deeply."}
    return JSONResponse({"jsonrpc": "2.0", "id": "server-error", "error": error}, status_code=400)


def _too_large(limit: int) -> JSONResponse:
    body = {"error": {"code": "too_large", "message": too_large_message(limit)}}
    return JSONResponse(body, status_code=413, headers={"Connection": "close"})
