"""`/mcp` requests logged as Django's are (kb.observability.request_id): a request id from a
trusted proxy's X-Request-ID or a new one, echoed back and stamped on every log line the
request causes (the tools' threads and the query log's included: the id is a context variable,
which the SDK's tasks and sync_to_async carry along), and one access line without client
address, user or query string."""

from __future__ import annotations

import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kb.observability.request_id import HEADER, access, request_id, request_id_for


class Observed:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        current = request_id_for(Headers(scope=scope).get(HEADER, ""))
        token = request_id.set(current)
        started = time.perf_counter()
        status = 500  # unless a response starts

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                MutableHeaders(scope=message)[HEADER] = current
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            ms = round((time.perf_counter() - started) * 1000, 1)
            access.info("%s %s %s", scope["method"], scope["path"], status, extra={"ms": ms})
            request_id.reset(token)
