"""Near-duplicates are ordered by the text that differs; nothing else moves."""

from __future__ import annotations

import pytest

from kb.stores.payload import ChunkPayload
from retrieval.near_duplicates import prefer_matching_differences
from retrieval.types import Fused

pytestmark = pytest.mark.unit

SHARED = (
    "The supplier hosts the customer's applications. Support answers within one day. "
    "The customer pays within thirty days. Backups run every night. "
)


def _fused(chunk_id: str, document_id: int, score: float, text: str | None) -> Fused:
    payload = (
        ChunkPayload(
            chunk_id=chunk_id, document_id=document_id, collection_id=1, acl=("a",), text=text
        )
        if text is not None
        else None
    )
    return Fused(chunk_id, document_id, score, {"sparse": 1}, payload)


def _order(question: str, fused: list[Fused]) -> list[str]:
    return [c.chunk_id for c in prefer_matching_differences(question, fused)]


def test_the_near_duplicate_whose_own_text_matches_moves_up_and_scores_stay_in_place() -> None:
    fused = [
        _fused("de", 1, 0.05, SHARED + "Disputes go to the courts of Munich."),
        _fused("other", 3, 0.04, "Payroll runs on the last Friday of the month."),
        _fused("se", 2, 0.03, SHARED + "Disputes go to arbitration in Stockholm."),
    ]

    ranked = prefer_matching_differences("Where is the arbitration held?", fused)

    assert [c.chunk_id for c in ranked] == ["se", "other", "de"]
    assert [c.score for c in ranked] == [0.05, 0.04, 0.03]


def test_a_question_about_the_shared_text_keeps_the_fused_order() -> None:
    fused = [
        _fused("de", 1, 0.05, SHARED + "Disputes go to the courts of Munich."),
        _fused("se", 2, 0.04, SHARED + "Disputes go to arbitration in Stockholm."),
    ]

    assert _order("When do the backups run?", fused) == ["de", "se"]


def test_passages_that_only_share_a_sentence_are_not_near_duplicates() -> None:
    fused = [
        _fused("a", 1, 0.05, "Backups run every night. The mail server is Postfix. It scans mail."),
        _fused(
            "b", 2, 0.04, "Backups run every night. Stockholm hosts the arbitration. Fees apply."
        ),
    ]

    assert _order("Where is the arbitration held?", fused) == ["a", "b"]


def test_chunks_of_one_document_and_passages_without_text_stay_where_they_are() -> None:
    fused = [
        _fused("one", 1, 0.05, SHARED + "Disputes go to the courts of Munich."),
        _fused("graph", 5, 0.045, None),
        _fused("two", 1, 0.04, SHARED + "Disputes go to arbitration in Stockholm."),
    ]

    assert _order("Where is the arbitration held?", fused) == ["one", "graph", "two"]


def test_three_versions_are_ordered_together() -> None:
    fused = [
        _fused("v1", 1, 0.05, SHARED + "Notice is three months."),
        _fused("v2", 2, 0.04, SHARED + "Notice is thirty days, in writing."),
        _fused("v3", 3, 0.03, SHARED + "Notice is thirty days by email."),
    ]

    assert _order("Can notice be given by email within thirty days?", fused) == ["v3", "v2", "v1"]
