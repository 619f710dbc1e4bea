"""KB_TASK_TIME_LIMIT in a real prefork worker: a document that takes longer fails with "timed
out after N s", nothing of it stays in the stores, and the same worker goes on to index the next
document."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.support import samples
from tests.support.environment import unconfigured_environ
from tests.support.processes import celery_worker, manage
from tests.support.waiting import poll_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LIMIT_SECONDS = 4


def _documents(data_dir: Path) -> dict[str, tuple[str, str]]:
    with sqlite3.connect(data_dir / "db.sqlite3") as db:
        rows = db.execute("SELECT title, status, error FROM kb_document").fetchall()
    return {title: (status, error) for title, status, error in rows}


def test_a_document_over_the_time_limit_fails_and_the_worker_lives_on(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = unconfigured_environ(
        KB_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="kb.settings.base",
        KB_TASK_TIME_LIMIT=str(LIMIT_SECONDS),
    )
    paragraphs = [f"Paragraph {n}. " + samples.BACKUP_TEXT * 3 for n in range(400)]
    long_file = samples.text(tmp_path / "long.txt", "\n\n".join(paragraphs))
    short_file = samples.text(tmp_path / "short.txt", samples.BACKUP_TEXT)
    manage(env, "migrate", "-v0")
    for source in (long_file, short_file):
        manage(env, "kb_ingest", str(source), "--collection", "C", "--readers", "ops", "--no-wait")

    worker = celery_worker(
        env, "-P", "prefork", "-c", "1", "-l", "warning", output=subprocess.DEVNULL
    )
    try:
        documents = poll_until(
            lambda: _documents(data_dir),
            lambda d: all(status in {"indexed", "failed"} for status, _ in d.values()),
            timeout=240,
        )
        alive = worker.poll() is None
    finally:
        worker.terminate()
        worker.wait(timeout=60)

    assert documents["long"][0] == "failed", documents
    assert f"timed out after {LIMIT_SECONDS} s" in documents["long"][1]
    assert documents["short"] == ("indexed", ""), documents
    assert alive
