"""Experiment splits: stable per pseudonym and close to the configured shares."""

from __future__ import annotations

from collections import Counter

import pytest

from retrieval.experiments import parse_split, variant_for

pytestmark = pytest.mark.unit


def test_a_split_parses_in_order() -> None:
    assert parse_split(" answer-v1=70, answer-v2=30 ") == {"answer-v1": 70, "answer-v2": 30}
    assert parse_split("") == {}


@pytest.mark.parametrize("spec", ["answer-v1", "answer-v1=x", "=50", "a=0,b=0"])
def test_malformed_splits_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_split(spec)


def test_the_same_person_always_gets_the_same_variant() -> None:
    split = {"answer-v1": 50, "answer-v2": 50}
    assert {variant_for("p-1", split, default="x") for _ in range(5)} == {
        variant_for("p-1", split, default="x")
    }


def test_traffic_follows_the_shares() -> None:
    split = {"answer-v1": 80, "answer-v2": 20}

    counts = Counter(variant_for(f"pseudonym-{i}", split, default="x") for i in range(5000))

    assert 0.77 < counts["answer-v1"] / 5000 < 0.83
    assert set(counts) == {"answer-v1", "answer-v2"}
