"""Stage and percent of a document, written as work goes so the UI and `kb_ingest` can show it."""

from __future__ import annotations

import logging
import time

from django.db import DatabaseError
from django.utils import timezone

from kb.models import Document, DocumentStatus

logger = logging.getLogger(__name__)

# Where each stage starts, in percent; embedding takes most of the time on a CPU.
STAGE_START = {
    "parsing": 5,
    "chunking": 20,
    "embedding": 25,
    "writing": 80,
    "graph": 90,
}
# The upload page and kb_ingest poll about once a second, so a stage that ends sooner is not
# worth a database write: on a one-page file those writes were 7% of the ingestion time.
MIN_INTERVAL_S = 0.5
STAGE_LENGTH = Document._meta.get_field("stage").max_length or 50
_clock = time.monotonic
_last_write = (0, 0.0)  # document id, _clock() (reports come from one thread)


def report(document_id: int, stage: str, fraction: float = 0.0, *, detail: str = "") -> None:
    """`fraction` of the way through `stage` (0..1), and what is being done in it ("OCR page 3
    of 148"), shown beside the stage. The start of the first stage is always written: it marks
    the document as processing."""
    global _last_write
    now = _clock()
    last_document, last_at = _last_write
    starting = stage == "parsing" and not fraction and not detail
    if not starting and last_document == document_id and now - last_at < MIN_INTERVAL_S:
        return
    _last_write = (document_id, now)
    start = STAGE_START[stage]
    following = [p for p in STAGE_START.values() if p > start]
    end = min(following) if following else 99
    percent = int(start + (end - start) * max(0.0, min(1.0, fraction)))
    try:
        Document.objects.filter(pk=document_id).update(
            status=DocumentStatus.PROCESSING,
            stage=f"{stage}: {detail}"[:STAGE_LENGTH] if detail else stage,
            progress=percent,
            updated_at=timezone.now(),
        )
    except DatabaseError:  # progress is a courtesy: a busy database must not fail the document
        logger.warning("could not record progress of document %s", document_id, exc_info=True)
