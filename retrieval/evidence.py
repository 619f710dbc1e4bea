"""Is there enough evidence to answer? Decided before the model is called (DESIGN.md, query
path step 4), from two signals that do not depend on the model:

- dense: the best cosine similarity between the question and a readable chunk. Strong for
  English, weak for Chinese and Russian (the default embedding model is English-only);
- coverage: the largest share of the question's index terms found in one passage. Language
  independent (stemmed / segmented exactly like the sparse index).

A question is refused only when both are low. The thresholds are calibrated on the dev set by
`python -m bench quality` (README, "Performance").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kb.text.sparse import SparseEncoder
from retrieval.types import Candidate, Passage


@dataclass(frozen=True)
class Evidence:
    dense: float
    coverage: float


@dataclass(frozen=True)
class RefusalPolicy:
    min_dense: float
    min_coverage: float

    def refuses(self, evidence: Evidence) -> bool:
        return evidence.dense < self.min_dense and evidence.coverage < self.min_coverage


NO_EVIDENCE = Evidence(dense=0.0, coverage=0.0)


def measure_evidence(
    question: str,
    *,
    dense_hits: Sequence[Candidate],
    readable_chunk_ids: set[str],
    passages: Sequence[Passage],
    encoder: SparseEncoder,
) -> Evidence:
    """`dense_hits` are the dense path's candidates; only those that passed the database
    post-check (`readable_chunk_ids`) count."""
    if not passages:
        return NO_EVIDENCE
    dense = max((h.score for h in dense_hits if h.chunk_id in readable_chunk_ids), default=0.0)
    return Evidence(dense=dense, coverage=best_coverage(question, passages, encoder))


def best_coverage(question: str, passages: Sequence[Passage], encoder: SparseEncoder) -> float:
    terms = set(encoder.encode_query(question).indices)
    if not terms:
        return 0.0
    best = 0
    for passage in passages:
        best = max(best, len(terms & set(encoder.encode_document(passage.text).indices)))
    return best / len(terms)
