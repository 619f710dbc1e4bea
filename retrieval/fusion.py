"""Reciprocal rank fusion with a weight per path: scores of different paths are not
comparable, ranks are."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from retrieval.types import Candidate, Fused

RRF_K = 60  # the constant from Cormack et al.; damps the advantage of the very top ranks


def rrf_fuse(
    paths: Mapping[str, Sequence[Candidate]],
    *,
    weights: Mapping[str, float] | None = None,
    k: int = RRF_K,
    limit: int | None = None,
) -> list[Fused]:
    """Sum over paths of weight / (k + rank); ties broken by chunk id so results are stable.
    A path missing from `weights` counts with weight 1."""
    scores: dict[str, float] = {}
    ranks: dict[str, dict[str, int]] = {}
    first: dict[str, Candidate] = {}
    for path, candidates in paths.items():
        weight = (weights or {}).get(path, 1.0)
        for rank, candidate in enumerate(_unique(candidates), start=1):
            scores[candidate.chunk_id] = scores.get(candidate.chunk_id, 0.0) + weight / (k + rank)
            ranks.setdefault(candidate.chunk_id, {})[path] = rank
            if candidate.payload is not None or candidate.chunk_id not in first:
                first[candidate.chunk_id] = candidate  # keep a candidate that has the payload
    order = sorted(scores, key=lambda cid: (-scores[cid], cid))[:limit]
    return [
        Fused(cid, first[cid].document_id, scores[cid], ranks[cid], first[cid].payload)
        for cid in order
    ]


def _unique(candidates: Sequence[Candidate]) -> list[Candidate]:
    """A path's own duplicates count once, at their best rank."""
    seen: set[str] = set()
    unique = []
    for candidate in candidates:
        if candidate.chunk_id not in seen:
            seen.add(candidate.chunk_id)
            unique.append(candidate)
    return unique
