"""The step after every parser: unstructured's elements to ours, with section paths, page
furniture dropped, text normalised (`cleanup`) and tables as rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html.parser import HTMLParser

from ingestion.parsers.base import RawElement
from ingestion.parsers.cleanup import join_broken_words, normalise, page_furniture
from ingestion.types import ElementKind, ParsedElement

SKIPPED_CATEGORIES = {"Footer", "PageBreak", "PageNumber", "Image"}
KIND_BY_CATEGORY = {
    "Title": ElementKind.TITLE,
    "ListItem": ElementKind.LIST,
    "Table": ElementKind.TABLE,
    "CodeSnippet": ElementKind.CODE,
}


def to_parsed_elements(raw: Iterable[RawElement], *, paged: bool = False) -> list[ParsedElement]:
    """Unstructured elements to ours, tracking the heading path for each element's section.
    `paged`: the pages are printed pages (PDF, scans), whose top and bottom lines may be page
    furniture; a slide's or a sheet's are content."""
    raw = list(raw)
    kept = _content(raw, paged=paged)
    texts = join_broken_words([_element_text(e, kind) for e, kind in kept])
    headings: list[tuple[int, str]] = []
    parsed: list[ParsedElement] = []
    for (element, kind), text in zip(kept, texts, strict=True):
        if not text:
            continue
        if kind == ElementKind.TITLE:
            depth = getattr(element.metadata, "category_depth", None) or 0
            headings = [(d, t) for d, t in headings if d < depth] + [(depth, text)]
        section = " > ".join(t for _d, t in headings)
        parsed.append(ParsedElement(kind, text, element.metadata.page_number, section))
    return parsed


def _content(raw: Sequence[RawElement], *, paged: bool) -> list[tuple[RawElement, ElementKind]]:
    """The elements that are the document's text, each with its kind: not page furniture
    (running headers and footers, page numbers), whether the partitioner named it or not."""
    running = running_headers(raw)
    furniture = page_furniture(raw) if paged else set()
    furniture |= {
        position
        for position, element in enumerate(raw)
        if getattr(element, "category", "") == "Header" and element.text in running
    }
    kept: list[tuple[RawElement, ElementKind]] = []
    for position, element in enumerate(raw):
        category = getattr(element, "category", "")
        if category in SKIPPED_CATEGORIES or position in furniture:
            continue
        kind = (
            ElementKind.TITLE
            if category == "Header"
            else KIND_BY_CATEGORY.get(category, ElementKind.TEXT)
        )
        kept.append((element, kind))
    return kept


def running_headers(raw: Sequence[RawElement]) -> set[str]:
    """Header texts seen on more than one page are running headers; a header found once is
    a heading at the top of a page, which the PDF partitioner also calls a header."""
    pages: dict[str, set[int | None]] = {}
    for element in raw:
        if getattr(element, "category", "") == "Header":
            pages.setdefault(element.text, set()).add(element.metadata.page_number)
    return {text for text, seen in pages.items() if len(seen) > 1}


def _element_text(element: RawElement, kind: ElementKind) -> str:
    if kind == ElementKind.TABLE:
        html = getattr(element.metadata, "text_as_html", None)
        if html:
            rows = table_rows(html)
            if rows:
                return normalise("\n".join(" | ".join(cells) for cells in rows))
    text = normalise(str(element.text))
    return text if kind == ElementKind.CODE else " ".join(text.split())


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
