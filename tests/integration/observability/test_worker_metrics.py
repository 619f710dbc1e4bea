"""A real prefork worker (`celery worker -P prefork -c 2`, as compose runs it): its pool children
index the documents and count them, its main process serves the counts on KB_WORKER_METRICS_PORT.
Counts of a child that exited stay in the totals; counts left in the folder by an earlier run
do not."""

from __future__ import annotations

import sqlite3
import subprocess
import urllib.request
from importlib import metadata
from pathlib import Path

import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families

from tests.support import samples
from tests.support.environment import unconfigured_environ
from tests.support.ports import free_port
from tests.support.processes import celery_worker, manage
from tests.support.waiting import poll_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DOCUMENTS = "quarry_ingest_documents_total"
CHUNKS = "quarry_ingest_chunks_total"
TIMED = "quarry_ingest_document_seconds_count"


def test_a_prefork_worker_serves_what_its_children_counted(tmp_path: Path) -> None:
    data_dir, metrics_dir = tmp_path / "data", tmp_path / "metrics"
    env = unconfigured_environ(KB_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="kb.settings.base")
    port = free_port()
    worker_env = {
        **env,
        "KB_WORKER_METRICS_PORT": str(port),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    _earlier_run_counted(metrics_dir, documents=1000)
    manage(env, "migrate", "-v0")
    first = samples.text(tmp_path / "backup.txt", samples.BACKUP_TEXT)
    second = samples.text(
        tmp_path / "manual.txt", "\n\n".join(f"Step {n}. {samples.BACKUP_TEXT}" for n in range(40))
    )

    # Every child exits after one task: the second document is indexed by a new process.
    worker = celery_worker(
        worker_env,
        *("-P", "prefork", "-c", "2", "--max-tasks-per-child", "1", "-l", "warning"),
        output=subprocess.DEVNULL,
    )
    try:
        at_start = poll_until(lambda: _scrape(port), bool, timeout=120)
        _ingest(env, first)
        after_one = poll_until(lambda: _scrape(port), lambda m: m.get(DOCUMENTS) == 1, timeout=240)
        _ingest(env, second)
        after_two = poll_until(lambda: _scrape(port), lambda m: m.get(DOCUMENTS) == 2, timeout=240)
        alive = worker.poll() is None
    finally:
        worker.terminate()
        worker.wait(timeout=60)

    chunks = _chunk_counts(data_dir)
    assert alive and chunks["backup"] > 0 and chunks["manual"] > chunks["backup"]
    assert at_start.get(DOCUMENTS, 0) == 0  # the earlier run's files were removed
    assert at_start[f'quarry_build_info{{version="{metadata.version("quarry")}"}}'] == 1
    assert (after_one[DOCUMENTS], after_one[CHUNKS], after_one[TIMED]) == (1, chunks["backup"], 1)
    assert (after_two[DOCUMENTS], after_two[CHUNKS], after_two[TIMED]) == (
        2,
        chunks["backup"] + chunks["manual"],
        2,
    )


def _earlier_run_counted(metrics_dir: Path, *, documents: float) -> None:
    """A value file as a worker process of an earlier run leaves it."""
    metrics_dir.mkdir()
    key = mmap_key("quarry_ingest_documents", DOCUMENTS, [], [], "Documents indexed")
    stale = MmapedDict(str(metrics_dir / "counter_1.db"))
    stale.write_value(key, documents, 0.0)
    stale.close()


def _ingest(env: dict[str, str], source: Path) -> None:
    manage(env, "kb_ingest", str(source), "--collection", "C", "--readers", "ops", "--no-wait")


def _scrape(port: int) -> dict[str, float]:
    """Unlabelled samples by name; build info by its version label. Empty while nothing
    answers on the port."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return {}
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not sample.labels:
                found[sample.name] = sample.value
            elif sample.name == "quarry_build_info":
                found[f'quarry_build_info{{version="{sample.labels["version"]}"}}'] = sample.value
    return found


def _chunk_counts(data_dir: Path) -> dict[str, int]:
    with sqlite3.connect(data_dir / "db.sqlite3") as db:
        return dict(db.execute("SELECT title, chunk_count FROM kb_document").fetchall())
