"""Serving a synchronous generator (the model's tokens) from Django's ASGI handler.

Django consumes a synchronous streaming iterator whole before sending anything under ASGI,
which would defeat token streaming. The generator runs instead in its own thread and hands
each item to the event loop as soon as it exists. A client that disconnects stops it: the
model gives up at once, even in the middle of reading the prompt (kb.llm.cancel), and the
generator is closed, releasing the model for the next question.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

from django.db import connections

from kb.llm.cancel import GenerationCancelled, Stop, cancellable, cancelled, reporting_place

T = TypeVar("T")
_DONE = object()


def iterate_in_thread(
    start: Callable[[], Iterator[T]], place: Callable[[int], T] | None = None
) -> AsyncIterator[T]:
    """Called in the view: the context (request id for logs) is captured now, while the
    request is being handled, and the generator runs inside it. With `place`, a wait for the
    model sends `place(questions ahead)` to the client whenever the count changes, and lasts
    until the model is free or the client leaves (kb.llm.cancel.reporting_place)."""
    return _iterate(start, place, contextvars.copy_context())


async def _iterate(
    start: Callable[[], Iterator[T]],
    place: Callable[[int], T] | None,
    context: contextvars.Context,
) -> AsyncIterator[T]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[object, object]] = asyncio.Queue()
    stop = Stop()

    def put(kind: object, value: object) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, (kind, value))

    def report(ahead: int) -> None:
        if place is not None:
            put(None, place(ahead))

    def produce() -> None:
        waiting = reporting_place(report) if place is not None else contextlib.nullcontext()
        try:
            with cancellable(stop), waiting:
                iterator = start()
                try:
                    for item in iterator:
                        if cancelled():  # not when others wait for the same answer (unless)
                            break
                        put(None, item)
                finally:
                    close = getattr(iterator, "close", None)
                    if close is not None:
                        close()
            put(_DONE, None)
        except GenerationCancelled:
            pass  # nobody is listening: nothing to say, and the model is free again
        except BaseException as exc:
            put(exc, None)
        finally:
            connections.close_all()  # this thread's database connections end with it

    threading.Thread(target=context.run, args=(produce,), name="answer-stream", daemon=True).start()
    try:
        while True:
            kind, value = await queue.get()
            if kind is _DONE:
                return
            if isinstance(kind, BaseException):
                raise kind
            yield value  # type: ignore[misc]  # the queue holds values or the end marker; the marker returned above
    finally:
        stop.set()
