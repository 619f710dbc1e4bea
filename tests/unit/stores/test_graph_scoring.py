"""Graph ranking shared by both adapters: specificity and the traversal's caps."""

from __future__ import annotations

import pytest

from kb.stores.graph_scoring import PathRow, path_score, rank_paths, specificity
from kb.stores.graph_traversal import TraversalLimits

pytestmark = pytest.mark.unit


def test_specificity_is_one_for_a_single_mention_and_falls_with_more() -> None:
    values = [specificity(m, 10_000) for m in (1, 10, 100, 1_000, 10_000)]

    assert values[0] == pytest.approx(1.0)
    assert values == sorted(values, reverse=True)
    assert 0 < values[-1] < 0.01


@pytest.mark.parametrize(("mentions", "total"), [(0, 0), (1, 0), (5, 3), (1, 1)])
def test_specificity_stays_in_range_for_odd_counts(mentions: int, total: int) -> None:
    assert 0 < specificity(mentions, total) <= 1.0


def test_paths_through_specific_entities_rank_first() -> None:
    rows = [
        PathRow("common", 1, ("pg",), specificity=specificity(3_000, 10_000)),
        PathRow("rare", 2, ("wal", "pg"), (4.0,), specificity=specificity(20, 10_000)),
    ]

    ranked = rank_paths(rows, limit=10)

    assert [hit.chunk_id for hit in ranked] == ["rare", "common"]
    assert ranked[0].score == pytest.approx(path_score([4.0], specificity=specificity(20, 10_000)))


# fmt: skip below: a table, one case per line, that the formatter would spread out.
@pytest.mark.parametrize(
    ("total", "cap"), [(0, 50), (1_000, 50), (10_000, 100), (100_000, 200)],
    ids=["empty", "small-floor", "share", "ceiling"],
)  # fmt: skip
def test_common_cap_is_a_share_of_the_chunks_between_floor_and_ceiling(
    total: int, cap: int
) -> None:
    assert TraversalLimits().common_cap(total) == cap
