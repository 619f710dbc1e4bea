"""PDFs, and scans (images, and PDF pages without a text layer) read by tesseract page by page.

A PDF's pages are read by unstructured's `fast` strategy (pdfminer). A page it returns nothing
for is read again from its text layer by PDFium: pdfminer reads no text at all from some real
manuals (asciidoctor's, with embedded TrueType fonts) that PDFium reads fine, and OCR of a page
that has text is slow and worse. Only pages with no text and an image on them are OCRed, one
at a time, with progress per page. OCR goes to tesseract directly because unstructured's
`ocr_only` drops scripts without spaces between words (Chinese).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ingestion.parsers.base import ParseError, ParseProgress, Parser, RawElement
from ingestion.parsers.partition import use_packaged_spacy_model
from kb.text.script import CJK_PUNCTUATION, HALFWIDTH_FULLWIDTH, HAN_BASIC

# Chinese first: with Latin models first, tesseract reads CJK headings as Latin letters.
DEFAULT_OCR_LANGUAGES = "chi_sim+eng+rus"
OCR_DPI = 200  # when a page has no embedded image to take the resolution from
OCR_DPI_RANGE = (72, 400)
# Chinese as tesseract writes it: common Han characters, CJK and full-width punctuation.
_CHINESE_OCR = f"{CJK_PUNCTUATION}{HAN_BASIC}{HALFWIDTH_FULLWIDTH}"
CJK_GAP = re.compile(f"(?<=[{_CHINESE_OCR}]) +(?=[{_CHINESE_OCR}])")
IMAGE_TYPES = frozenset({"PNG", "JPG", "TIFF", "BMP", "HEIC", "WEBP"})


def parse(
    path: Path, *, file_type: str, ocr_languages: str, progress: ParseProgress
) -> list[RawElement]:
    if file_type == "PDF":
        return _partition_pdf(path, ocr_languages, progress)
    frames = _image_frames(path)
    return _ocr_pages(frames, range(1, len(frames) + 1), ocr_languages, progress)


PARSER = Parser(name="pdf", formats=frozenset({"PDF"}) | IMAGE_TYPES, parse=parse)


def _partition_pdf(path: Path, ocr_languages: str, progress: ParseProgress) -> list[RawElement]:
    page_count = _check_pdf_opens(path)
    from unstructured.partition.pdf import partition_pdf

    use_packaged_spacy_model()
    try:
        elements = list(partition_pdf(filename=str(path), strategy="fast"))
    except Exception as exc:
        raise ParseError(f"The PDF could not be read ({type(exc).__name__}: {exc}).") from exc
    read = {_page_of(e) for e in elements if getattr(e, "text", "").strip()}
    unread = [n for n in range(1, page_count + 1) if n not in read]
    if unread:
        elements += _unread_pages(path, unread, ocr_languages, progress)
    return sorted(elements, key=_page_of)  # stable: each page keeps its reading order


def _unread_pages(
    path: Path, numbers: list[int], ocr_languages: str, progress: ParseProgress
) -> list[RawElement]:
    """Pages pdfminer read nothing from: their text layer by PDFium, else OCR where the page
    holds an image (a page with neither is blank and stays empty)."""
    import pypdfium2 as pdfium

    elements: list[RawElement] = []
    scans: list[int] = []
    document = pdfium.PdfDocument(str(path))
    try:
        for number in numbers:
            page = document[number - 1]
            text = page.get_textpage().get_text_range().strip()
            if text:
                elements += _text_elements(text, number)
            elif _has_image(page):
                scans.append(number)
        if scans:
            scale = scan_dpi(path) / 72
            renders = (document[n - 1].render(scale=scale).to_pil() for n in scans)
            elements += _ocr_pages(renders, scans, ocr_languages, progress)
    except ParseError:
        raise
    except Exception as exc:  # PDFium raises its own errors on damaged pages
        raise ParseError(f"The PDF pages could not be read ({exc}).") from exc
    finally:
        document.close()
    return elements


def _has_image(page: Any) -> bool:
    import pypdfium2.raw as pdfium_c

    return any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))


def _page_of(element: RawElement) -> int:
    return int(getattr(element.metadata, "page_number", None) or 0)


# Metadata titles that name a file or a template rather than the document.
_NO_TITLE = re.compile(
    r"^(untitled|title|document|microsoft (word|powerpoint) - .*|.*\.(pdf|docx?|odt|rtf|tex|"
    r"dvi|ps|txt|md|indd|pptx?))$",
    re.IGNORECASE,
)
TITLE_LENGTH = 200
PAGE_LABEL_LENGTH = 40  # a printed page number; a longer label is someone's prose


def metadata_title(path: Path) -> str:
    """The title in the PDF's document information, when it is a title."""
    from pypdf import PdfReader

    try:
        title = PdfReader(str(path)).metadata.title  # type: ignore[union-attr]
    except Exception:  # no or broken metadata: the title is a nicety, never a failure
        return ""
    title = _one_line(str(title or ""))
    return "" if _NO_TITLE.match(title) else title[:TITLE_LENGTH]


def page_labels(path: Path) -> dict[int, str]:
    """The printed page numbers (the PDF's /PageLabels: roman front matter, a body numbered
    from 1 after it) of the pages whose label is not their physical number, by 1-based page.
    Empty for a PDF without labels; labels are a nicety, so a broken label tree is empty too."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            reader.decrypt("")  # the parse already refused a PDF that needs a password
        labels = [_one_line(str(raw))[:PAGE_LABEL_LENGTH] for raw in reader.page_labels]
    except Exception:  # pypdf raises anything on a damaged number tree
        return {}
    return {
        number: label
        for number, label in enumerate(labels, start=1)
        if label and label != str(number)
    }


def _one_line(text: str) -> str:
    """Metadata is the file's own text: control characters (NUL, which PostgreSQL refuses in
    text) become spaces, and runs of whitespace one space."""
    return " ".join("".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text).split())


def _check_pdf_opens(path: Path) -> int:
    """pdfminer returns nothing, silently, for corrupt and locked PDFs; pypdf says why. The
    number of pages."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError(
                "The PDF is password-protected; upload an unlocked copy.", code="encrypted"
            )
        page_count = len(reader.pages)
        if page_count == 0:
            raise ParseError("The PDF has no pages.", code="no_text")
    except ParseError:
        raise
    except (PdfReadError, ValueError, OSError, KeyError) as exc:
        raise ParseError(f"The PDF is damaged or not a PDF ({exc}).", code="corrupt") from exc
    return page_count


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


def _image_frames(path: Path) -> list[Any]:
    from PIL import Image, ImageSequence

    try:
        with Image.open(path) as image:
            return [frame.convert("RGB") for frame in ImageSequence.Iterator(image)]
    except Exception as exc:
        raise ParseError(f"The image could not be opened ({exc}).") from exc


def _ocr_pages(
    images: Iterable[Any], numbers: Sequence[int], languages: str, progress: ParseProgress
) -> list[RawElement]:
    """OCR one page at a time (a rendered page is held only while it is read), saying which."""
    import unstructured_pytesseract as tesseract

    elements: list[RawElement] = []
    for done, (number, image) in enumerate(zip(numbers, images, strict=True)):
        progress(done / len(numbers), f"OCR page {done + 1} of {len(numbers)}")
        try:
            text = join_cjk(tesseract.image_to_string(image, lang=languages))
        except Exception as exc:
            raise ParseError(f"OCR failed on page {number} ({exc}).", code="ocr") from exc
        elements += _text_elements(text, number)
    return elements


def _text_elements(text: str, page: int) -> list[RawElement]:
    from unstructured.partition.text import partition_text

    use_packaged_spacy_model()
    elements = list(partition_text(text=text, languages=["auto"]))
    for element in elements:
        element.metadata.page_number = page
    return elements


def join_cjk(text: str) -> str:
    """Tesseract may put spaces between Chinese characters; Chinese text has none."""
    return CJK_GAP.sub("", text)
