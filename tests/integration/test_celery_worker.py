"""A real Celery worker consumes from the configured broker (filesystem here, Redis in the
services tier) and runs the retention task against the real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.result import allow_join_result
from django.conf import settings
from django.utils import timezone

from kb.celery import app
from kb.models import QueryLog
from kb.tasks import querylog_purge_expired_task
from kb.worker import EmbeddedWorker

pytestmark = pytest.mark.integration


def _log(age_days: int) -> QueryLog:
    row = QueryLog.objects.create(pseudonym="p", question_redacted="q")
    QueryLog.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(days=age_days))
    return row


def test_worker_runs_the_retention_task_through_the_broker(worker: EmbeddedWorker) -> None:
    old = _log(settings.KB_LOG_RETENTION_DAYS + 1)
    recent = _log(1)

    result = querylog_purge_expired_task.delay()

    with allow_join_result():  # an in-process worker marks this process as a worker
        assert result.get(timeout=60) == 1
    assert not QueryLog.objects.filter(pk=old.pk).exists()
    assert QueryLog.objects.filter(pk=recent.pk).exists()
    assert worker.alive


def test_worker_stops_cleanly_when_asked(transactional_db: None) -> None:
    embedded = EmbeddedWorker(app, queues=["ingest"])
    embedded.start()

    embedded.stop(timeout=30)

    assert not embedded.alive
