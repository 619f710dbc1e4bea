"""A real worker process killed (SIGKILL) in the middle of a document: after a restart the
document finishes with exactly the chunks a clean run makes, none duplicated."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from ingestion.chunk import chunk_elements
from ingestion.parsers.registry import parse_document
from kb.stores.graph_embedded import EmbeddedGraphStore
from kb.stores.qdrant_edge import QdrantEdgeIndex
from tests.support import samples
from tests.support.environment import unconfigured_environ
from tests.support.processes import celery_worker, manage
from tests.support.waiting import poll_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _env(data_dir: Path) -> dict[str, str]:
    return unconfigured_environ(
        KB_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="kb.settings.base"
    )


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return celery_worker(env, "-P", "solo", "-l", "warning", output=subprocess.DEVNULL)


def _row(data_dir: Path) -> tuple[str, str, int, int]:
    with sqlite3.connect(data_dir / "db.sqlite3") as db:
        return db.execute(
            "SELECT status, stage, progress, chunk_count FROM kb_document"
        ).fetchone() or ("", "", 0, 0)


def _wait_for(data_dir: Path, condition, timeout: float) -> tuple[str, str, int, int]:
    row = poll_until(lambda: _row(data_dir), condition, timeout=timeout, every=0.1)
    assert condition(row), f"timed out; document is {row}"
    return row


def test_a_killed_worker_leaves_a_document_that_finishes_after_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = _env(data_dir)
    paragraphs = [f"Paragraph {n}. " + samples.BACKUP_TEXT * 3 for n in range(300)]
    source = samples.text(tmp_path / "manual.txt", "\n\n".join(paragraphs))
    expected = len(chunk_elements(parse_document(source, filename="manual.txt").elements))
    manage(env, "migrate", "-v0")
    manage(env, "kb_ingest", str(source), "--collection", "C", "--readers", "ops", "--no-wait")

    first = _worker(env)
    _wait_for(data_dir, lambda r: r[1] == "embedding" and r[2] >= 30, timeout=180)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert _row(data_dir)[0] == "processing"  # killed mid-document

    second = _worker(env)
    try:
        status, _stage, _progress, chunks = _wait_for(
            data_dir, lambda r: r[0] in {"indexed", "failed"}, timeout=300
        )
    finally:
        second.terminate()
        second.wait(timeout=60)

    assert (status, chunks) == ("indexed", expected)
    index = QdrantEdgeIndex(data_dir / "qdrant", dense_dim=384)
    graph = EmbeddedGraphStore(data_dir / "graph")
    try:
        assert index.count() == expected
        assert graph.count_chunks() == expected
    finally:
        index.close()
        graph.close()
