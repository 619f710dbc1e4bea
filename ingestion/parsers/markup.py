"""HTML and the formats unstructured reads as HTML (Markdown, reStructuredText, Org, EPUB and
RTF, converted by it with the `markdown` package or pandoc), and XML."""

from __future__ import annotations

import functools
from pathlib import Path

from ingestion.parsers.base import ParseProgress, Parser, RawElement
from ingestion.parsers.partition import never_narrative, partition_as

FORMATS = frozenset({"HTML", "XML", "MD", "RST", "ORG", "EPUB", "RTF"})


def parse(
    path: Path, *, file_type: str, ocr_languages: str, progress: ParseProgress
) -> list[RawElement]:
    skip_narrative_checks()
    return partition_as(path, file_type)


PARSER = Parser(name="markup", formats=FORMATS, parse=parse)


@functools.cache
def skip_narrative_checks() -> None:
    """unstructured's HTML partitioner asks spaCy (POS tags, sentences) of every paragraph
    whether it is NarrativeText or Text; both become TEXT in `elements`, so the question is
    pure cost: four fifths of the time to parse an HTML page. Titles there come from heading
    tags, never from this check. Mail bodies in HTML are read by the same partitioner."""
    from unstructured.partition.html import parser

    parser.is_possible_narrative_text = never_narrative  # type: ignore[attr-defined]  # patching unstructured's module function
