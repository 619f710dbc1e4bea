"""Word-processor, presentation and spreadsheet files, each by unstructured's own partitioner.

The LibreOffice conversion is unstructured's: it runs `soffice` to turn DOC into DOCX and PPT
into PPTX; ODT goes to DOCX through pandoc. DOC and ODT are then read as DOCX.
"""

from __future__ import annotations

import functools
from pathlib import Path

from ingestion.parsers.base import ParseProgress, Parser, RawElement
from ingestion.parsers.partition import never_narrative, partition_as

FORMATS = frozenset({"DOC", "DOCX", "ODT", "PPT", "PPTX", "XLS", "XLSX", "CSV", "TSV"})


def parse(
    path: Path, *, file_type: str, ocr_languages: str, progress: ParseProgress
) -> list[RawElement]:
    _skip_narrative_checks()
    return partition_as(path, file_type)


PARSER = Parser(name="office", formats=FORMATS, parse=parse)


@functools.cache
def _skip_narrative_checks() -> None:
    """unstructured's DOCX partitioner asks spaCy (POS tags, sentences) of every paragraph
    whether it is NarrativeText or Text; both become TEXT in `elements`, so the question is
    pure cost. Titles there come from paragraph styles, never from this check."""
    from unstructured.partition import docx

    docx.is_possible_narrative_text = never_narrative  # type: ignore[attr-defined]  # patching unstructured's module function
