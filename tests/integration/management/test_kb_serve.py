"""`manage.py kb_serve` (what `make run` starts) as a user meets it: a real process on a port."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI

from tests.support.environment import unconfigured_environ
from tests.support.llm import SMALL_MODEL_ENV
from tests.support.mcp_client import call_tool, structured
from tests.support.paths import ROOT
from tests.support.ports import free_port
from tests.support.processes import manage, wait_until_serving

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _env(data_dir: Path, port: int) -> dict[str, str]:
    return unconfigured_environ(
        KB_DATA_DIR=str(data_dir),
        PORT=str(port),
        DJANGO_SETTINGS_MODULE="kb.settings.base",
        **SMALL_MODEL_ENV,  # what `make test` assembles
        KB_ANSWER_MAX_TOKENS="48",
    )


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)  # noqa: S310 - tests call loopback http only
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    data_dir = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = _env(data_dir, port)
    manage(env, "migrate", "--noinput")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "kb_serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(base, process, timeout=60, output=lambda: process.communicate()[0])
    yield base, env
    process.terminate()
    process.wait(timeout=30)


def test_a_token_from_kb_user_works_against_the_running_site(
    server: tuple[str, dict[str, str]],
) -> None:
    base, env = server
    token = manage(env, "kb_user", "alice", "--groups", "hr", "--token").strip()

    status, body = _get(f"{base}/api/v1/me", token)

    assert status == 200
    assert b'"username":"alice"' in body


def test_pages_ask_for_sign_in_and_the_api_for_a_token(server: tuple[str, dict[str, str]]) -> None:
    base, _env = server
    status, body = _get(f"{base}/")
    assert status == 200 and b"Sign in" in body  # redirected to the login page
    assert _get(f"{base}/api/v1/collections")[0] == 401


def test_a_second_process_on_the_same_data_folder_is_refused_clearly(
    server: tuple[str, dict[str, str]],
) -> None:
    _base, env = server
    second = subprocess.run(
        [sys.executable, "manage.py", "kb_serve"],
        cwd=ROOT,
        env={**env, "PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert second.returncode != 0
    assert "is in use by process" in second.stderr


def test_a_streamed_answer_arrives_event_by_event(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, env = server
    token = manage(env, "kb_user", "olga", "--groups", "ops", "--token").strip()
    # A text and question the small model answers in two sentences (it says "I don't know" to
    # many others): the first is held back until complete, the second streams token by token.
    notes = tmp_path / "backups.txt"
    notes.write_text(
        "The finance database is backed up every night at 02:30 to the Frankfurt data centre, "
        "and each backup is kept for 35 days. Restores are requested through the service desk.",
        encoding="utf-8",
    )
    manage(env, "kb_ingest", str(notes), "--collection", "Ops", "--readers", "ops")
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{base}/api/v1/query",
        data=json.dumps(
            {"question": "Describe how the finance database is backed up.", "stream": True}
        ).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )

    arrivals: list[tuple[str, float]] = []
    last = b""
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - loopback
        assert response.headers["Content-Type"] == "text/event-stream"
        for line in response:
            if line.startswith(b"event: "):
                arrivals.append((line[7:].decode().strip(), time.monotonic()))
            elif line.startswith(b"data: "):
                last = line

    kinds = [kind for kind, _ in arrivals]
    assert kinds[:2] == ["sources", "token"] and kinds[-2:] == ["citations", "done"], (kinds, last)
    # Tokens were sent as the model produced them, not all at once when it finished: a buffered
    # answer is read out of one buffer (microseconds between lines), a streamed one arrives a
    # generation step at a time (tens of milliseconds per token on a CPU, more under load).
    times = [at for _, at in arrivals]
    separate = sum(1 for a, b in itertools.pairwise(times) if b - a > 0.005)
    assert separate >= 3, f"the answer arrived in {separate + 1} pieces"


def test_the_mcp_server_answers_at_mcp_under_kb_serve(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """kb_serve runs the ASGI lifespan that starts the MCP session manager: the official
    client finds the collection, the passage and its full text through the running site."""
    base, env = server
    token = manage(env, "kb_user", "mina", "--groups", "facilities", "--token").strip()
    notes = tmp_path / "coffee.txt"
    notes.write_text("The coffee machine is descaled every Friday by facilities.", "utf-8")
    manage(env, "kb_ingest", str(notes), "--collection", "Facilities", "--readers", "facilities")

    collections = structured(call_tool(base, token, "list_collections"))["collections"]
    (hit, *_) = structured(
        call_tool(base, token, "search", {"query": "When is the coffee machine descaled?"})
    )["passages"]
    passage = structured(call_tool(base, token, "get_passage", {"chunk_id": hit["chunk_id"]}))

    assert [(c["name"], c["document_count"]) for c in collections] == [("Facilities", 1)]
    assert hit["title"] == "coffee" and hit["link"] == f"{base}/sources/{hit['chunk_id']}"
    assert passage["text"] == notes.read_text("utf-8")


def test_the_openai_compatible_stream_arrives_chunk_by_chunk(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """The official `openai` client, as a chat front-end uses it, against the real server
    (ASGI: live_server's WSGI in tests/integration/openai_api/ hands a stream over whole)."""
    base, env = server
    token = manage(env, "kb_user", "oscar", "--groups", "storage", "--token").strip()
    notes = tmp_path / "backups.txt"
    notes.write_text(
        "The finance database is backed up every night at 02:30 to the Frankfurt data centre, "
        "and each backup is kept for 35 days. Restores are requested through the service desk.",
        encoding="utf-8",
    )
    manage(env, "kb_ingest", str(notes), "--collection", "Storage", "--readers", "storage")
    client = OpenAI(base_url=f"{base}/v1", api_key=token, max_retries=0, timeout=120)

    assert [m.id for m in client.models.list().data] == ["quarry", "quarry/storage"]
    arrivals: list[tuple[str, float]] = []
    for chunk in client.chat.completions.create(
        model="quarry/storage",
        messages=[{"role": "user", "content": "Describe how the finance database is backed up."}],
        stream=True,
    ):
        arrivals.append((chunk.choices[0].delta.content or "", time.monotonic()))
        last = chunk

    extra = last.model_extra or {}
    assert last.choices[0].finish_reason == "stop" and extra["refused"] is False, arrivals
    assert [c["title"] for c in extra["citations"]] == ["backups"]
    times = [at for text, at in arrivals if text]
    separate = sum(1 for a, b in itertools.pairwise(times) if b - a > 0.005)
    assert separate >= 3, f"the answer arrived in {separate + 1} pieces"
