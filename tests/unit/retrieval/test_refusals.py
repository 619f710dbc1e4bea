"""What a refusal says: the closest sources, one per section, in the question's language."""

from __future__ import annotations

import pytest

from retrieval.answer_checks import check_answer
from retrieval.refusals import NOT_FOUND, closest_sources, refusal_text
from retrieval.types import Passage


def _passage(n: int, document_id: int, section: str, title: str = "Admin guide") -> Passage:
    return Passage(n, f"c{n}", document_id, title, None, section, f"text {n}", 1.0 / n, ())


def test_the_closest_sources_are_the_best_ranked_distinct_sections() -> None:
    passages = [
        _passage(1, 1, "Backups"),
        _passage(2, 1, "Backups"),  # the same section again
        _passage(3, 2, "Backups", title="Ops handbook"),  # same name, another document
        _passage(4, 1, "Restores"),
        _passage(5, 3, "Monitoring"),
    ]

    assert [p.n for p in closest_sources(passages)] == [1, 3, 4]


@pytest.mark.parametrize(
    ("question", "start", "item"),
    [
        ("Are backups encrypted?", NOT_FOUND, "“Backups” in Admin guide"),
        ("备份加密了吗？", "知识库中没有找到答案。", "《Admin guide》中的“Backups”"),
        ("Резервные копии шифруются?", "В базе знаний ответа нет.", "«Backups» в Admin guide"),
    ],
)
def test_a_refusal_names_what_was_found_in_the_questions_language(
    question: str, start: str, item: str
) -> None:
    text = refusal_text(question, [_passage(1, 1, "Backups")])

    assert text.startswith(start)
    assert item in text


def test_with_nothing_found_the_refusal_is_the_stock_sentence() -> None:
    assert refusal_text("Are backups encrypted?", []) == NOT_FOUND


def test_an_answer_without_any_supported_sentence_is_flagged() -> None:
    passages = [Passage(1, "c1", 1, "Guide", None, "Backups", "Backups are kept 35 days.", 1, ())]

    invented = check_answer(
        "Backups are encrypted with AES-256 by the vault [1].", cited=passages, passages=passages
    )
    partly = check_answer(
        "Backups are kept for 35 days [1]. They are encrypted with AES-256 by the vault [1].",
        cited=passages,
        passages=passages,
    )

    assert invented.nothing_supported
    assert not partly.nothing_supported
    assert [c.supported for c in partly.claims] == [True, False]
