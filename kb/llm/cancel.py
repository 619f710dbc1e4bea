"""What a caller of the model tells it and is told while it waits: stop (the caller left),
the caller's place in the line for the model, and how long a side step may wait for it.

A streamed answer runs in a thread of its own (kb.streaming); when its client disconnects or
presses Stop, that thread's stop event is set, and while it waits for the model its place is
passed to a callback that sends it to the client. Both travel with the thread's context, as the
request id does, so the model can use them without every layer between the view and the model
passing them along.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol


class StopSignal(Protocol):
    def is_set(self) -> bool: ...


_stop: ContextVar[StopSignal | None] = ContextVar("quarry_generation_stop", default=None)
_place: ContextVar[Callable[[int], None] | None] = ContextVar("quarry_place", default=None)
_wait: ContextVar[float | None] = ContextVar("quarry_wait_limit", default=None)


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


class Stop:
    """A caller's stop: set when they leave, but not in effect while something they started
    is still wanted by others (`unless`)."""

    def __init__(self) -> None:
        self._left = threading.Event()
        self._wanted: list[Callable[[], bool]] = []

    def set(self) -> None:
        self._left.set()

    def is_set(self) -> bool:
        return self._left.is_set() and not any(wanted() for wanted in self._wanted)


@contextmanager
def unless(still_wanted: Callable[[], bool]) -> Iterator[None]:
    """Within this block, a cancellation counts only while `still_wanted()` is false: an answer
    that others wait for too goes on when its first asker leaves. Safe inside a generator: it
    changes the caller's Stop, not the context, which a generator closed later (elsewhere)
    could not restore."""
    stop = _stop.get()
    if not isinstance(stop, Stop):
        yield
        return
    stop._wanted.append(still_wanted)
    try:
        yield
    finally:
        stop._wanted.remove(still_wanted)


def cancelled() -> bool:
    stop = _stop.get()
    return stop is not None and stop.is_set()


def raise_if_cancelled() -> None:
    if cancelled():
        raise GenerationCancelled()


@contextmanager
def reporting_place(report: Callable[[int], None]) -> Iterator[None]:
    """Within this block, a caller waiting for the model hears how many questions are ahead of
    it whenever that changes, and 0 when its turn comes; it waits as long as it takes (it can
    still cancel) instead of giving up after the queue timeout."""
    token = _place.set(report)
    try:
        yield
    finally:
        _place.reset(token)


def place_reporter() -> Callable[[int], None] | None:
    return _place.get()


@contextmanager
def waiting_at_most(seconds: float) -> Iterator[None]:
    """Within this block, a request waits at most `seconds` for the model, and is told it is
    busy after that, whether or not its caller reports a place: for a side step (translating a
    question) that is worth less than a second turn in the line."""
    token = _wait.set(seconds)
    try:
        yield
    finally:
        _wait.reset(token)


def wait_limit() -> float | None:
    return _wait.get()
