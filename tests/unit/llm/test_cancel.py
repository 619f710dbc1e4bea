"""kb.llm.cancel: a caller's stop reaches the model through the context; an answer others wait
for too goes on when its first asker leaves."""

from __future__ import annotations

import threading

import pytest

from kb.llm.cancel import (
    GenerationCancelled,
    Stop,
    cancellable,
    cancelled,
    raise_if_cancelled,
    unless,
)

pytestmark = pytest.mark.unit


def test_nothing_is_cancelled_outside_a_cancellable_block() -> None:
    assert not cancelled()
    with unless(lambda: False):  # nothing to relax either
        assert not cancelled()


def test_a_set_stop_cancels_inside_the_block_only() -> None:
    stop = threading.Event()
    with cancellable(stop):
        assert not cancelled()
        stop.set()
        assert cancelled()
        with pytest.raises(GenerationCancelled):
            raise_if_cancelled()
    assert not cancelled()


def test_a_stop_counts_only_once_nobody_else_waits() -> None:
    stop, others = Stop(), [True]
    stop.set()
    with cancellable(stop), unless(lambda: others[0]):
        assert not cancelled()
        others[0] = False
        assert cancelled()


def test_another_threads_stop_is_not_this_ones() -> None:
    stop = threading.Event()
    stop.set()
    seen: list[bool] = []
    with cancellable(stop):
        thread = threading.Thread(target=lambda: seen.append(cancelled()))
        thread.start()
        thread.join()
    assert seen == [False]
