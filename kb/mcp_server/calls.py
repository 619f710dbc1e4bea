"""Synchronous Quarry code (the ORM, the stores, the model) called from the MCP server's event
loop, as Django calls a synchronous view under ASGI: each call in a thread of its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.db import connections

T = TypeVar("T")


async def in_thread(work: Callable[[], T]) -> T:
    """A fresh thread per call: a slow answer does not queue every other tool call behind it
    (sync_to_async's default is one shared thread), and its database connections are closed
    when it ends, since no request_finished signal closes them outside Django's handler."""
    async with ThreadSensitiveContext():
        return await sync_to_async(_closing(work))()


def _closing(work: Callable[[], T]) -> Callable[[], T]:
    def run() -> T:
        try:
            return work()
        finally:
            connections.close_all()  # this thread's connections only

    return run
