"""`/mcp` beside Django as docker compose serves it: uvicorn with several workers, each of which
runs the ASGI lifespan that starts its own MCP session manager (stateless: any worker serves
any request), and stops it on shutdown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.environment import unconfigured_environ
from tests.support.mcp_client import call_tool, structured
from tests.support.paths import ROOT
from tests.support.ports import free_port
from tests.support.processes import manage, wait_until_serving

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKERS = 2  # compose runs 4; two show the same on a small machine


def test_every_uvicorn_worker_starts_and_stops_its_mcp_server(tmp_path: Path) -> None:
    port = free_port()
    env = unconfigured_environ(KB_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="kb.settings.base")
    manage(env, "migrate", "--noinput")
    token = manage(env, "kb_user", "wes", "--token").strip()
    # compose's command (docker-compose.yml, service web), on loopback
    command = ["uvicorn", "kb.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(WORKERS), "--lifespan", "on", "--no-access-log"]
    process = subprocess.Popen(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, process, timeout=120, output=lambda: process.communicate()[0])
        results = [call_tool(base, token, "list_collections") for _ in range(3 * WORKERS)]
    finally:
        process.terminate()
        output = process.communicate(timeout=60)[0]

    assert [structured(r) for r in results] == [{"collections": []}] * (3 * WORKERS)
    assert output.count("Application startup complete.") == WORKERS, output
    assert output.count("Application shutdown complete.") == WORKERS, output
