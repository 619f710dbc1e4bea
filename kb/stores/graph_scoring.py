"""Ranking of graph neighbourhood rows, shared by every GraphStore adapter.

The traversal (`kb.stores.graph_traversal`) turns a question's seed entities into one row per
path from a seed to a readable chunk; ranking happens here so that the embedded engine and
Neo4j order the same graph the same way.

A path of `h` relation steps scores ``DECAY**h * prod(w / (1 + w)) * prod(specificity)``: its
edge weights (a direct mention has none) and how specific each entity on it is. Specificity is
an IDF over chunk mentions, scaled so that an entity mentioned by one chunk counts 1.0 and one
mentioned everywhere counts almost nothing: a page full of common entities ("postgresql",
"package") no longer outranks one naming the rare entity the question is about. A chunk's
score is the sum over its paths: a chunk that mentions several seeds, or is reached along
several strong edges, ranks first.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kb.stores.types import GraphHit

DECAY = 0.5


@dataclass(frozen=True)
class PathRow:
    """One path: `keys` runs from the seed to the entity the chunk mentions, `weights` holds
    the relation weight of each step (empty for a direct mention), `specificity` the product of
    the specificity of the entities on it."""

    chunk_id: str
    document_id: int
    keys: tuple[str, ...]
    weights: tuple[float, ...] = ()
    specificity: float = 1.0


def specificity(mentions: int, total: int) -> float:
    """BM25's IDF of an entity mentioned by `mentions` of `total` chunks, divided by the IDF of
    an entity mentioned once: in (0, 1], never 0, so a common entity still ranks its chunks."""
    total = max(total, mentions, 1)
    return _idf(max(mentions, 1), total) / _idf(1, total)


def _idf(mentions: int, total: int) -> float:
    return math.log(1.0 + (total - mentions + 0.5) / (mentions + 0.5))


def edge_factor(weight: float) -> float:
    """Squash an edge weight (a sum over supporting chunks, unbounded) into [0, 1)."""
    weight = max(weight, 0.0)
    return weight / (1.0 + weight)


def path_score(
    weights: Sequence[float], *, specificity: float = 1.0, decay: float = DECAY
) -> float:
    return decay ** len(weights) * math.prod(edge_factor(w) for w in weights) * specificity


def rank_paths(rows: Iterable[PathRow], *, limit: int, decay: float = DECAY) -> list[GraphHit]:
    """Sum path scores per chunk; the hit's entity keys are listed from its best path on."""
    scores: dict[str, float] = defaultdict(float)
    documents: dict[str, int] = {}
    paths: dict[str, list[tuple[float, tuple[str, ...]]]] = defaultdict(list)
    for row in rows:
        score = path_score(row.weights, specificity=row.specificity, decay=decay)
        scores[row.chunk_id] += score
        documents[row.chunk_id] = row.document_id
        paths[row.chunk_id].append((score, row.keys))
    ranked = sorted(scores, key=lambda chunk_id: (-scores[chunk_id], chunk_id))[: max(limit, 0)]
    return [
        GraphHit(
            chunk_id=chunk_id,
            document_id=documents[chunk_id],
            score=scores[chunk_id],
            entity_keys=_keys_best_first(paths[chunk_id]),
        )
        for chunk_id in ranked
    ]


def _keys_best_first(paths: list[tuple[float, tuple[str, ...]]]) -> tuple[str, ...]:
    ordered = sorted(paths, key=lambda path: (-path[0], path[1]))
    return tuple(dict.fromkeys(key for _, keys in ordered for key in keys))
