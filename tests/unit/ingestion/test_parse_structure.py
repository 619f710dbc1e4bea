"""HTML and DOCX structure comes from tags and styles: no spaCy, no language detection."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import pytest
from unstructured.nlp import tokenize
from unstructured.partition.common import lang

from ingestion.parsers.registry import parse_document
from ingestion.types import ElementKind
from tests.support import samples

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def no_nlp(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every spaCy call of unstructured goes through `_process`, every language guess through
    `detect_langs`: both fail the test."""

    def refuse(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("the parser asked spaCy or langdetect")

    monkeypatch.setattr(tokenize, "_process", refuse)
    monkeypatch.setattr(lang, "detect_langs", refuse)


def test_html_headings_lists_and_paragraphs_keep_their_kinds(tmp_path: Path) -> None:
    page = tmp_path / "mail.html"
    page.write_text(
        "<html><body><h1>Mail server</h1><p>Postfix delivers mail for the company.</p>"
        "<h2>Spam filtering</h2><p>Short line</p><ul><li>SpamAssassin</li><li>Amavis</li></ul>"
        "<p>Почтовый сервер принимает письма на порту 25.</p></body></html>",
        encoding="utf-8",
    )

    parsed = parse_document(page, filename=page.name)

    assert [(e.kind, e.text, e.section) for e in parsed.elements] == [
        (ElementKind.TITLE, "Mail server", "Mail server"),
        (ElementKind.TEXT, "Postfix delivers mail for the company.", "Mail server"),
        (ElementKind.TITLE, "Spam filtering", "Mail server > Spam filtering"),
        (ElementKind.TEXT, "Short line", "Mail server > Spam filtering"),
        (ElementKind.LIST, "SpamAssassin", "Mail server > Spam filtering"),
        (ElementKind.LIST, "Amavis", "Mail server > Spam filtering"),
        (
            ElementKind.TEXT,
            "Почтовый сервер принимает письма на порту 25.",
            "Mail server > Spam filtering",
        ),
    ]


def test_docx_headings_come_from_styles(tmp_path: Path) -> None:
    parsed = parse_document(samples.docx(tmp_path / "policy.docx"), filename="policy.docx")

    assert [(e.kind, e.section) for e in parsed.elements] == [
        (ElementKind.TITLE, "Backup policy"),
        (ElementKind.TEXT, "Backup policy"),
        (ElementKind.TITLE, "Backup policy > Retention"),
        (ElementKind.TEXT, "Backup policy > Retention"),
        (ElementKind.TABLE, "Backup policy > Retention"),
    ]
