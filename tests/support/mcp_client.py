"""The official MCP Python SDK client (`ClientSession` over streamable HTTP) as a test calls
Quarry's `/mcp` with a bearer token: one session per call, from synchronous tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, ListToolsResult, TextContent

T = TypeVar("T")
# A scripted or refused answer takes well under this; a stuck call fails the test instead.
TIMEOUT_SECONDS = 60


def call_tool(
    base_url: str, token: str | None, name: str, arguments: dict[str, Any] | None = None
) -> CallToolResult:
    return _in_session(base_url, token, lambda s: s.call_tool(name, arguments or {}))


def list_tools(base_url: str, token: str | None) -> ListToolsResult:
    return _in_session(base_url, token, lambda s: s.list_tools())


def structured(result: CallToolResult) -> dict[str, Any]:
    """A successful call's result; its text content is the same JSON."""
    assert not result.isError, text_of(result)
    assert result.structuredContent is not None
    (content,) = result.content
    assert isinstance(content, TextContent)
    assert json.loads(content.text) == result.structuredContent
    return result.structuredContent


def text_of(result: CallToolResult) -> str:
    """What the client's model reads: the text content (an error's message)."""
    return " ".join(c.text for c in result.content if isinstance(c, TextContent))


def raised_messages(error: BaseException) -> str:
    """What the client raised, with everything inside an exception group (the SDK's task
    groups wrap an HTTP error such as a 401)."""
    inner = getattr(error, "exceptions", ())
    return " ".join([repr(error), *(raised_messages(e) for e in inner)])


def _in_session(
    base_url: str, token: str | None, use: Callable[[ClientSession], Awaitable[T]]
) -> T:
    async def run() -> T:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        async with (
            httpx.AsyncClient(headers=headers, timeout=TIMEOUT_SECONDS) as http,
            streamable_http_client(f"{base_url}/mcp", http_client=http) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await use(session)

    return asyncio.run(run())
