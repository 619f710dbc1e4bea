"""Progress writes: the first stage always, later ones at most every MIN_INTERVAL_S."""

from __future__ import annotations

import pytest

from ingestion import progress
from kb.models import Document, DocumentStatus
from tests.support.factories import DocumentFactory

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(progress, "_clock", clock)
    return clock


def _state(document: Document) -> tuple[str, str, int]:
    document.refresh_from_db()
    return document.status, document.stage, document.progress


def test_quick_stages_are_not_written_but_a_slow_one_is(db: None, clock: Clock) -> None:
    document = DocumentFactory.create(status=DocumentStatus.QUEUED)

    progress.report(document.pk, "parsing")
    clock.now += 0.1
    progress.report(document.pk, "chunking")
    assert _state(document) == ("processing", "parsing", 5)

    clock.now += progress.MIN_INTERVAL_S
    progress.report(document.pk, "embedding", 0.5)
    assert _state(document) == ("processing", "embedding", 52)


def test_every_document_starts_with_a_write(db: None, clock: Clock) -> None:
    first, second = DocumentFactory.create_batch(2, status=DocumentStatus.QUEUED)

    progress.report(first.pk, "parsing")
    progress.report(second.pk, "parsing")
    progress.report(first.pk, "parsing")  # a retry of the first, at once

    assert _state(first)[:2] == _state(second)[:2] == ("processing", "parsing")


def test_what_a_stage_is_doing_is_shown_beside_it(db: None, clock: Clock) -> None:
    document = DocumentFactory.create(status=DocumentStatus.QUEUED)

    progress.report(document.pk, "parsing")
    clock.now += progress.MIN_INTERVAL_S
    progress.report(document.pk, "parsing", 0.5, detail="OCR page 2 of 4")

    assert _state(document) == ("processing", "parsing: OCR page 2 of 4", 12)
