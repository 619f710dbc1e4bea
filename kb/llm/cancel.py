"""Stopping the model for a caller who left.

A streamed answer runs in a thread of its own (kb.streaming); when its client disconnects or
presses Stop, that thread's stop event is set. The event travels with the thread's context, as
the request id does, so the model can look at it between prompt slices and tokens without every
layer between the view and the model passing it along.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol


class StopSignal(Protocol):
    def is_set(self) -> bool: ...


_stop: ContextVar[StopSignal | None] = ContextVar("quarry_generation_stop", default=None)


class GenerationCancelled(Exception):
    """Nobody is waiting for this answer any more: the model stopped and is free."""


@contextmanager
def cancellable(stop: StopSignal) -> Iterator[None]:
    """Within this block, the model gives up as soon as `stop` is set."""
    token = _stop.set(stop)
    try:
        yield
    finally:
        _stop.reset(token)


@contextmanager
def unless(still_wanted: Callable[[], bool]) -> Iterator[None]:
    """Within this block, a cancellation counts only while `still_wanted()` is false: an answer
    that others wait for too goes on when its first asker leaves."""
    outer = _stop.get()
    if outer is None:
        yield
        return
    with cancellable(_Unless(outer, still_wanted)):
        yield


class _Unless:
    def __init__(self, stop: StopSignal, still_wanted: Callable[[], bool]) -> None:
        self._stop = stop
        self._still_wanted = still_wanted

    def is_set(self) -> bool:
        return self._stop.is_set() and not self._still_wanted()


def cancelled() -> bool:
    stop = _stop.get()
    return stop is not None and stop.is_set()


def raise_if_cancelled() -> None:
    if cancelled():
        raise GenerationCancelled()
