"""Each PDF page is read the cheapest way that has its text: pdfminer, else PDFium's text
layer, else OCR when the page holds an image; blank pages are left alone."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from ingestion.parsers import pdf
from ingestion.parsers.registry import parse_document
from tests.support import samples

pytestmark = pytest.mark.unit


def _text_by_page(path: Path, progress: list[tuple[float, str]]) -> dict[int | None, str]:
    parsed = parse_document(
        path, filename=path.name, progress=lambda done, detail: progress.append((done, detail))
    )
    pages: defaultdict[int | None, str] = defaultdict(str)
    for element in parsed.elements:
        pages[element.page] += element.text + "\n"
    return dict(pages)


def test_only_the_scanned_page_is_ocred_and_in_reading_order(tmp_path: Path) -> None:
    path = samples.mixed_pdf(
        tmp_path / "manual.pdf",
        text=("Installing", "The widget installs with the command widget setup."),
        scan=["Configuring", "The default port is 8123."],
    )
    progress: list[tuple[float, str]] = []

    pages = _text_by_page(path, progress)

    assert list(pages) == [1, 2]  # the blank third page yields nothing and costs no OCR
    assert "widget setup" in pages[1]
    assert "8123" in pages[2]
    assert progress == [(0.0, "OCR page 1 of 1")]


def test_a_text_layer_is_read_without_ocr(tmp_path: Path) -> None:
    path = samples.text_pdf(
        tmp_path / "guide.pdf",
        [("Installation", "Install the package with apt."), ("Backup", samples.BACKUP_TEXT)],
    )
    progress: list[tuple[float, str]] = []

    pages = _text_by_page(path, progress)

    assert "write-ahead log" in pages[2]
    assert progress == []


def test_pages_pdfminer_left_empty_are_read_from_the_text_layer(tmp_path: Path) -> None:
    """What pdfminer cannot read (some manuals come back empty from it) PDFium's text layer
    gives, page by page, with no OCR."""
    path = samples.text_pdf(
        tmp_path / "guide.pdf",
        [("Installation", "Install the package with apt."), ("Backup", samples.BACKUP_TEXT)],
    )
    progress: list[tuple[float, str]] = []

    elements = pdf._unread_pages(path, [1, 2], "eng", lambda d, t: progress.append((d, t)))

    texts = {e.metadata.page_number: e.text for e in elements if "apt" in e.text}
    assert list(texts) == [1]
    assert any("write-ahead log" in e.text for e in elements if e.metadata.page_number == 2)
    assert progress == []


def test_scanned_pages_report_progress_one_by_one(tmp_path: Path) -> None:
    path = samples.scanned_pdf(tmp_path / "scan.pdf", [["Annual report"], ["Revenue grew."]])
    progress: list[tuple[float, str]] = []

    pages = _text_by_page(path, progress)

    assert "Revenue" in pages[2]
    assert progress == [(0.0, "OCR page 1 of 2"), (0.5, "OCR page 2 of 2")]


def test_printed_page_labels_are_kept_where_they_differ_from_the_page(tmp_path: Path) -> None:
    """Roman front matter, then a body numbered from 1: each physical page's printed label,
    for the pages whose label is not their own number."""
    path = samples.labelled_pdf(
        tmp_path / "book.pdf",
        [("Preface", "Why this book."), ("Contents", "Backup."), ("Backup", samples.BACKUP_TEXT)],
        front_matter=2,
    )

    parsed = parse_document(path, filename=path.name)

    assert parsed.page_labels == {1: "i", 2: "ii", 3: "1"}
    assert {e.page for e in parsed.elements if "write-ahead" in e.text} == {3}  # still physical


def test_a_pdf_without_page_labels_has_none(tmp_path: Path) -> None:
    path = samples.text_pdf(tmp_path / "guide.pdf", [("Backup", samples.BACKUP_TEXT)] * 2)

    assert parse_document(path, filename=path.name).page_labels == {}


def test_a_label_tree_pypdf_cannot_read_is_no_labels_not_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pypdf import PdfReader

    path = samples.labelled_pdf(
        tmp_path / "book.pdf",
        [("Preface", "Why."), ("Backup", samples.BACKUP_TEXT)],
        front_matter=1,
    )

    def broken(reader: PdfReader) -> list[str]:
        raise KeyError("/Nums")

    monkeypatch.setattr(PdfReader, "page_labels", property(broken))
    parsed = parse_document(path, filename=path.name)

    assert parsed.page_labels == {}
    assert any("write-ahead" in e.text for e in parsed.elements)
