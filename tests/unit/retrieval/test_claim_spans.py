"""Where each checked sentence stands in its answer (retrieval.answer_checks.claim_spans): the
offsets the chat marks an unverified sentence at, and the only trace of it a saved turn keeps."""

from __future__ import annotations

import pytest

from retrieval.answer_checks import Claim, claim_spans, unverified_spans

pytestmark = pytest.mark.unit


def claim(text: str, supported: bool = False) -> Claim:
    return Claim(text, supported, (1,))


def test_sentences_are_found_in_order_where_they_stand() -> None:
    text = "Backups run nightly [1]. They are kept 35 days [1]."

    spans = claim_spans(
        text, [claim("Backups run nightly [1]."), claim("They are kept 35 days [1].")]
    )

    assert spans == [(0, 24), (25, 51)]


@pytest.mark.parametrize(
    ("text", "claims", "expected"),
    [
        (
            "Kept 35 days [1]. Run nightly [1].",
            ["Run nightly [1].", "Kept 35 days [1]."],
            [(18, 34), (0, 17)],
        ),
        (
            "Run nightly [1]. Run nightly [1].",
            ["Run nightly [1].", "Run nightly [1]."],
            [(0, 16), (17, 33)],
        ),
        ("Run\n  nightly [1].", ["Run nightly [1]."], [(0, 18)]),
        ("Run nightly [1].", ["Kept 35 days [1].", "   "], [None, None]),
    ],
    ids=["out-of-order", "repeated", "white-space-differs", "not-there"],
)
def test_a_sentence_is_found_however_it_was_given(
    text: str, claims: list[str], expected: list[tuple[int, int] | None]
) -> None:
    assert claim_spans(text, [claim(c) for c in claims]) == expected


def test_only_unsupported_sentences_are_unverified_and_by_code_points() -> None:
    text = "备份 😀 每晚运行 [1]。 They are kept 35 days [1]."
    claims = [claim("备份 😀 每晚运行 [1]。", supported=True), claim("They are kept 35 days [1].")]

    (span,) = unverified_spans(text, claims)

    assert text[span[0] : span[1]] == "They are kept 35 days [1]." and span[0] == 15
