"""Fusion alternatives: every weight ratio of a small ladder at several per-path limits, with
and without the script-aware dense vote, each ranked by the production Retriever over the
run's searches; the best by mean document nDCG@10, and what tuning is worth on a question it
has not seen (leave one question out)."""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.quality.corpus import Corpus
from bench.quality.metrics import document_scores
from bench.quality.search import PATHS, Asker, Outcome

# A weight per path from this ladder (proportional settings are one), and the number of
# candidates each path hands to fusion.
WEIGHT_LADDER = (0.0, 0.25, 0.5, 1.0, 2.0)
LIMIT_ALTERNATIVES = (10, 20, 30, 50)
NAMED = {
    "equal": {"dense": 1.0, "sparse": 1.0, "graph": 1.0},
    "graph_half": {"dense": 1.0, "sparse": 1.0, "graph": 0.5},
    "graph_quarter": {"dense": 1.0, "sparse": 1.0, "graph": 0.25},
    "no_graph": {"dense": 1.0, "sparse": 1.0, "graph": 0.0},
    "dense_only": {"dense": 1.0, "sparse": 0.0, "graph": 0.0},
    "sparse_only": {"dense": 0.0, "sparse": 1.0, "graph": 0.0},
    "graph_only": {"dense": 0.0, "sparse": 0.0, "graph": 1.0},
}
Json = dict[str, Any]
Scores = Sequence[tuple[float, float]]  # (nDCG@10, recall@5) per question


def parse_weights(text: str) -> dict[str, float]:
    """ "dense=1,sparse=1,graph=0" -> a weight per path (a path left out weighs 0)."""
    weights = dict.fromkeys(PATHS, 0.0)
    for part in text.split(","):
        name, _, value = part.partition("=")
        if name.strip() not in weights:
            raise argparse.ArgumentTypeError(f"unknown path {name!r}: use {', '.join(PATHS)}")
        weights[name.strip()] = float(value)
    return weights


def weight_grid() -> list[dict[str, float]]:
    """Every weight triple from the ladder, once per ratio (RRF ranks do not change when all
    weights are scaled) and scaled so the largest weight is 1, at least one path on."""
    seen: set[tuple[float, ...]] = set()
    grid = []
    for triple in itertools.product(WEIGHT_LADDER, repeat=len(PATHS)):
        top = max(triple)
        if top == 0:
            continue
        ratio = tuple(round(w / top, 4) for w in triple)
        if ratio not in seen:
            seen.add(ratio)
            grid.append(dict(zip(PATHS, ratio, strict=True)))
    return grid


@dataclass(frozen=True)
class Setup:
    """One fusion alternative: weights (scaled so the largest is 1), candidates per path, and
    whether questions not in Latin script get no dense vote."""

    weights: dict[str, float]
    limit: int
    script_aware: bool

    def row(self, scores: Scores) -> Json:
        return {
            "weights": self.weights,
            "limit": self.limit,
            "script_aware": self.script_aware,
            **means(scores),
        }


def fused_doc_scores(
    outcomes: Sequence[Outcome], corpus: Corpus, setup: Setup, ask: Asker
) -> list[tuple[float, float]]:
    """(nDCG@10, recall@5) at document level per question, ranked by the production Retriever
    with this set-up's weights, per-path limit and script rule."""
    retriever = ask.retriever(setup.weights, limit=setup.limit, script_aware=setup.script_aware)
    return [
        document_scores(o.question, ask.ranking(o.question, retriever), corpus) for o in outcomes
    ]


def fusion_alternatives(
    outcomes: Sequence[Outcome], corpus: Corpus, ask: Asker, *, limit: int
) -> Json:
    """Every weight ratio of the grid at every per-path limit, script-aware or not; the best
    by mean nDCG@10 (ties: recall@5, then the fewest departures from equal weights, the largest
    limit). The leave-one-question-out score re-selects without each question and scores it
    with the winner: what tuning is worth on a question it has not seen."""
    setups = [
        Setup(weights, size, aware)
        for aware in (False, True)
        for weights in weight_grid()
        for size in LIMIT_ALTERNATIVES
        if size <= limit
    ]
    table = [fused_doc_scores(outcomes, corpus, setup, ask) for setup in setups]
    families = {
        "any": list(range(len(setups))),
        "plain": [i for i, s in enumerate(setups) if not s.script_aware],
        "script_aware": [i for i, s in enumerate(setups) if s.script_aware],
    }
    return {
        "grid": {
            "weights": list(WEIGHT_LADDER),
            "limits": list(LIMIT_ALTERNATIVES),
            "setups": len(setups),
        },
        "best": {
            name: {
                **setups[_select(setups, table, members)].row(
                    table[_select(setups, table, members)]
                ),
                "leave_one_out": means(_held_out(setups, table, members)),
            }
            for name, members in families.items()
        },
        "top": [
            setups[i].row(table[i])
            for i in sorted(families["any"], key=lambda i: _key(setups[i], table[i]))[-15:][::-1]
        ],
        "named": {
            f"{name}{'+script_aware' if setup.script_aware else ''}": setup.row(scores)
            for name, wanted in NAMED.items()
            for setup, scores in zip(setups, table, strict=True)
            if _same_ratio(setup.weights, wanted) and setup.limit == limit
        },
    }


def _key(setup: Setup, rows: Scores) -> tuple[float, ...]:
    departures = sum(w != 1.0 for w in setup.weights.values())
    ndcg = statistics.fmean(r[0] for r in rows) if rows else 0.0
    recall = statistics.fmean(r[1] for r in rows) if rows else 0.0
    return (round(ndcg, 6), round(recall, 6), -departures, setup.limit)


def _select(
    setups: Sequence[Setup],
    table: Sequence[Scores],
    members: Sequence[int],
    *,
    without: int | None = None,
) -> int:
    def key(i: int) -> tuple[float, ...]:
        return _key(setups[i], [r for j, r in enumerate(table[i]) if j != without])

    return max(members, key=key)


def _held_out(
    setups: Sequence[Setup], table: Sequence[Scores], members: Sequence[int]
) -> list[tuple[float, float]]:
    questions = len(table[0]) if table else 0
    return [table[_select(setups, table, members, without=q)][q] for q in range(questions)]


def _same_ratio(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    top_a, top_b = max(a.values()), max(b.values())
    return all(math.isclose(a[p] / top_a, b[p] / top_b) for p in PATHS)


def means(rows: Scores) -> dict[str, float]:
    return {
        "doc_ndcg@10": round(statistics.fmean(r[0] for r in rows), 3) if rows else 0.0,
        "doc_recall@5": round(statistics.fmean(r[1] for r in rows), 3) if rows else 0.0,
    }
