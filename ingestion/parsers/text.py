"""Plain text and mail (EML, MSG), by unstructured's own partitioners."""

from __future__ import annotations

from pathlib import Path

from ingestion.parsers import markup
from ingestion.parsers.base import ParseProgress, Parser, RawElement
from ingestion.parsers.partition import partition_as

FORMATS = frozenset({"TXT", "EML", "MSG"})


def parse(
    path: Path, *, file_type: str, ocr_languages: str, progress: ParseProgress
) -> list[RawElement]:
    markup.skip_narrative_checks()  # a mail's HTML body goes through the HTML partitioner
    return partition_as(path, file_type)


PARSER = Parser(name="text", formats=FORMATS, parse=parse)
