"""Figures more than one benchmark computes: ranking metrics over distinct units, and
percentiles of timings.

Rankings are lists of unit labels (a document, a document#section ...) per retrieved chunk, best
first; a unit counts once, at its first chunk. Relevance is binary.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
PERCENTILES = (50, 95, 99)


def first_occurrences(items: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(items))


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Share of the relevant units among the first k distinct units (0 when none is relevant)."""
    if not relevant:
        return 0.0
    top = set(first_occurrences(ranked)[:k])
    return len(top & set(relevant)) / len(set(relevant))


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Binary-gain nDCG over the first k distinct units; the ideal ranks every relevant unit
    first."""
    wanted = set(relevant)
    if not wanted:
        return 0.0
    gains = [unit in wanted for unit in first_occurrences(ranked)[:k]]
    dcg = sum(1.0 / math.log2(rank + 2) for rank, hit in enumerate(gains) if hit)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(k, len(wanted))))
    return dcg / ideal


def first_rank(ranked: Sequence[str], relevant: Collection[str]) -> int | None:
    """1-based rank of the first relevant distinct unit, None when there is none."""
    wanted = set(relevant)
    for rank, unit in enumerate(first_occurrences(ranked), start=1):
        if unit in wanted:
            return rank
    return None


def reciprocal_rank(ranked: Sequence[str], relevant: Collection[str]) -> float:
    rank = first_rank(ranked, relevant)
    return 1.0 / rank if rank else 0.0


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def percentiles(values: Sequence[float]) -> dict[str, Any]:
    """Count, p50 / p95 / p99 (linear interpolation between samples, numpy's default) and
    mean: the latency benchmark's timings."""
    import numpy as np

    if not values:
        return {"n": 0}
    p50, p95, p99 = (float(v) for v in np.percentile(values, PERCENTILES))
    return {
        "n": len(values),
        "p50": round(p50, 2),
        "p95": round(p95, 2),
        "p99": round(p99, 2),
        "mean": round(float(np.mean(values)), 2),
    }


def nearest_rank(ordered: Sequence[float], q: float) -> float:
    """The q-th percentile of sorted samples by the nearest-rank rule (always an observed
    value, rounded to ms): the load test's request times, few and coarse."""
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[index], 3)
