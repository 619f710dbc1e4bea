"""The run's environment: the embedded stack in a private folder, the machine and the code that
were measured, and how busy the machine was meanwhile."""

from __future__ import annotations

import os
import platform
import resource
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

Json = dict[str, Any]
ROOT = Path(__file__).resolve().parents[2]


def setup_django(data_dir: Path) -> None:
    """The embedded stack in a private folder; must run before anything imports settings."""
    for name in ("DATABASE_URL", "QDRANT_URL", "NEO4J_URI"):
        os.environ.pop(name, None)
    os.environ["KB_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "kb.settings.base"
    os.environ.setdefault("KB_LOG_LEVEL", "WARNING")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


class Timed:
    """Wall seconds of a block, and the share of the machine's CPU time that other processes
    (and the hypervisor's steal) took meanwhile: above ~0.1 the block's figures are skewed."""

    seconds = 0.0
    other_share = 0.0

    def __enter__(self) -> Timed:
        self._start = (time.perf_counter(), time.process_time(), _machine_busy_s())
        return self

    def __exit__(self, *exc: object) -> None:
        wall, own, busy = self._start
        self.seconds = time.perf_counter() - wall
        other = _machine_busy_s() - busy - (time.process_time() - own)
        self.other_share = round(max(other, 0.0) / self.seconds / (os.cpu_count() or 1), 3)


def _machine_busy_s() -> float:
    """Busy CPU seconds of the whole machine since boot (/proc/stat: all but idle and iowait)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def machine() -> Json:
    import torch

    cpu = next(
        (line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")),
        platform.processor(),
    )
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def code_state(paths: Sequence[str] = ("ingestion", "kb")) -> Json:
    """Which code was measured: the commit, and the files under `paths` changed since it."""
    executable = shutil.which("git")
    if executable is None:
        return {}

    def git(*args: str) -> str:
        command = [executable, "-C", str(ROOT), *args]
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        return done.stdout.rstrip("\n")  # porcelain lines start with a space: keep it

    changed = git("status", "--porcelain", "--", *paths).splitlines()
    return {"commit": git("rev-parse", "HEAD"), "uncommitted": [line[3:] for line in changed]}


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def rss_mb() -> float:
    """Resident memory now (VmRSS)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0
