"""What the Qdrant server and Qdrant Edge adapters share, kept free of either library's types.

Both adapters must filter, fuse and report hits identically, or the conformance suite would
pass on one flavour and fail on the other. Each adapter only translates these plain values
into its own library's request classes.

Sparse scores are BM25 with the IDF computed over the caller's scope, never over the whole
index: Qdrant's IDF modifier counts every point, so the order of a caller's own chunks would
tell whether chunks they cannot read hold a term (issue 11). The sparse vector is therefore
stored without a modifier, and each query's unit weights are multiplied here by the IDF among
the readable chunks (`scoped_query`), from per-term counts the adapter takes under the same
scope filter as the search itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from kb.stores.types import AccessScope, SparseVector, VectorHit

DENSE = "dense"
SPARSE = "sparse"
ACL = "acl"
COLLECTION_ID = "collection_id"
DOCUMENT_ID = "document_id"
KEYWORD_FIELDS = (ACL,)
INTEGER_FIELDS = (COLLECTION_ID, DOCUMENT_ID)
# Qdrant's own default RRF constant; Edge is given it explicitly so both rank alike.
RRF_K = 2

MatchAnyValues = list[int] | list[str]
QueryVector = Sequence[float] | SparseVector


def scope_conditions(scope: AccessScope) -> list[tuple[str, MatchAnyValues]]:
    """The (field, any-of values) pairs that must ALL hold for a point to be readable."""
    return [
        (COLLECTION_ID, [int(c) for c in scope.collection_ids]),
        (ACL, [str(a) for a in scope.acl]),
    ]


def prefetch_limit(limit: int) -> int:
    """Candidates per path before fusion: enough depth that RRF sees overlap between paths."""
    return max(limit * 4, 50)


def bm25_idf(frequency: int, total: int) -> float:
    """Qdrant's IDF modifier formula (Lucene's BM25 IDF), so scores keep the scale the
    modifier gave them; `total` and `frequency` count readable chunks only."""
    return math.log(1.0 + (total - frequency + 0.5) / (frequency + 0.5))


def scoped_query(sparse: SparseVector, *, total: int, frequencies: Sequence[int]) -> SparseVector:
    """The query's weights times each term's IDF among the `total` readable chunks, where
    `frequencies` counts, term by term, the readable chunks holding it. A term no readable
    chunk holds is dropped: it could only ever score a chunk the caller may not see."""
    indices: list[int] = []
    values: list[float] = []
    for index, value, count in zip(sparse.indices, sparse.values, frequencies, strict=True):
        if count > 0:
            indices.append(int(index))
            values.append(float(value) * bm25_idf(count, total))
    return SparseVector(indices=indices, values=values)


def one_term_queries(sparse: SparseVector) -> list[SparseVector]:
    """One query per term: searched under the scope filter with a limit of every readable
    chunk, each returns exactly the readable chunks holding its term (a chunk without the
    term never matches a sparse query), so its length is the term's document frequency."""
    return single_terms(sparse.indices)


def single_terms(terms: Sequence[int]) -> list[SparseVector]:
    """One query per term index (`held_terms`): a point matches only when it holds the term."""
    return [SparseVector(indices=[int(term)], values=[1.0]) for term in terms]


def has_terms(sparse: SparseVector | None) -> bool:
    """A sparse vector without entries matches nothing, so its path is skipped, not sent."""
    return sparse is not None and len(sparse.indices) > 0


def query_paths(
    dense: Sequence[float] | None, sparse: SparseVector | None
) -> list[tuple[str, QueryVector]]:
    """The named vectors worth searching: one path is queried alone, two are fused."""
    paths: list[tuple[str, QueryVector]] = []
    if dense is not None and len(dense) > 0:
        paths.append((DENSE, [float(x) for x in dense]))
    if sparse is not None and has_terms(sparse):
        paths.append((SPARSE, sparse))
    return paths


def to_hit(point_id: object, score: float, payload: Mapping[str, Any] | None) -> VectorHit:
    """Edge returns UUID objects and the client strings; callers always get strings."""
    return VectorHit(id=str(point_id), score=float(score), payload=dict(payload or {}))
