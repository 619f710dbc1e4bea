"""Quarry as an operator runs it: `manage.py` commands and `kb_serve` in processes of their own,
with the environment of tests/support/environment.py."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import ROOT


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """Runs `manage.py *args` in a new process and returns what it printed; a non-zero exit
    fails the test (CalledProcessError, with the output attached)."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return done.stdout


def celery_worker(
    env: dict[str, str], *options: str, output: int, queue: str = "ingest"
) -> subprocess.Popen[bytes]:
    """`celery -A kb worker` on `queue` as compose runs it, without the cluster chatter
    (mingle, gossip, heartbeat); `options` add the pool, concurrency and log level. `output`
    is where its stdout and stderr go (subprocess.PIPE or DEVNULL)."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "kb",
        "worker",
        "-Q",
        queue,
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
        *options,
    ]
    stderr = subprocess.STDOUT if output == subprocess.PIPE else output
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=stderr)


def celery_beat(env: dict[str, str], schedule: Path, *, output: int) -> subprocess.Popen[bytes]:
    """`celery -A kb beat` as compose runs it, with its schedule (and pid) file at `schedule`."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "kb",
        "beat",
        "--schedule",
        str(schedule),
        "--pidfile",
        str(schedule.with_suffix(".pid")),
        "--loglevel",
        "info",
    ]
    stderr = subprocess.STDOUT if output == subprocess.PIPE else output
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=stderr)


def wait_until_serving(
    url: str,
    process: subprocess.Popen[Any],
    *,
    timeout: float,
    output: Callable[[], str] = lambda: "",
) -> None:
    """Returns once `url`/healthz answers 200. If the server exits first, or has not answered
    after `timeout` seconds (it is killed then), the test fails with `output()`, what the
    server printed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"kb_serve exited with {process.returncode}:\n{output()}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    process.kill()
    pytest.fail(f"kb_serve did not come up in {timeout:.0f} s:\n{output()}")
