"""What every parser shares: its declaration, the document it yields, the error it raises."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ingestion.types import ParsedElement

# An unstructured Element: `category`, `text` and `metadata` are all the shared steps read.
RawElement = Any


class ParseError(Exception):
    """The file cannot be indexed; the message is shown to the person who uploaded it, the
    code counts failures by reason in the metrics."""

    def __init__(self, message: str, *, code: str = "unreadable") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ParsedDocument:
    """`title` is what the file calls itself (a PDF's metadata title, else its first heading),
    empty when it says nothing better than its file name. `page_labels` are a PDF's printed
    page numbers ("xii", "A-3") by 1-based physical page, only where they differ from it."""

    elements: list[ParsedElement]
    page_count: int
    file_type: str
    title: str = ""
    page_labels: dict[int, str] = field(default_factory=dict)


# How far a long parse has come: the fraction of the file done and what is being done
# ("OCR page 37 of 148"), for the document's progress bar.
ParseProgress = Callable[[float, str], None]


def no_progress(fraction: float, detail: str) -> None:
    """For callers that show no progress (tests, benchmarks)."""


class ParseFunction(Protocol):
    def __call__(
        self, path: Path, *, file_type: str, ocr_languages: str, progress: ParseProgress
    ) -> list[RawElement]: ...


@dataclass(frozen=True)
class Parser:
    """A family of formats and the function that reads them. Formats are unstructured's
    `FileType` names, as detected from the content; each `FileType` lists its extensions and
    MIME type."""

    name: str
    formats: frozenset[str]
    parse: ParseFunction
