"""The parser registry: each format has one parser, and its formats are what uploads accept."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from unstructured.file_utils.model import FileType

from ingestion.parsers.base import ParseError
from ingestion.parsers.registry import FORMATS, PARSERS, parse_document

pytestmark = pytest.mark.unit

# Uploads take any file and the parse step refuses a type no parser declares, so the registry
# is the one list of accepted formats; pinned here so adding or dropping one is deliberate.
ACCEPTED_UPLOAD_FORMATS = {
    "PDF",
    "PNG",
    "JPG",
    "TIFF",
    "BMP",
    "HEIC",
    "WEBP",
    "DOC",
    "DOCX",
    "ODT",
    "RTF",
    "PPT",
    "PPTX",
    "XLS",
    "XLSX",
    "CSV",
    "TSV",
    "HTML",
    "XML",
    "MD",
    "RST",
    "ORG",
    "EPUB",
    "TXT",
    "EML",
    "MSG",
}


def test_every_registered_format_maps_to_exactly_one_parser() -> None:
    declared = Counter(f for parser in PARSERS for f in parser.formats)

    shared = {f: n for f, n in declared.items() if n > 1}

    assert shared == {}
    assert set(declared) == FORMATS


def test_the_registered_formats_are_the_accepted_upload_formats() -> None:
    assert set(FORMATS) == ACCEPTED_UPLOAD_FORMATS


@pytest.mark.parametrize("file_type", sorted(ACCEPTED_UPLOAD_FORMATS))
def test_each_format_is_a_type_unstructured_detects_and_partitions(file_type: str) -> None:
    assert FileType[file_type].partitioner_shortname is not None


def test_a_detected_type_no_parser_declares_is_unsupported(tmp_path: Path) -> None:
    data = tmp_path / "data.json"
    data.write_text('{"title": "Backup policy", "retention": "30 days"}', encoding="utf-8")

    with pytest.raises(ParseError) as caught:
        parse_document(data, filename="data.json")

    assert str(caught.value) == "JSON (.json) files are not supported."
    assert caught.value.code == "unsupported"
