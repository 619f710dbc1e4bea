"""Identical questions at the same moment: the first computes, the others wait for it."""

from __future__ import annotations

import threading
import time

import pytest

from kb.answer_cache import SingleFlight

pytestmark = pytest.mark.unit


def test_the_second_caller_waits_for_the_first_and_knows_it() -> None:
    flight = SingleFlight()
    order: list[str] = []

    def second() -> None:
        with flight.hold("q", timeout=5) as first:
            order.append(f"second first={first}")

    with flight.hold("q", timeout=5) as first:
        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.2)
        order.append(f"first first={first}")
    waiter.join(5)

    assert order == ["first first=True", "second first=False"]


def test_different_questions_do_not_wait_for_each_other() -> None:
    flight = SingleFlight()
    with flight.hold("a", timeout=5), flight.hold("b", timeout=0.01) as first:
        assert first is True


def test_a_waiter_gives_up_after_its_timeout_and_goes_ahead() -> None:
    flight = SingleFlight()
    with flight.hold("q", timeout=5):
        result: list[bool] = []
        waiter = threading.Thread(target=lambda: result.append(_enter(flight)), daemon=True)
        waiter.start()
        waiter.join(5)
    assert result == [False]
    assert flight._locks == {}  # nothing left behind


def _enter(flight: SingleFlight) -> bool:
    with flight.hold("q", timeout=0.05) as first:
        return first


def test_others_waiting_counts_everyone_but_the_first() -> None:
    flight = SingleFlight()
    seen: list[bool] = []

    def second() -> None:
        with flight.hold("q", timeout=5):
            pass

    with flight.hold("q", timeout=5):
        seen.append(flight.others_waiting("q"))
        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.2)
        seen.append(flight.others_waiting("q"))
    waiter.join(5)

    assert seen == [False, True]
    assert not flight.others_waiting("q")
