"""Load test: N concurrent users against `manage.py kb_serve` (the embedded default) on
loopback, for a bounded time, then a bounded drain of what is still in flight.

Each simulated user has its own API token and runs a closed loop with a short think time:
mostly searches, some questions (non-streamed and streamed), drawn from the dev set's English
questions whose documents were ingested first. Reported: throughput, p50/p95/p99 latency per
kind, status codes, and whether any 5xx happened (the run fails if so). The baseline, in the
same run, is one user alone before the crowd arrives: the ratios say what concurrency costs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common.corpus import SOURCES
from bench.common.devset import ANSWERABLE, load_questions
from bench.common.metrics import nearest_rank

HELP = "load test: concurrent users asking and searching against kb_serve for a bounded time"
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "load.json"
KINDS = ("search", "query", "stream")
Json = dict[str, Any]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users", type=int, default=20, help="concurrent users (%(default)s)")
    parser.add_argument("--seconds", type=float, default=60, help="load phase (%(default)s s)")
    parser.add_argument(
        "--drain",
        type=float,
        default=600,
        help="longest wait for requests still in flight (%(default)s s)",
    )
    parser.add_argument(
        "--questions", type=int, default=12, help="distinct questions asked (%(default)s)"
    )
    parser.add_argument(
        "--query-share",
        type=float,
        default=0.3,
        help="share of requests that ask the model (%(default)s)",
    )
    parser.add_argument(
        "--model", default="", help="KB_LLM_MODEL_NAME for the server (default: the default model)"
    )
    parser.add_argument(
        "--llm-threads",
        type=int,
        default=None,
        help="KB_LLM_N_THREADS for the server (default: the settings' default)",
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="OMP_NUM_THREADS for the server: torch's threads, which embed questions and "
        "documents (default: torch's own, one per core)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON path")


@dataclass
class Result:
    kind: str
    status: int
    seconds: float
    phase: str  # "baseline" or "load"


@dataclass
class Recorder:
    results: list[Result] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, result: Result) -> None:
        with self.lock:
            self.results.append(result)


def run(args: argparse.Namespace, *, command: str) -> int:
    questions = _questions(args.questions)
    with (
        tempfile.TemporaryDirectory(prefix="quarry-load-") as tmp,
        _server(Path(tmp), model=args.model, threads=_threads(args)) as (base, manage),
    ):
        tokens = [
            manage("kb_user", f"user{n}", "--groups", "staff-load", "--token").strip()
            for n in range(args.users)
        ]
        corpus = _stage_corpus(Path(tmp) / "corpus", questions)
        documents = len(list(corpus.iterdir()))
        started = time.perf_counter()
        manage("kb_ingest", str(corpus), "--collection", "Docs", "--readers", "staff-load")
        ingest_seconds = time.perf_counter() - started
        recorder = Recorder()
        _baseline(base, tokens[0], questions, recorder)
        load_seconds = _load(base, tokens, questions, recorder, args)
    report = _report(
        recorder,
        args,
        command=command,
        load_seconds=load_seconds,
        ingest_seconds=ingest_seconds,
        documents=documents,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(args.out, file=sys.stderr)
    print(_summary(report), file=sys.stderr)
    return 1 if report["errors"]["5xx"] else 0


def _questions(count: int) -> list[str]:
    english = [q for q in load_questions(ANSWERABLE) if q.lang == "en"]
    return [q.text for q in english[:count]]


def _stage_corpus(folder: Path, questions: list[str]) -> Path:
    """The gold pages of the questions asked, plus neighbours: a small, relevant corpus."""
    folder.mkdir(parents=True)
    wanted = {
        (gold.source, gold.file)
        for question in load_questions(ANSWERABLE)
        if question.text in questions
        for gold in question.gold
    }
    for source, name in sorted(wanted):
        path = SOURCES[source] / name
        if not path.is_file():
            sys.exit(f"{path} missing: `make bench` installs the corpus with apt-get")
        (folder / f"{source.replace('/', '_')}_{name}").write_bytes(path.read_bytes())
    return folder


def _threads(args: argparse.Namespace) -> dict[str, str]:
    """The server's thread settings the run was asked for, as environment variables."""
    threads = {}
    if args.llm_threads is not None:
        threads["KB_LLM_N_THREADS"] = str(args.llm_threads)
    if args.torch_threads is not None:
        threads["OMP_NUM_THREADS"] = str(args.torch_threads)
    return threads


@contextmanager
def _server(tmp: Path, *, model: str, threads: dict[str, str]) -> Iterator[tuple[str, Any]]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KB_", "DJANGO_"))}
    env.update(
        KB_DATA_DIR=str(tmp / "data"),
        PORT=str(port),
        KB_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="kb.settings.base",
    )
    for name in (
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "CELERY_RESULT_BACKEND",
        "QDRANT_URL",
        "NEO4J_URI",
    ):
        env.pop(name, None)
    if model:
        env["KB_LLM_MODEL_NAME"] = model
    env.pop("OMP_NUM_THREADS", None)  # only what the run was asked for
    env.update(threads)

    def manage(*args: str) -> str:
        return subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    manage("migrate", "--noinput")
    log = (tmp / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "kb_serve"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_up(base, server)
        yield base, manage
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
        kept = DEFAULT_OUT.with_name("load-server.log")  # the run's server side, for errors
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_bytes((tmp / "server.log").read_bytes())


def _wait_up(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("kb_serve exited during start-up")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2):  # noqa: S310 - loopback
                return
        except OSError:
            time.sleep(0.3)
    sys.exit("kb_serve did not come up in 120 s")


def _baseline(base: str, token: str, questions: list[str], recorder: Recorder) -> None:
    """One user alone: every question searched, then two asked (also warms the model)."""
    for question in questions:
        recorder.add(_request(base, token, "search", question, phase="baseline"))
    for question in questions[:2]:
        recorder.add(_request(base, token, "query", question, phase="baseline"))


def _load(
    base: str, tokens: list[str], questions: list[str], recorder: Recorder, args: argparse.Namespace
) -> float:
    stop_at = time.perf_counter() + args.seconds
    started = time.perf_counter()

    def user(number: int) -> None:
        rng = random.Random(number)  # noqa: S311 - a workload, not a secret
        while time.perf_counter() < stop_at:
            roll = rng.random()
            kind = "search" if roll >= args.query_share else rng.choice(["query", "stream"])
            recorder.add(_request(base, tokens[number], kind, rng.choice(questions), "load"))
            time.sleep(rng.uniform(0.5, 1.5))  # think time: a person reading the result

    threads = [threading.Thread(target=user, args=(n,), daemon=True) for n in range(len(tokens))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(stop_at + args.drain - time.perf_counter(), 0))
    return time.perf_counter() - started


def _request(base: str, token: str, kind: str, question: str, phase: str) -> Result:
    body: dict[str, object]
    if kind == "search":
        path, body = "/api/v1/search", {"query": question}
    else:
        path, body = "/api/v1/query", {"question": question, "stream": kind == "stream"}
    request = urllib.request.Request(  # noqa: S310 - loopback
        base + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=900) as response:  # noqa: S310 - loopback
            payload = response.read()
            status = response.status
            if kind == "stream" and b"event: error" in payload:
                # a stream that failed midway: load shedding (model busy) counts as the 429 it
                # would have been before the stream started, anything else as a server error
                status = 429 if b'"code": "model_busy"' in payload else 503
    except urllib.error.HTTPError as err:
        err.read()
        status = err.code
    except OSError:
        status = 599  # connection failed: no response at all
    return Result(kind, status, time.perf_counter() - started, phase)


def _report(
    recorder: Recorder,
    args: argparse.Namespace,
    *,
    command: str,
    load_seconds: float,
    ingest_seconds: float,
    documents: int,
) -> Json:
    load = [r for r in recorder.results if r.phase == "load"]
    baseline = [r for r in recorder.results if r.phase == "baseline"]
    statuses = Counter(r.status for r in load)
    per_kind = {kind: _latencies([r for r in load if r.kind == kind]) for kind in KINDS}
    alone = {
        kind: _latencies([r for r in baseline if r.kind == kind]) for kind in ("search", "query")
    }
    return {
        "command": command,
        "users": args.users,
        "server_threads": _threads(args),
        "load_seconds": args.seconds,
        "wall_seconds_incl_drain": round(load_seconds, 1),
        "corpus_documents": documents,
        "ingest_seconds": round(ingest_seconds, 1),
        "requests": len(load),
        "throughput_rps": round(len(load) / load_seconds, 2) if load_seconds else 0.0,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": {
            "5xx": sum(v for k, v in statuses.items() if k >= 500),
            "4xx": sum(v for k, v in statuses.items() if 400 <= k < 500),
        },
        "latency_s": per_kind,
        "baseline_one_user_s": alone,
        "ratios_p50_load_vs_alone": {
            kind: _ratio(per_kind[kind]["p50"], alone[kind]["p50"]) for kind in ("search", "query")
        },
        "machine": {"cores": os.cpu_count(), "load_avg_1m_end": os.getloadavg()[0]},
    }


def _latencies(results: list[Result]) -> Json:
    ok = sorted(r.seconds for r in results if r.status < 400)
    if not ok:
        return {"count": 0, "p50": None, "p95": None, "p99": None}
    return {
        "count": len(ok),
        "p50": nearest_rank(ok, 50),
        "p95": nearest_rank(ok, 95),
        "p99": nearest_rank(ok, 99),
        "mean": round(statistics.fmean(ok), 3),
    }


def _ratio(value: float | None, baseline: float | None) -> float | None:
    return round(value / baseline, 2) if value and baseline else None


def _summary(report: Json) -> str:
    lines = [
        f"{report['users']} users, {report['load_seconds']} s: {report['requests']} "
        f"requests, {report['throughput_rps']} req/s, statuses {report['statuses']}"
    ]
    for kind, stats in report["latency_s"].items():
        lines.append(
            f"  {kind:7} n={stats['count']:4}  p50={stats['p50']}  p95={stats['p95']}  "
            f"p99={stats['p99']}"
        )
    return "\n".join(lines)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
