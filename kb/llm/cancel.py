"""Stopping the model for a caller who left.

A streamed answer runs in a thread of its own (kb.streaming); when its client disconnects or
presses Stop, that thread's stop event is set. The event travels with the thread's context, as
the request id does, so the model can look at it between prompt slices and tokens without every
layer between the view and the model passing it along.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_stop: ContextVar[threading.Event | None] = ContextVar("quarry_generation_stop", default=None)


class GenerationCancelled(Exception):
    """Nobody is waiting for this answer any more: the model stopped and is free."""


@contextmanager
def cancellable(stop: threading.Event) -> Iterator[None]:
    """Within this block, the model gives up as soon as `stop` is set."""
    token = _stop.set(stop)
    try:
        yield
    finally:
        _stop.reset(token)


def cancelled() -> bool:
    stop = _stop.get()
    return stop is not None and stop.is_set()


def raise_if_cancelled() -> None:
    if cancelled():
        raise GenerationCancelled()
