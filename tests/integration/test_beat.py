"""Periodic upkeep runs from a real `celery beat` process, through the broker, on a real worker
of the maintenance queue, as compose runs them: a schedule whose retention run is due (its last
run two days ago) sends it at start-up, and the expired query log rows go."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.support.environment import unconfigured_environ
from tests.support.processes import celery_beat, celery_worker, manage
from tests.support.waiting import poll_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Query log rows 400 and 1 days old; retention is 90 days (KB_LOG_RETENTION_DAYS).
ROWS = """
from datetime import timedelta
from django.utils import timezone
from kb.models import QueryLog
for age, text in ((400, "expired"), (1, "recent")):
    row = QueryLog.objects.create(pseudonym="p", question_redacted=text)
    QueryLog.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(days=age))
"""

# Beat's own schedule file, as a beat that last ran retention two days ago left it.
DUE_SCHEDULE = """
from datetime import timedelta
from celery.beat import PersistentScheduler
from kb.celery import app
scheduler = PersistentScheduler(app=app, schedule_filename={path!r})
entry = scheduler.schedule["querylog-retention"]
entry.last_run_at = app.now() - timedelta(days=2)
scheduler.sync()
scheduler.close()
"""


def _questions(data_dir: Path) -> list[str]:
    with sqlite3.connect(data_dir / "db.sqlite3") as db:
        rows = db.execute("SELECT question_redacted FROM kb_querylog ORDER BY id").fetchall()
    return [question for (question,) in rows]


def test_beat_sends_a_due_retention_run_to_the_maintenance_worker(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = unconfigured_environ(KB_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="kb.settings.base")
    schedule = tmp_path / "celerybeat-schedule"
    manage(env, "migrate", "-v0")
    manage(env, "shell", "-c", ROWS)
    manage(env, "shell", "-c", DUE_SCHEDULE.format(path=str(schedule)))
    assert _questions(data_dir) == ["expired", "recent"]

    worker = celery_worker(
        env, "-P", "solo", "-l", "warning", queue="maintenance", output=subprocess.DEVNULL
    )
    beat = celery_beat(env, schedule, output=subprocess.PIPE)
    try:
        left = poll_until(lambda: _questions(data_dir), lambda q: q == ["recent"], timeout=90)
    finally:
        beat.terminate()
        worker.terminate()
        beat_output = beat.communicate(timeout=30)[0].decode()
        worker.wait(timeout=30)

    assert left == ["recent"], beat_output
    assert "Sending due task querylog-retention (kb.querylog_purge_expired)" in beat_output
