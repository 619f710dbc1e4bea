"""An answer none of whose sentences its passages support is written once more before it is
refused (retrieval/second_attempt.py, retrieval/answerer.py). The model is stood in for by one
that replies from a script; the claim check, recitation and refusals are the real ones."""

from __future__ import annotations

from collections.abc import Generator, Sequence

import pytest

from kb.llm.chat import LlmBusy, Message, Usage
from kb.stores.types import AccessScope
from retrieval.answerer import Answer, Answerer, Retrying
from retrieval.evidence import Evidence, RefusalPolicy
from retrieval.prompting import load_template
from retrieval.refusals import RefusalReason
from retrieval.retriever import Retrieval
from retrieval.second_attempt import INSTRUCTION
from retrieval.types import Passage
from tests.support.retrieval import Found

pytestmark = pytest.mark.unit

QUESTION = "When is the coffee machine descaled?"
SCOPE = AccessScope(collection_ids=[1], acl=["group:1"])
PASSAGES = [
    Passage(1, "chunk-1", 7, "Kitchen", 2, "Coffee", "Lunch is served at noon in the canteen.",
            0.03, ("dense",)),
    Passage(2, "chunk-2", 8, "Rota", 1, "Coffee",
            "Facilities descale the coffee machine every Friday afternoon.", 0.02, ("dense",)),
]  # fmt: skip
WRONG = "The coffee machine is descaled by reception on the first Monday of each month [1]."
RIGHT = "Facilities descale the coffee machine every Friday afternoon [2]."
BUSY = "(the model is busy)"


class Model:
    """Replies with the next of its scripted answers and keeps the messages of each call."""

    name = "scripted"

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies
        self.calls: list[list[Message]] = []

    def chat(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float = 0.0
    ) -> str:
        raise AssertionError("no follow-up here: nothing to condense")

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        usage: Usage | None = None,
    ) -> Generator[str, None, None]:
        self.calls.append(list(messages))
        reply = self.replies[len(self.calls) - 1]
        if reply == BUSY:
            raise LlmBusy("others are waiting")
        if usage is not None:
            usage.prompt_tokens, usage.completion_tokens = 100, len(reply.split())
        yield from reply.split(" ")[:1]
        yield from (" " + word for word in reply.split(" ")[1:])

    def choose(self, messages: Sequence[Message], options: Sequence[str]) -> dict[str, float]:
        raise AssertionError("the answerability check is off here")


def ask(model: Model, *, second_attempt: bool = True) -> list[object]:
    answerer = Answerer(
        retriever=Found(Retrieval({}, PASSAGES, Evidence(dense=0.9, coverage=1.0))),
        model=lambda: model,
        template=load_template("answer-v1"),
        refusal=RefusalPolicy(min_dense=0.5, min_coverage=0.5),
        max_tokens=64,
        second_attempt=second_attempt,
    )
    return list(answerer.stream(QUESTION, scope=SCOPE, allowed=lambda ids: ids, top_k=4))


def final(items: list[object]) -> Answer:
    answer = items[-1]
    assert isinstance(answer, Answer)
    return answer


def test_an_unsupported_answer_is_written_again_and_the_supported_second_served() -> None:
    model = Model([WRONG, RIGHT])

    items = ask(model)

    answer = final(items)
    assert not answer.refused and answer.text == RIGHT and answer.first_attempt == WRONG
    assert [p.n for p in answer.cited] == [2]
    assert [c.supported for c in answer.check.claims] == [True]
    assert sum(isinstance(item, Retrying) for item in items) == 1
    streamed = "".join(item for item in items if isinstance(item, str))
    assert streamed == WRONG  # the second answer is not streamed; the final Answer holds it
    first, second = model.calls
    assert second[: len(first)] == first  # the prompt is its prefix: llama.cpp re-uses it
    assert second[len(first) :] == [
        {"role": "assistant", "content": WRONG},
        {"role": "user", "content": INSTRUCTION},
    ]
    assert answer.usage.completion_tokens == len(WRONG.split()) + len(RIGHT.split())
    assert "second_attempt" in answer.latencies_ms


@pytest.mark.parametrize(
    "second",
    [
        pytest.param("I don't know.", id="non-answer"),
        pytest.param("Reception descales the coffee machine on Mondays [1].", id="unsupported"),
        pytest.param("Friday afternoon.", id="nothing-checkable"),  # too short to be a claim
        pytest.param(BUSY, id="model-busy"),  # others wait: a refusal, not an error
    ],
)
def test_a_second_answer_no_better_than_the_first_is_refused(second: str) -> None:
    model = Model([WRONG, second])

    answer = final(ask(model))

    assert answer.refused and answer.refusal is RefusalReason.UNSUPPORTED
    assert answer.cited == [] and len(model.calls) == 2
    assert "second_attempt" in answer.latencies_ms  # asked again, whatever came of it
    # The first answer is recorded as replaced only when the second was checked in its place.
    if second in ("I don't know.", BUSY):
        assert answer.first_attempt == ""
        assert [c.text for c in answer.check.claims] == [WRONG]
    else:
        assert answer.first_attempt == WRONG
        assert not any(c.supported for c in answer.check.claims)


def test_a_supported_answer_is_written_once() -> None:
    model = Model([RIGHT])

    items = ask(model)

    assert not final(items).refused and final(items).first_attempt == ""
    assert len(model.calls) == 1 and not any(isinstance(item, Retrying) for item in items)


def test_without_a_second_attempt_the_unsupported_answer_is_refused_at_once() -> None:
    model = Model([WRONG, RIGHT])

    items = ask(model, second_attempt=False)

    assert final(items).refused and len(model.calls) == 1
    assert not any(isinstance(item, Retrying) for item in items)
