"""Citation markers: valid numbers kept, others removed, in whole text and across a stream."""

from __future__ import annotations

import pytest

from retrieval.citations import CitationFilter

pytestmark = pytest.mark.unit


def _clean(text: str, valid: set[int]) -> tuple[str, list[int]]:
    """Whole text through the stream filter: the cleaned answer and the numbers it cites."""
    citations = CitationFilter(valid)
    return citations.feed(text) + citations.flush(), citations.cited


# fmt: skip below: a table, one case per line, that the formatter would spread out.
@pytest.mark.parametrize(
    ("text", "cleaned", "cited"),
    [
        ("Stop the server [1].", "Stop the server [1].", [1]),
        ("Both [2][1] say so.", "Both [2][1] say so.", [2, 1]),
        ("Listed [1, 3].", "Listed [1][3].", [1, 3]),
        ("Made up [7].", "Made up .", []),
        ("Mixed [1, 9].", "Mixed [1].", [1]),
        ("An array a[0] is not passage 0.", "An array a is not passage 0.", []),
        ("Plain [text] stays.", "Plain [text] stays.", []),
        ("Repeated [1] and [1].", "Repeated [1] and [1].", [1]),
    ],
    ids=["one", "adjacent", "comma-list", "unknown-removed", "partly-unknown", "zero-is-invalid",
         "not-a-number", "repeat-counted-once"],
)  # fmt: skip
def test_clean_citations(text: str, cleaned: str, cited: list[int]) -> None:
    assert _clean(text, {1, 2, 3}) == (cleaned, cited)


def test_a_marker_split_across_stream_pieces_is_checked_whole() -> None:
    citations = CitationFilter({1, 2})
    pieces = ["The WAL is replayed [", "1", "] and ", "[1", "2] is not a passage [", "2]."]

    shown = "".join(citations.feed(p) for p in pieces) + citations.flush()

    assert shown == "The WAL is replayed [1] and  is not a passage [2]."
    assert citations.cited == [1, 2]


def test_text_is_released_as_soon_as_it_cannot_be_a_marker() -> None:
    citations = CitationFilter({1})

    assert citations.feed("Restore it [") == "Restore it "
    assert citations.feed("see below]") == "[see below]"


def test_an_unclosed_bracket_is_released_at_the_end() -> None:
    citations = CitationFilter({1})

    assert citations.feed("Version [3") == "Version "
    assert citations.flush() == "[3"
