"""Text as it comes off a page, made fit to index: compatibility forms normalised, running
headers, footers and page numbers dropped, words hyphenated across a line break joined.

Every parser's elements pass through here (`elements.to_parsed_elements`); only paged formats
(PDF, scans) have page furniture, and the rules that find it need pages to compare.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence

from ingestion.parsers.base import RawElement
from kb.text.script import CJK_PUNCTUATION

# Chinese punctuation keeps its full-width form (NFKC would turn "，" into ","); everything
# else is NFKC-normalised: ligatures (ﬁ → fi), full-width letters and digits, superscripts.
_CJK_PUNCTUATION = f"{CJK_PUNCTUATION}\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
_KEEP = re.compile(f"[{_CJK_PUNCTUATION}]+")
_SOFT_HYPHEN = "\u00ad"
# "configu-\nration": a lower-case word broken at a line end, within one element.
_BROKEN_WORD = re.compile(r"(?<=[^\W\d_])-[ \t]*\n\s*(?=[^\W\d_A-ZА-Я])")
# A line ending in a broken word, and the next starting with its lower-case rest.
_ENDS_BROKEN = re.compile(r"[^\W\d_]-$")
_STARTS_LOWER = re.compile(r"^[^\W\d_A-ZА-Я]")
# Page edges: how many elements at the top and bottom of a page may be furniture, and on how
# many pages a line must recur there to be taken for a running header or footer.
EDGE = 2
RECURRING_PAGES = 3
_NUMBER = re.compile(r"\d+")
_ROMAN = re.compile(r"^(?=[ivxlcdm])m{0,3}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$")
# What a page number looks like once digits are '#': "12", "Page 12", "12 / 148", "- 12 -".
_PAGE_NUMBER = re.compile(
    r"^(page|p\.|стр\.?|страница|第)?\s*[-–—]?\s*#\s*[-–—]?\s*((/|of|из)\s*#)?\s*页?$"
)


def normalise(text: str) -> str:
    """NFKC outside Chinese punctuation, soft hyphens removed, line-broken words joined."""
    text = text.replace(_SOFT_HYPHEN, "")
    text = _BROKEN_WORD.sub("", text)
    parts: list[str] = []
    position = 0
    for kept in _KEEP.finditer(text):
        parts.append(unicodedata.normalize("NFKC", text[position : kept.start()]))
        parts.append(kept.group())
        position = kept.end()
    parts.append(unicodedata.normalize("NFKC", text[position:]))
    return "".join(parts)


def page_furniture(raw: Sequence[RawElement]) -> set[int]:
    """Positions of elements that are page furniture: at a page's top or bottom, a page number,
    or a line that recurs there (digits aside) on at least RECURRING_PAGES pages and never
    further in. A heading that recurs ("Options" in every command of a reference) also stands
    mid-page somewhere, and stays."""
    edges = _page_edges(raw)
    if not edges:
        return set()
    shapes = [_shape(element.text) for element in raw]
    edge_pages: defaultdict[str, set[int]] = defaultdict(set)
    for position, page in edges.items():
        edge_pages[shapes[position]].add(page)
    inside = {
        shapes[position]
        for position, element in enumerate(raw)
        if position not in edges and str(element.text).strip()
    }
    return {
        position
        for position in edges
        if _is_page_number(shapes[position])
        or (len(edge_pages[shapes[position]]) >= RECURRING_PAGES and shapes[position] not in inside)
    }


def join_broken_words(texts: list[str]) -> list[str]:
    """Consecutive element texts where one ends in a broken word ("configu-") and the next
    goes on in lower case ("ration of"): the word whole in the second, the first emptied."""
    joined = list(texts)
    for index in range(len(joined) - 1):
        if _ENDS_BROKEN.search(joined[index]) and _STARTS_LOWER.match(joined[index + 1]):
            joined[index + 1] = joined[index][:-1] + joined[index + 1]
            joined[index] = ""
    return joined


def _page_edges(raw: Sequence[RawElement]) -> dict[int, int]:
    """Position -> page of the first and last EDGE elements of every page, when there are
    pages to compare."""
    by_page: defaultdict[int, list[int]] = defaultdict(list)
    for position, element in enumerate(raw):
        page = getattr(element.metadata, "page_number", None)
        if page and str(element.text).strip():
            by_page[page].append(position)
    if len(by_page) < RECURRING_PAGES:
        return {}
    return {
        position: page
        for page, positions in by_page.items()
        for position in positions[:EDGE] + positions[-EDGE:]
    }


def _shape(text: str) -> str:
    return _NUMBER.sub("#", " ".join(normalise(str(text)).split()).lower())


def _is_page_number(shape: str) -> bool:
    return bool(_PAGE_NUMBER.match(shape) or _ROMAN.match(shape))
