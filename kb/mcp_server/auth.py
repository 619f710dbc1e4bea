"""Who calls `/mcp`: the caller's Quarry API token, looked up and refused with exactly the REST
API's words (kb.bearer_tokens). A request without a live token never reaches the MCP server;
one with a token carries its user in the ASGI scope, where the tools read it (tools.caller)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.http.request import split_domain_port, validate_host
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from kb.bearer_tokens import (
    NOT_PROVIDED,
    TokenRefused,
    bearer_credentials,
    token_authenticate,
)
from kb.mcp_server.calls import in_thread

# The ASGI scope key under which an authenticated request carries its Django user.
USER = "quarry.user"
REALM = 'Bearer realm="mcp"'


class BearerAuth:
    """ASGI middleware in front of the MCP app; other scopes (lifespan) pass through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not _host_allowed(headers.get("host", "")):
            # Django's own check for every other path: links are built from this host.
            response = _error(400, "bad_request", "Invalid Host header.")
            await response(scope, receive, send)
            return
        try:
            user = await _user_of(headers.get("authorization", "").encode("latin-1"))
        except TokenRefused as refused:
            challenge = f'{REALM}, error="invalid_token"'
            await _error(401, refused.code, refused.message, challenge)(scope, receive, send)
            return
        if user is None:
            await _error(401, "not_authenticated", NOT_PROVIDED, REALM)(scope, receive, send)
            return
        await self.app({**scope, USER: user}, receive, send)


async def _user_of(header: bytes) -> User | None:
    raw = bearer_credentials(header)
    if raw is None:
        return None
    return await in_thread(lambda: token_authenticate(token=raw).user)


def _host_allowed(host: str) -> bool:
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def _error(status: int, code: str, message: str, challenge: str = "") -> JSONResponse:
    """The REST API's error body (kb/api/errors.py), so a client reads both the same way."""
    headers = {"WWW-Authenticate": challenge} if challenge else None
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)
