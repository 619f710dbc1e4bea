"""What flows between the ingestion stages: parsed elements, then chunks."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ElementKind(StrEnum):
    TITLE = "title"
    TEXT = "text"
    LIST = "list"
    TABLE = "table"
    CODE = "code"


@dataclass(frozen=True)
class ParsedElement:
    """One block of a parsed document, in reading order.

    `section` is the nearest preceding title (the heading path joined with " > " where the
    parser knows the hierarchy); `page` is 1-based where the format has pages, else None.
    Tables carry their text row by row with cells separated by " | ", first row the header.
    """

    kind: ElementKind
    text: str
    page: int | None = None
    section: str = ""


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage: a few hundred tokens from one section, with where it came from."""

    number: int  # 0-based position in the document
    text: str
    page: int | None
    section: str
    token_count: int
