"""Web requests and the in-process worker write the same database from different threads. A
read-then-write transaction that meets another thread's open write must wait for it, never fail
with "database is locked" (the embedded SQLite default) or lose either write."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, transaction

from kb.models import QueryLog

pytestmark = pytest.mark.integration

WAIT_SECONDS = 10


def _in_thread(work: Callable[[], None], errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            work()
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_read_then_write_waits_for_another_threads_open_write(transactional_db: None) -> None:
    wrote = threading.Event()
    read = threading.Event()
    errors: list[BaseException] = []

    def worker_progress() -> None:  # like the worker saving a document's progress
        with transaction.atomic():
            QueryLog.objects.create(pseudonym="worker", question_redacted="progress")
            wrote.set()
            read.wait(timeout=1)  # holds its write while the other thread reads, if it can
        # leaving the block commits

    def upload() -> None:  # like document_add: look for an existing row, then write
        assert wrote.wait(timeout=WAIT_SECONDS)
        with transaction.atomic():
            QueryLog.objects.filter(pseudonym="upload").exists()
            read.set()
            QueryLog.objects.create(pseudonym="upload", question_redacted="new document")

    threads = [_in_thread(worker_progress, errors), _in_thread(upload, errors)]
    for thread in threads:
        thread.join(timeout=WAIT_SECONDS * 3)

    assert errors == []
    assert sorted(QueryLog.objects.values_list("pseudonym", flat=True)) == ["upload", "worker"]
