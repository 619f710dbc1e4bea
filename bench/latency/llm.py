"""The language model alone (time to first token, prompt and generation speed) and whole
answers through the production Answerer."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from bench.common.environment import Timed
from bench.common.metrics import mean, percentiles
from bench.latency.corpus import dev_questions
from bench.latency.searches import pass_through, top_k

if TYPE_CHECKING:
    from kb.llm.chat import ChatModel, Message
    from kb.stores.types import AccessScope
    from retrieval.answerer import Answerer
    from retrieval.retriever import Retriever

ANSWER_MAX_TOKENS = 200
MIN_GENERATED = 16  # shorter replies ("I don't know") say little about generation speed
RETRIEVAL_STAGES = ("dense", "sparse", "graph", "fuse_check")
Json = dict[str, Any]


def llm_prompts(retriever: Retriever, scope: AccessScope, count: int) -> list[list[Message]]:
    """The configured template's prompts with the passages retrieved for the first dev-set
    questions."""
    from django.conf import settings

    from retrieval.prompting import answer_messages, load_template

    template = load_template(settings.KB_PROMPT_TEMPLATE)
    prompts = []
    for question in dev_questions()[:count]:
        retrieval = retriever.retrieve(question, scope=scope, allowed=pass_through, top_k=top_k())
        prompts.append(answer_messages(template, question, retrieval.passages))
    return prompts


@dataclass(frozen=True)
class LlmRun:
    prompt_tokens: int
    completion_tokens: int
    ttft_ms: float
    total_ms: float

    @property
    def prompt_tokens_per_s(self) -> float:
        """Prompt evaluation speed: the prompt's tokens over the time to the first token."""
        return self.prompt_tokens * 1000 / self.ttft_ms if self.ttft_ms else 0.0

    @property
    def generation_tokens_per_s(self) -> float:
        """Tokens after the first over the time after the first."""
        generating = self.total_ms - self.ttft_ms
        return (self.completion_tokens - 1) * 1000 / generating if generating > 0 else 0.0

    def as_json(self) -> Json:
        return {
            **asdict(self),
            "prompt_tokens_per_s": round(self.prompt_tokens_per_s, 1),
            "generation_tokens_per_s": round(self.generation_tokens_per_s, 2),
        }


def measure_llm(name: str, prompts: Sequence[list[Message]], *, runs: int) -> Json:
    """Time to first token (whole prompt evaluated: no cached prefix) and generation speed,
    over different prompts after one untimed warm-up."""
    from kb.llm.chat import LlamaCppChat

    with Timed() as loading:
        model = _open_model(name)
    try:
        _llm_run(model, prompts[0])  # warm-up
        with Timed() as running:
            timed = [_llm_run(model, prompt) for prompt in prompts[1 : runs + 1]]
    finally:
        if isinstance(model, LlamaCppChat) and not _is_default(name):
            model.close()
    return {
        "model": name,
        "default": _is_default(name),
        "load_s": round(loading.seconds, 2),
        "other_processes_cpu_share": running.other_share,
        "runs": [r.as_json() for r in timed],
        "prompt_tokens_mean": round(mean([r.prompt_tokens for r in timed]), 1),
        "completion_tokens_mean": round(mean([r.completion_tokens for r in timed]), 1),
        "ttft_ms": percentiles([r.ttft_ms for r in timed]),
        "prompt_tokens_per_s": percentiles([r.prompt_tokens_per_s for r in timed]),
        "generation_tokens_per_s": percentiles(
            [r.generation_tokens_per_s for r in timed if r.completion_tokens >= MIN_GENERATED]
        ),
    }


def _llm_run(model: ChatModel, prompt: list[Message]) -> LlmRun:
    from kb.llm.chat import Usage

    usage = Usage()
    _forget_prefix(model)
    started = time.perf_counter()
    first = 0.0
    for _piece in model.stream(prompt, max_tokens=ANSWER_MAX_TOKENS, usage=usage):
        first = first or time.perf_counter()
    ended = time.perf_counter()
    return LlmRun(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        ttft_ms=round(((first or ended) - started) * 1000, 1),
        total_ms=round((ended - started) * 1000, 1),
    )


def _is_default(name: str) -> bool:
    from django.conf import settings

    return bool(name == settings.KB_LLM_MODEL_NAME)


def _open_model(name: str) -> ChatModel:
    """The default is the production factory's process-wide model (kept open for the answers);
    another is opened by the same factory code with KB_LLM_MODEL_NAME set to it, outside the
    factory's cache."""
    from django.test import override_settings

    from kb.llm import factory

    if _is_default(name):
        return factory.chat_model()
    with override_settings(KB_LLM_MODEL_NAME=name, KB_LLM_MODEL_PATH=""):
        return factory._open()


def _forget_prefix(model: ChatModel) -> None:
    """llama-cpp-python reuses the KV cache of the prefix a prompt shares with the previous
    one; the micro-benchmark measures whole prompts."""
    llama = getattr(model, "_llama", None)
    if llama is not None:
        llama.reset()


@dataclass(frozen=True)
class AnswerRun:
    model_called: bool
    refused: bool
    sources_ms: float  # to the sources event (passages checked, before the model); 0 if none
    ttft_visible_ms: float  # to the first text piece the caller receives; 0 without the model
    total_ms: float
    prompt_tokens: int
    completion_tokens: int
    stages_ms: dict[str, float]

    @property
    def retrieval_ms(self) -> float:
        return sum(self.stages_ms.get(key, 0.0) for key in RETRIEVAL_STAGES)


def measure_answers(retriever: Retriever, scope: AccessScope, *, count: int, skip: int) -> Json:
    """The production Answerer (retrieval.factory.default_answerer, with the bench retriever)
    on dev-set questions not used above, until `count` of them reached the model."""
    from django.test import override_settings

    from retrieval.factory import default_answerer

    runs: list[AnswerRun] = []
    with override_settings(KB_ANSWER_MAX_TOKENS=ANSWER_MAX_TOKENS):
        answerer = default_answerer()
        answerer.retriever = retriever
        with Timed() as timed:
            for question in dev_questions()[skip:]:
                if sum(run.model_called for run in runs) >= count:
                    break
                runs.append(_answer_run(answerer, question, scope))
    called = [run for run in runs if run.model_called]
    return {
        "scope": "staff",
        "other_processes_cpu_share": timed.other_share,
        "questions": len(runs),
        "model_called": len(called),
        "refused_before_model": len(runs) - len(called),
        "said_i_dont_know": sum(run.refused for run in called),
        "sources_ms": percentiles([run.sources_ms for run in called]),
        "ttft_ms": percentiles([run.stages_ms.get("first_token", 0.0) for run in called]),
        "ttft_visible_ms": percentiles([run.ttft_visible_ms for run in called]),
        "total_ms": percentiles([run.total_ms for run in called]),
        "retrieval_ms": percentiles([run.retrieval_ms for run in called]),
        "prompt_tokens_mean": round(mean([run.prompt_tokens for run in called]), 1),
        "completion_tokens_mean": round(mean([run.completion_tokens for run in called]), 1),
        "runs": [asdict(run) for run in runs],
    }


def _answer_run(answerer: Answerer, question: str, scope: AccessScope) -> AnswerRun:
    from retrieval.answerer import Answer, Sources

    started = time.perf_counter()
    first = sources = 0.0
    answer: Answer | None = None
    for item in answerer.stream(question, scope=scope, allowed=pass_through, top_k=top_k()):
        if isinstance(item, Answer):
            answer = item
        elif isinstance(item, Sources):  # what the chat shows as cards before the model starts
            sources = sources or time.perf_counter()
        elif isinstance(item, str):
            first = first or time.perf_counter()
    ended = time.perf_counter()
    if answer is None:
        raise RuntimeError("the answer stream ended without an answer")
    return AnswerRun(
        model_called=bool(answer.model),
        refused=answer.refused,
        sources_ms=round((sources - started) * 1000, 1) if sources else 0.0,
        ttft_visible_ms=round((first - started) * 1000, 1) if first else 0.0,
        total_ms=round((ended - started) * 1000, 1),
        prompt_tokens=answer.usage.prompt_tokens,
        completion_tokens=answer.usage.completion_tokens,
        stages_ms=dict(answer.latencies_ms),
    )
