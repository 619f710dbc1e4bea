"""Is there enough evidence to answer? Decided before the model is called (DESIGN.md, query
path step 4), from two signals that do not depend on the model:

- dense: the best cosine similarity between the question and a readable chunk. Strong for
  English, weak for Chinese and Russian (the default embedding model is English-only);
- coverage: the largest share of the question's index terms found in one passage. Language
  independent (stemmed / segmented exactly like the sparse index).

A question is refused only when both are low. The thresholds are calibrated on the dev set by
`python -m bench quality` (README, "Performance"), one pair for questions in Latin script and
one for the others, because the English-only embedding model puts every Chinese or Russian
question on another cosine scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kb.text.script import is_latin_script
from kb.text.sparse import SparseEncoder
from retrieval.types import Candidate, Passage


@dataclass(frozen=True)
class Evidence:
    dense: float
    coverage: float
    latin_script: bool = True  # the question's script: it picks the thresholds


@dataclass(frozen=True)
class RefusalPolicy:
    """Thresholds for Latin-script questions, and (when given) for questions in another
    script."""

    min_dense: float
    min_coverage: float
    other_min_dense: float | None = None
    other_min_coverage: float | None = None

    def thresholds(self, evidence: Evidence) -> tuple[float, float]:
        if evidence.latin_script:
            return self.min_dense, self.min_coverage
        return (
            self.min_dense if self.other_min_dense is None else self.other_min_dense,
            self.min_coverage if self.other_min_coverage is None else self.other_min_coverage,
        )

    def refuses(self, evidence: Evidence) -> bool:
        min_dense, min_coverage = self.thresholds(evidence)
        return evidence.dense < min_dense and evidence.coverage < min_coverage

    def refuses_all(self, *evidence: Evidence) -> bool:
        """Refused only when every form of the question searched (as asked, translated) is."""
        return all(self.refuses(e) for e in evidence)


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
    latin = is_latin_script(question)
    if not passages:
        return Evidence(dense=0.0, coverage=0.0, latin_script=latin)
    dense = max((h.score for h in dense_hits if h.chunk_id in readable_chunk_ids), default=0.0)
    coverage = best_coverage(question, passages, encoder)
    return Evidence(dense=dense, coverage=coverage, latin_script=latin)


def best_coverage(question: str, passages: Sequence[Passage], encoder: SparseEncoder) -> float:
    terms = set(encoder.encode_query(question).indices)
    if not terms:
        return 0.0
    best = 0
    for passage in passages:
        best = max(best, len(terms & set(encoder.encode_document(passage.text).indices)))
    return best / len(terms)
