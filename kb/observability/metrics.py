"""Quarry's own Prometheus metrics, beside django-prometheus's request metrics.

Rates (documents and chunks per second, tokens per second, refusal rate, feedback ratio) are
computed by Prometheus from these counters: see kb/deploy/grafana/quarry.json for the queries.
A separate Celery worker serves them on KB_WORKER_METRICS_PORT; in the embedded default the
worker runs inside the web process, so `/metrics` holds everything. Where several processes count
(uvicorn's web workers, a prefork worker's children), each writes its values to files in
PROMETHEUS_MULTIPROC_DIR and the process that serves a scrape merges them (`serving_registry`):
a child's counts never sit in a registry nobody scrapes.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator, Mapping
from importlib import metadata

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

from kb.observability.metric_files import multiprocess_dir

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_LONG_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)

INGESTED_DOCUMENTS = Counter("quarry_ingest_documents", "Documents indexed")
INGESTED_CHUNKS = Counter("quarry_ingest_chunks", "Chunks written by indexed documents")
INGEST_FAILURES = Counter("quarry_ingest_failures", "Documents that failed, by reason", ["reason"])
INGEST_SECONDS = Histogram(
    "quarry_ingest_document_seconds", "Time to index one document", buckets=_LONG_BUCKETS
)
RETRIEVAL_SECONDS = Histogram(
    "quarry_retrieval_seconds", "Search time per retrieval path", ["path"], buckets=_LATENCY_BUCKETS
)
TRANSLATION_SECONDS = Histogram(
    "quarry_translation_seconds",
    "Time the model took to translate a question or search query, all its languages, before "
    "its search",
    buckets=_LATENCY_BUCKETS,
)
FIRST_TOKEN_SECONDS = Histogram(
    "quarry_llm_first_token_seconds",
    "From the question to the model's first token",
    buckets=_LATENCY_BUCKETS,
)
GENERATION_SECONDS = Counter("quarry_llm_generation_seconds", "Seconds spent generating")
COMPLETION_TOKENS = Counter("quarry_llm_completion_tokens", "Tokens generated")
PROMPT_TOKENS = Counter("quarry_llm_prompt_tokens", "Prompt tokens read")
ANSWERS = Counter("quarry_answers", "Questions answered", ["refused", "cached"])
ANSWER_SECONDS = Histogram(
    "quarry_answer_seconds", "Whole question, retrieval to last token", buckets=_LATENCY_BUCKETS
)
FEEDBACK = Counter("quarry_feedback", "Feedback given on answers", ["rating"])
MODEL_BUSY = Counter(
    "quarry_model_busy", "Questions turned away with 429 model_busy: the model's queue was full"
)
# livesum: what every live web worker holds now; a dead worker's share goes with it.
ANSWERS_IN_PROGRESS = Gauge(
    "quarry_answers_in_progress",
    "Questions in retrieval or with the model right now (cache hits not counted)",
    multiprocess_mode="livesum",
)

# Paths and stages as the query log names them.
_PATHS = ("dense", "sparse", "graph")


def document_indexed(chunks: int, seconds: float) -> None:
    INGESTED_DOCUMENTS.inc()
    INGESTED_CHUNKS.inc(chunks)
    INGEST_SECONDS.observe(seconds)


def document_failed(reason: str) -> None:
    INGEST_FAILURES.labels(reason=reason).inc()


def translation_taken(latencies_ms: Mapping[str, float]) -> None:
    """A question's or search query's translations, where the model was asked for any."""
    if "translate" in latencies_ms:
        TRANSLATION_SECONDS.observe(latencies_ms["translate"] / 1000)


def question_answered(
    *,
    latencies_ms: Mapping[str, float],
    refused: bool,
    cached: bool,
    prompt_tokens: int,
    completion_tokens: int,
) -> None:
    ANSWERS.labels(refused=str(refused).lower(), cached=str(cached).lower()).inc()
    for path in _PATHS:
        if path in latencies_ms:
            RETRIEVAL_SECONDS.labels(path=path).observe(latencies_ms[path] / 1000)
    translation_taken(latencies_ms)
    if "first_token" in latencies_ms:
        FIRST_TOKEN_SECONDS.observe(latencies_ms["first_token"] / 1000)
    if "generate" in latencies_ms:
        GENERATION_SECONDS.inc(latencies_ms["generate"] / 1000)
    if "total" in latencies_ms:
        ANSWER_SECONDS.observe(latencies_ms["total"] / 1000)
    PROMPT_TOKENS.inc(prompt_tokens)
    COMPLETION_TOKENS.inc(completion_tokens)


def feedback_given(rating: str) -> None:
    FEEDBACK.labels(rating=rating).inc()


def question_turned_away() -> None:
    MODEL_BUSY.inc()


class QueueDepthCollector(Collector):
    """Messages waiting in each Celery queue, read from the broker at scrape time."""

    def collect(self) -> Iterator[Metric]:
        from kb.observability.queues import queue_depths

        gauge = GaugeMetricFamily(
            "quarry_queue_depth", "Tasks waiting in the broker", labels=["queue"]
        )
        for queue, depth in queue_depths().items():
            gauge.add_metric([queue], depth)
        yield gauge


class BuildInfoCollector(Collector):
    """`quarry_build_info` 1, labelled with what runs: a constant read at scrape time, so no
    process has to set it and no multiprocess file holds it."""

    def collect(self) -> Iterator[Metric]:
        from django.conf import settings

        gauge = GaugeMetricFamily(
            "quarry_build_info",
            "Quarry's version, the Python running it and the answering model",
            labels=["version", "python", "model"],
        )
        gauge.add_metric(
            [_version(), platform.python_version(), str(settings.KB_LLM_MODEL_NAME)], 1
        )
        yield gauge


def _version() -> str:
    try:
        return metadata.version("quarry")
    except metadata.PackageNotFoundError:  # a checkout run without `pip install -e .`
        return "unknown"


def serving_registry() -> CollectorRegistry:
    """What a scrape of this process returns (`/metrics`, the worker's port): with a
    multiprocess folder, the values of every process that wrote there merged, else this
    process's own registry. Either way the scrape-time collectors come along."""
    if not multiprocess_dir():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus_client ships this untyped
    for collector in _scrape_time_collectors():
        registry.register(collector)
    return registry


def _scrape_time_collectors() -> list[Collector]:
    return [QueueDepthCollector(), BuildInfoCollector()]


_registered = False


def register_collectors() -> None:
    """Once per process (AppConfig.ready)."""
    global _registered
    if not _registered:
        for collector in _scrape_time_collectors():
            REGISTRY.register(collector)
        _registered = True
