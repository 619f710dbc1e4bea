"""What a benchmark's JSON says about the code it measured."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bench.common import environment

pytestmark = pytest.mark.unit


def test_changed_files_are_named_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`git status --porcelain` starts a modified file's line with a space: the first file's
    name lost its first letter when the output was stripped."""

    executable = shutil.which("git")
    assert executable is not None  # the checkout under test is a clone

    def git(*args: str) -> None:
        command = [executable, "-C", str(tmp_path), *args]
        subprocess.run(command, check=True, capture_output=True)

    git("init", "-q")
    for name in ("retrieval.py", "kb.py"):
        (tmp_path / name).write_text("one\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "first")
    for name in ("retrieval.py", "kb.py"):
        (tmp_path / name).write_text("two\n")
    monkeypatch.setattr(environment, "ROOT", tmp_path)

    state = environment.code_state(paths=("retrieval.py", "kb.py"))

    assert sorted(state["uncommitted"]) == ["kb.py", "retrieval.py"]
    assert len(state["commit"]) == 40
