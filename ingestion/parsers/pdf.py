"""PDFs, and scans (images, and PDFs whose text layer is empty) read by tesseract page by page.

PDFs with a text layer use unstructured's `fast` strategy. OCR goes to tesseract directly
because unstructured's `ocr_only` drops scripts without spaces between words (Chinese).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ingestion.parsers.base import ParseError, Parser, RawElement
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


def parse(path: Path, *, file_type: str, ocr_languages: str) -> list[RawElement]:
    if file_type == "PDF":
        return _partition_pdf(path, ocr_languages)
    return _ocr_pages(_image_pages(path), ocr_languages)


PARSER = Parser(name="pdf", formats=frozenset({"PDF"}) | IMAGE_TYPES, parse=parse)


def _partition_pdf(path: Path, ocr_languages: str) -> list[RawElement]:
    _check_pdf_opens(path)
    from unstructured.partition.pdf import partition_pdf

    use_packaged_spacy_model()
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


def _ocr_pages(pages: Sequence[Any], languages: str) -> list[RawElement]:
    import unstructured_pytesseract as tesseract
    from unstructured.partition.text import partition_text

    use_packaged_spacy_model()
    elements: list[RawElement] = []
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
