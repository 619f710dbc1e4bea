"""The ranking metrics of bench/common and the relevance and refusal rules of
`python -m bench quality`, against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from bench.common.metrics import (
    first_occurrences,
    first_rank,
    mean,
    ndcg_at_k,
    nearest_rank,
    recall_at_k,
    reciprocal_rank,
)
from bench.quality.corpus import any_edition
from bench.quality.metrics import section_matches
from bench.quality.refusal import candidate_thresholds, refusal_rates

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("ranked", "relevant", "k", "expected"),
    [
        pytest.param(["a", "b", "c"], {"b"}, 5, 1.0, id="found-within-k"),
        pytest.param(["a", "b", "c"], {"c"}, 2, 0.0, id="found-after-k"),
        pytest.param(["a", "b", "c"], {"a", "z"}, 5, 0.5, id="one-of-two-gold"),
        pytest.param(["a", "a", "a", "b"], {"b"}, 2, 1.0, id="duplicates-count-once"),
        pytest.param([], {"a"}, 5, 0.0, id="empty-ranking"),
        pytest.param(["a"], set(), 5, 0.0, id="no-gold"),
    ],
)
def test_recall_at_k(ranked, relevant, k, expected):
    assert recall_at_k(ranked, relevant, k) == expected


@pytest.mark.parametrize(
    ("ranked", "relevant", "k", "expected"),
    [
        pytest.param(["g", "x", "y"], {"g"}, 10, 1.0, id="gold-first"),
        # DCG = 1/log2(3) = 0.6309; ideal = 1.
        pytest.param(["x", "g", "y"], {"g"}, 10, 1 / math.log2(3), id="gold-second"),
        # DCG = 1/log2(2) + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3) = 1.6309.
        pytest.param(["g1", "x", "g2"], {"g1", "g2"}, 10, 1.5 / (1 + 1 / math.log2(3)), id="two"),
        # Deduplicated: x, g -> g at rank 2.
        pytest.param(["x", "x", "g"], {"g"}, 10, 1 / math.log2(3), id="dedupe-before-rank"),
        pytest.param(["x", "y", "g"], {"g"}, 2, 0.0, id="gold-beyond-k"),
        # Ideal DCG is cut at k: 2 gold, k = 1 -> ideal 1; DCG 1.
        pytest.param(["g1", "g2"], {"g1", "g2"}, 1, 1.0, id="ideal-cut-at-k"),
        pytest.param(["x"], set(), 10, 0.0, id="no-gold"),
    ],
)
def test_ndcg_at_k(ranked, relevant, k, expected):
    assert ndcg_at_k(ranked, relevant, k) == pytest.approx(expected)


def test_first_rank_and_reciprocal_rank_count_distinct_units():
    ranked = ["x", "x", "y", "g", "g"]
    assert first_rank(ranked, {"g"}) == 3
    assert reciprocal_rank(ranked, {"g"}) == pytest.approx(1 / 3)
    assert first_rank(ranked, {"z"}) is None
    assert reciprocal_rank(ranked, {"z"}) == 0.0


@pytest.mark.parametrize(
    ("chunk_section", "gold", "expected"),
    [
        pytest.param("9.7. Cron > 9.7.1. Format", "9.7.1. Format", True, id="deepest"),
        pytest.param("9.7. Cron > 9.7.1. Format", "9.7. Cron", False, id="parent-is-not-child"),
        pytest.param("21.1. pg_hba.conf > Note", "21.1. pg_hba.conf", True, id="admonition"),
        pytest.param("Parameters", "  parameters ", True, id="case-and-space"),
        pytest.param("", "Parameters", False, id="no-section"),
    ],
)
def test_section_matches(chunk_section, gold, expected):
    assert section_matches(chunk_section, gold) is expected


def test_candidate_thresholds_are_midpoints_and_outer_bounds():
    assert candidate_thresholds([0.2, 0.6, 0.2]) == [0.19, 0.4, 0.61]


def test_refusal_rates_refuse_only_when_both_signals_are_low():
    samples = [
        (((0.9, 0.1),), True),  # strong dense: answered
        (((0.1, 0.9),), True),  # strong coverage: answered
        (((0.1, 0.1),), True),  # both weak: falsely refused
        (((0.1, 0.1),), False),  # correctly refused
        (((0.9, 0.1),), False),  # falsely answered
        (((0.1, 0.1), (0.1, 0.9)), True),  # weak as asked, strong in translation: answered
    ]
    rates = refusal_rates(samples, (0.5, 0.5))
    assert rates["false_refusals"] == 1
    assert rates["false_refusal_rate"] == pytest.approx(1 / 4, abs=1e-3)
    assert rates["false_answers"] == 1
    assert rates["false_answer_rate"] == 0.5


def test_any_edition_merges_handbook_translations_only():
    assert any_edition("debian-handbook/zh-CN/sect.quotas.html") == any_edition(
        "debian-handbook/en-US/sect.quotas.html"
    )
    assert any_edition("postgresql-doc-15/sql-copy.html") == "postgresql-doc-15/sql-copy.html"


def test_first_occurrences_keep_the_first_position_of_each_unit():
    assert first_occurrences(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]


def test_mean_of_nothing_is_zero():
    assert mean([1.0, 2.0, 6.0]) == 3.0
    assert mean([]) == 0.0


# The load test's rule as its figures were always computed: the sample at rank
# round(q / 100 * n + 0.5), Python's round (half to even), so p50 of ten samples is the 6th.
@pytest.mark.parametrize(
    ("q", "expected"),
    [
        pytest.param(50, 6.0, id="p50"),
        pytest.param(95, 10.0, id="p95-the-last"),
        pytest.param(99, 10.0, id="p99-never-past-the-last"),
        pytest.param(10, 2.0, id="p10"),
    ],
)
def test_nearest_rank_picks_an_observed_sample(q, expected):
    ordered = [float(v) for v in range(1, 11)]

    assert nearest_rank(ordered, q) == expected
