"""What a scrape of one process holds: build info, the registry served, questions in progress."""

from __future__ import annotations

import platform
from collections.abc import Generator, Iterator
from importlib import metadata
from typing import Any

import prometheus_client
import pytest
from pytest_django.fixtures import Settings

from kb import answering
from kb.observability import metrics
from kb.observability.metrics import serving_registry

pytestmark = pytest.mark.unit


def test_build_info_names_the_version_python_and_model(settings: Settings) -> None:
    settings.KB_LLM_MODEL_NAME = "qwen-test-model"
    labels = {
        "version": metadata.version("quarry"),
        "python": platform.python_version(),
        "model": "qwen-test-model",
    }

    value = prometheus_client.REGISTRY.get_sample_value("quarry_build_info", labels)

    assert value == 1


def test_one_process_serves_its_own_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make run`: the embedded worker counts in the web process, no folder involved."""
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)

    assert serving_registry() is prometheus_client.REGISTRY


class _Talking:
    def stream(self, question: str, **kwargs: Any) -> Iterator[str]:
        yield from ("Backups ", "run ", "nightly.")


def test_a_question_is_in_progress_until_its_stream_ends_or_is_closed() -> None:
    idle = _in_progress()
    stream = answering._answer(
        _Talking(),  # type: ignore[arg-type]  # only its stream() is used
        None,  # type: ignore[arg-type]
        "When do backups run?",
        None,  # type: ignore[arg-type]
        lambda ids: ids,
        top_k=4,
        history=(),
        key=None,
    )

    assert isinstance(stream, Generator)
    next(stream)
    answering_now = _in_progress()
    stream.close()  # the client went away

    assert (answering_now, _in_progress()) == (idle + 1, idle)


def _in_progress() -> float:
    return prometheus_client.REGISTRY.get_sample_value("quarry_answers_in_progress") or 0.0


def test_a_questions_translation_time_is_observed_when_it_was_translated() -> None:
    def translations() -> float:
        return prometheus_client.REGISTRY.get_sample_value("quarry_translation_seconds_count") or 0

    before = translations()
    for latencies in ({"dense": 80.0}, {"translate": 900.0, "dense": 80.0}):
        metrics.question_answered(
            latencies_ms=latencies,
            refused=False,
            cached=False,
            prompt_tokens=1,
            completion_tokens=1,
        )

    assert translations() == before + 1
