"""The bookkeeping of a Celery worker's multiprocess folder: emptied at start, a pool process's
live gauges dropped when it exits, nothing touched without a folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.observability.metric_files import metric_files_clear, metric_files_process_exited

pytestmark = pytest.mark.unit


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    return tmp_path / "metrics"


def test_a_starting_worker_empties_the_folder_it_was_given(folder: Path) -> None:
    folder.mkdir()
    for name in ("counter_41.db", "histogram_41.db", "gauge_livesum_41.db"):
        (folder / name).write_bytes(b"earlier run")

    metric_files_clear()

    assert folder.is_dir() and not list(folder.iterdir())


def test_a_child_that_exits_keeps_its_counts_but_not_its_live_gauges(folder: Path) -> None:
    folder.mkdir()
    for name in ("counter_41.db", "histogram_41.db", "gauge_livesum_41.db", "gauge_livesum_42.db"):
        (folder / name).write_bytes(b"")

    metric_files_process_exited(41)

    left = sorted(path.name for path in folder.iterdir())
    assert left == ["counter_41.db", "gauge_livesum_42.db", "histogram_41.db"]


def test_without_a_folder_nothing_is_touched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "counter_41.db").write_bytes(b"")

    metric_files_clear()
    metric_files_process_exited(41)

    assert [path.name for path in tmp_path.iterdir()] == ["counter_41.db"]
