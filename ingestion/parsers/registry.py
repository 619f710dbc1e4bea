"""The one map from a file type to its parser, and the entry point the pipeline calls.

The type comes from the content (libmagic), not the name, so a PNG called `.pdf` is read as an
image. A type no parser declares is refused as unsupported; anything that yields no text is a
failure with a reason, never an empty success. A new format is a new module added to PARSERS.
"""

from __future__ import annotations

from pathlib import Path

from ingestion.parsers import markup, office, pdf, text
from ingestion.parsers.base import ParsedDocument, ParseError, ParseProgress, Parser, no_progress
from ingestion.parsers.elements import to_parsed_elements
from ingestion.types import ElementKind, ParsedElement

TITLE_PAGES = 2  # a document's title is on its title page, or the page after a cover
PARSERS: tuple[Parser, ...] = (pdf.PARSER, office.PARSER, markup.PARSER, text.PARSER)
_BY_FORMAT = {file_type: parser for parser in PARSERS for file_type in parser.formats}
# What an upload may be: anything else fails as unsupported once its type is detected.
FORMATS = frozenset(_BY_FORMAT)


def parse_document(
    path: Path,
    *,
    filename: str,
    ocr_languages: str = pdf.DEFAULT_OCR_LANGUAGES,
    progress: ParseProgress = no_progress,
) -> ParsedDocument:
    if path.stat().st_size == 0:
        raise ParseError("The file is empty.", code="empty")
    file_type = detect_type(path)
    parser = _BY_FORMAT.get(file_type)
    if parser is None:
        raise ParseError(
            f"{_describe(file_type, filename)} files are not supported.", code="unsupported"
        )
    raw = parser.parse(path, file_type=file_type, ocr_languages=ocr_languages, progress=progress)
    elements = to_parsed_elements(raw, paged=parser is pdf.PARSER)
    if not any(e.text.strip() for e in elements):
        raise ParseError("No text could be extracted from this file.", code="no_text")
    pages = [e.page for e in elements if e.page]
    return ParsedDocument(
        elements=elements,
        page_count=max(pages, default=1),
        file_type=file_type,
        title=_title(path, file_type, elements),
        page_labels=pdf.page_labels(path) if file_type == "PDF" else {},
    )


def _title(path: Path, file_type: str, elements: list[ParsedElement]) -> str:
    """A PDF's metadata title, else its first heading; other formats keep their file name."""
    if file_type != "PDF":
        return ""
    heading = next((e.text for e in elements if _is_document_heading(e)), "")
    return pdf.metadata_title(path) or heading[: pdf.TITLE_LENGTH]


def _is_document_heading(element: ParsedElement) -> bool:
    """A heading on the first pages that reads as a title, not a line broken off a sentence."""
    text = element.text.strip()
    return (
        element.kind is ElementKind.TITLE
        and (element.page or 1) <= TITLE_PAGES
        and sum(ch.isalpha() for ch in text) >= 3
        and not text.endswith((".", ",", ";", ":"))
    )


def detect_type(path: Path) -> str:
    from unstructured.file_utils.filetype import detect_filetype

    try:
        return str(detect_filetype(file_path=str(path)).name)
    except Exception as exc:  # libmagic and friends raise anything on garbage
        raise ParseError(
            f"The file type could not be recognised ({exc}).", code="unsupported"
        ) from exc


def _describe(file_type: str, filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if file_type in {"UNK", "EMPTY"}:
        return f"Unrecognised ({suffix or 'no extension'})"
    return f"{file_type} ({suffix})" if suffix else file_type
