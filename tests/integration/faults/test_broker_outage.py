"""The broker goes away and comes back, under a real `kb_serve` (web + embedded worker) on a
private Redis: uploads get a clear 503 and nothing half-stored while it is down, readiness
names it, and after it returns uploads are indexed again with nothing lost."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.environment import unconfigured_environ
from tests.support.llm import SMALL_MODEL_ENV
from tests.support.paths import ROOT
from tests.support.ports import free_port
from tests.support.processes import manage, wait_until_serving
from tests.support.waiting import poll_until

pytestmark = [pytest.mark.services, pytest.mark.integration, pytest.mark.slow]


class PrivateRedis:
    """A redis-server of our own on a free port, so stopping it harms nobody else."""

    def __init__(self, folder: Path) -> None:
        server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if server is None or cli is None:
            pytest.fail("needs redis-server (Debian package redis-server): run make test-services")
        self.server, self.cli = server, cli
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.server,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
        )
        answer = poll_until(
            lambda: subprocess.run(
                [self.cli, "-p", str(self.port), "ping"], capture_output=True, check=False
            ).stdout.strip(),
            lambda answer: answer == b"PONG",
            timeout=10,
            every=0.1,
        )
        if answer != b"PONG":
            pytest.fail("private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


def _call(
    method: str,
    url: str,
    token: str,
    body: bytes | None = None,
    content_type: str = "application/json",
) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 - loopback
    request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def _upload(base: str, token: str, collection_id: int, name: str, text: str) -> tuple[int, Any]:
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
        f'filename="{name}"\r\nContent-Type: text/plain\r\n\r\n{text}\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    return _call(
        "POST",
        f"{base}/api/v1/collections/{collection_id}/documents",
        token,
        body,
        f"multipart/form-data; boundary={boundary}",
    )


def _wait_indexed(base: str, token: str, document_id: int) -> dict[str, Any]:
    body = poll_until(
        lambda: _call("GET", f"{base}/api/v1/documents/{document_id}", token)[1],
        lambda answer: answer["status"] in {"indexed", "failed"},
        timeout=120,
        every=0.3,
    )
    assert body["status"] in {"indexed", "failed"}, f"document {document_id} never settled: {body}"
    return dict(body)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, PrivateRedis]]:
    redis = PrivateRedis(tmp_path)
    redis.start()
    port = free_port()
    env = unconfigured_environ(
        KB_DATA_DIR=str(tmp_path / "data"),
        PORT=str(port),
        DJANGO_SETTINGS_MODULE="kb.settings.base",
        CELERY_BROKER_URL=redis.url,
        **SMALL_MODEL_ENV,
    )
    manage(env, "migrate", "--noinput")
    token = manage(env, "kb_user", "olga", "--staff", "--token").strip()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "kb_serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(base, server, timeout=90)
    yield base, token, redis
    server.terminate()
    server.wait(timeout=30)
    redis.stop()


def test_uploads_during_a_broker_outage_are_refused_cleanly_and_resume_after(
    served: tuple[str, str, PrivateRedis],
) -> None:
    base, token, redis = served
    status, collection = _call(
        "POST", f"{base}/api/v1/collections", token, json.dumps({"name": "Ops"}).encode()
    )
    assert status == 201
    status, body = _upload(base, token, collection["id"], "before.txt", "Rotas change on Monday.")
    assert status == 202
    assert _wait_indexed(base, token, body["results"][0]["id"])["status"] == "indexed"

    redis.stop()
    refused_status, refused = _upload(
        base, token, collection["id"], "during.txt", "Handover happens in the operations channel."
    )
    ready_status, ready = _call("GET", f"{base}/readyz", token)
    _status, listed = _call("GET", f"{base}/api/v1/collections", token)

    assert refused_status == 503
    assert refused["error"]["code"] == "queue_unavailable"
    assert "nothing was stored" in refused["error"]["message"]
    assert ready_status == 503 and ready["down"] == ["broker"]
    assert listed["results"][0]["document_count"] == 1  # nothing half-stored

    redis.start()  # the same port: the worker reconnects by itself
    status, body = _upload(
        base, token, collection["id"], "during.txt", "Handover happens in the operations channel."
    )
    assert status == 202
    assert _wait_indexed(base, token, body["results"][0]["id"])["status"] == "indexed"
    assert _call("GET", f"{base}/readyz", token)[0] == 200
