"""Refusal evidence: dense similarity of readable hits and question-term coverage."""

from __future__ import annotations

import pytest

from kb.text.sparse import SparseEncoder
from retrieval.evidence import NO_EVIDENCE, Evidence, RefusalPolicy, measure_evidence
from retrieval.types import Candidate, Passage

pytestmark = pytest.mark.unit


def _passage(chunk_id: str, text: str) -> Passage:
    return Passage(
        n=1,
        chunk_id=chunk_id,
        document_id=1,
        title="t",
        page=None,
        section="",
        text=text,
        score=0.1,
        paths=("sparse",),
    )


def test_coverage_is_the_share_of_question_terms_in_the_best_passage() -> None:
    evidence = measure_evidence(
        "How are PostgreSQL backups restored?",  # terms: postgresql, backup, restor
        dense_hits=[],
        readable_chunk_ids=set(),
        passages=[
            _passage("a", "Backups are taken nightly."),
            _passage("b", "Restoring a PostgreSQL backup takes an hour."),
        ],
        encoder=SparseEncoder(),
    )

    assert evidence == Evidence(dense=0.0, coverage=1.0)


def test_dense_evidence_counts_only_hits_that_passed_the_post_check() -> None:
    hits = [Candidate("secret", 2, 0.9), Candidate("mine", 1, 0.4)]

    evidence = measure_evidence(
        "backups",
        dense_hits=hits,
        readable_chunk_ids={"mine"},
        passages=[_passage("mine", "x")],
        encoder=SparseEncoder(),
    )

    assert evidence.dense == 0.4


def test_no_passages_is_no_evidence() -> None:
    assert (
        measure_evidence(
            "q",
            dense_hits=[Candidate("a", 1, 0.9)],
            readable_chunk_ids={"a"},
            passages=[],
            encoder=SparseEncoder(),
        )
        == NO_EVIDENCE
    )


@pytest.mark.parametrize(
    ("evidence", "refused"),
    [(Evidence(0.1, 0.2), True), (Evidence(0.5, 0.2), False), (Evidence(0.1, 0.8), False)],
    ids=["both-low", "dense-enough", "coverage-enough"],
)
def test_refusal_needs_both_signals_low(evidence: Evidence, refused: bool) -> None:
    assert RefusalPolicy(min_dense=0.35, min_coverage=0.6).refuses(evidence) is refused


def test_questions_in_another_script_are_judged_by_their_own_thresholds() -> None:
    policy = RefusalPolicy(
        min_dense=0.41, min_coverage=0.61, other_min_dense=0.56, other_min_coverage=0.43
    )
    latin, other = Evidence(0.5, 0.2, latin_script=True), Evidence(0.5, 0.2, latin_script=False)

    assert not policy.refuses(latin)
    assert policy.refuses(other)
    assert not RefusalPolicy(min_dense=0.41, min_coverage=0.61).refuses(other)


def test_the_evidence_knows_the_questions_script() -> None:
    passages = [_passage("a", "备份 PostgreSQL")]
    found = measure_evidence(
        "如何备份数据库？",
        dense_hits=[],
        readable_chunk_ids=set(),
        passages=passages,
        encoder=SparseEncoder(),
    )

    assert found.latin_script is False


def test_a_question_searched_in_translation_too_is_refused_only_when_both_forms_are() -> None:
    policy = RefusalPolicy(min_dense=0.4, min_coverage=0.6, other_min_dense=0.5)
    asked = Evidence(dense=0.45, coverage=0.1, latin_script=False)  # weak in its own script
    english = Evidence(dense=0.42, coverage=0.1)  # enough in English

    assert policy.refuses(asked) and not policy.refuses_all(asked, english)
    assert policy.refuses_all(asked, Evidence(dense=0.1, coverage=0.1))
    assert policy.refuses_all(asked)  # not translated: as asked
