"""From unstructured's elements to ours: headings, running headers, tables, CJK OCR text."""

from __future__ import annotations

import pytest
from unstructured.documents.elements import (
    ElementMetadata,
    Footer,
    Header,
    NarrativeText,
    Table,
    Title,
)

from ingestion.parsers.elements import table_rows, to_parsed_elements
from ingestion.parsers.pdf import join_cjk
from ingestion.types import ElementKind

pytestmark = pytest.mark.unit


def _on(page: int, element):
    element.metadata = ElementMetadata(page_number=page)
    return element


def test_a_header_repeated_on_pages_is_dropped_and_a_unique_one_is_a_heading() -> None:
    raw = [
        _on(1, Header("ACME Handbook")),
        _on(1, Header("Installation")),
        _on(1, NarrativeText("Install it.")),
        _on(2, Header("ACME Handbook")),
        _on(2, NarrativeText("More text.")),
        _on(2, Footer("Page 2")),
    ]

    parsed = to_parsed_elements(raw)

    assert [(e.kind, e.text, e.section) for e in parsed] == [
        (ElementKind.TITLE, "Installation", "Installation"),
        (ElementKind.TEXT, "Install it.", "Installation"),
        (ElementKind.TEXT, "More text.", "Installation"),
    ]


def test_nested_titles_build_a_heading_path() -> None:
    chapter, section, next_chapter = Title("Chapter 1"), Title("1.1 Setup"), Title("Chapter 2")
    chapter.metadata = ElementMetadata(category_depth=0)
    section.metadata = ElementMetadata(category_depth=1)
    next_chapter.metadata = ElementMetadata(category_depth=0)

    parsed = to_parsed_elements([chapter, section, NarrativeText("Body."), next_chapter])

    assert [e.section for e in parsed] == [
        "Chapter 1",
        "Chapter 1 > 1.1 Setup",
        "Chapter 1 > 1.1 Setup",
        "Chapter 2",
    ]


def test_a_table_becomes_rows_with_its_header_first() -> None:
    table = Table("host role")
    table.metadata = ElementMetadata(
        text_as_html="<table><tr><th>host</th><th>role</th></tr><tr><td>db1</td><td>primary</td></tr></table>"
    )

    parsed = to_parsed_elements([table])

    assert parsed[0].kind == ElementKind.TABLE
    assert parsed[0].text == "host | role\ndb1 | primary"
    assert table_rows("<table><tr><td> a </td><td>b</td></tr></table>") == [["a", "b"]]


def test_spaces_between_chinese_characters_from_ocr_are_removed() -> None:
    assert join_cjk("第 三 季度 收入 。 Revenue up 12 %") == "第三季度收入。 Revenue up 12 %"
