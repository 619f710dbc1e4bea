"""What the answerer yields before the model starts (retrieval/answerer.py): the passages its
prompt will hold, so a caller can show them while the model reads, and nothing for a question
refused before the model. Retrieval and the model are stood in for: only the order is tested."""

from __future__ import annotations

from collections.abc import Generator, Sequence

import pytest

from kb.llm.chat import Message, Usage
from kb.stores.types import AccessScope
from retrieval.answerer import Answer, Answerer, Progress, Sources
from retrieval.evidence import NO_EVIDENCE, Evidence, RefusalPolicy
from retrieval.prompting import load_template
from retrieval.retriever import Retrieval
from retrieval.types import Passage
from tests.support.retrieval import Found

pytestmark = pytest.mark.unit

QUESTION = "Who descales the coffee machine?"
SCOPE = AccessScope(collection_ids=[1], acl=["group:1"])
STRONG = Evidence(dense=0.9, coverage=1.0)


def passage(n: int) -> Passage:
    text = "Facilities descale the coffee machine every Friday."
    return Passage(n, f"chunk-{n}", 7, "Kitchen", 2, "Coffee", text, 0.03, ("dense",))


class Model:
    """Records when it is opened and whether it was asked anything."""

    name = "scripted"

    def __init__(self, events: list[str]) -> None:
        self.events = events

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
        self.events.append("model streams")
        yield from ["Facilities ", "descale it [1]."]

    def choose(self, messages: Sequence[Message], options: Sequence[str]) -> dict[str, float]:
        raise AssertionError("the answerability check is off here")


def answerer(retrieval: Retrieval, events: list[str], *, prompt_budget: int = 0) -> Answerer:
    def opened() -> Model:
        events.append("model opened")
        return Model(events)

    return Answerer(
        retriever=Found(retrieval),
        model=opened,
        template=load_template("answer-v1"),
        refusal=RefusalPolicy(min_dense=0.5, min_coverage=0.5),
        max_tokens=32,
        prompt_budget=prompt_budget,
    )


def run(retrieval: Retrieval, *, prompt_budget: int = 0) -> list[tuple[object, list[str]]]:
    """The stream's items, each with what had happened to the model when it arrived."""
    events: list[str] = []
    return [
        (item, list(events))
        for item in answerer(retrieval, events, prompt_budget=prompt_budget).stream(
            QUESTION, scope=SCOPE, allowed=lambda ids: ids, top_k=4
        )
    ]


def test_the_prompts_passages_come_first_before_the_model_is_even_opened() -> None:
    passages = [passage(1), passage(2)]

    (first, before), (token, after), *_, (last, _) = run(Retrieval({}, passages, STRONG))

    assert isinstance(first, Sources) and first.passages == passages and before == []
    assert isinstance(token, str) and after == ["model opened", "model streams"]
    assert isinstance(last, Answer) and last.passages == passages  # exactly what was prompted
    assert last.latencies_ms["sources"] <= last.latencies_ms["total"]


@pytest.mark.parametrize(
    "retrieval",
    [Retrieval({}, [], NO_EVIDENCE), Retrieval({}, [passage(1)], NO_EVIDENCE)],
    ids=["nothing-found", "weak-evidence"],
)
def test_a_question_refused_before_the_model_yields_no_sources(retrieval: Retrieval) -> None:
    ((answer, events),) = run(retrieval)

    assert isinstance(answer, Answer) and answer.refused and events == []


def test_with_a_budget_the_prompt_holds_trimmed_passages_and_the_answer_the_whole_ones() -> None:
    noise = "Lunch is at noon. Parking is free. The lift is on the left. "
    text = noise + "Facilities descale the coffee machine every Friday. " + noise
    long = Passage(1, "chunk-1", 7, "Kitchen", 2, "Coffee", text, 0.03, ("dense",))

    *_, (last, _) = run(Retrieval({}, [long, passage(2)], STRONG), prompt_budget=1000)

    assert isinstance(last, Answer) and [p.text for p in last.passages] == [text, passage(2).text]
    prompt = last.prompt[1]["content"]
    assert "Facilities descale the coffee machine every Friday." in prompt
    assert "Parking is free." not in prompt and "…" in prompt
    assert [c.n for c in last.cited] == [1] and last.cited[0].text == text


def _uncovered(mentions: frozenset[str]) -> tuple[list[str | Progress | Answer], Found]:
    """A question naming "Falcot", which the passages (document 7) do not mention."""
    events: list[str] = []
    found = Found(Retrieval({}, [passage(1), passage(2)], STRONG), mentions=mentions)
    asking = answerer(found.retrieval, events)
    asking.retriever, asking.refuse_uncovered = found, True
    question = "Who descales the Falcot coffee machine?"
    items = list(asking.stream(question, scope=SCOPE, allowed=lambda ids: ids, top_k=4))
    return items, found


def test_a_name_no_passage_nor_their_documents_mention_is_refused_before_the_model() -> None:
    (answer,), found = _uncovered(frozenset())

    assert isinstance(answer, Answer) and answer.refused and answer.refusal == "not_covered"
    assert "“Falcot”" in answer.text
    assert found.asked == [{7}]  # the passages' own documents, nothing wider


def test_a_name_the_passages_documents_mention_elsewhere_reaches_the_model() -> None:
    items, _ = _uncovered(frozenset({"Falcot"}))

    answer = items[-1]
    assert isinstance(items[0], Sources)
    assert isinstance(answer, Answer) and not answer.refused
    assert "names" in answer.latencies_ms


class Rewriting(Model):
    """Rewrites a follow-up into English, as a small model may."""

    def chat(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float = 0.0
    ) -> str:
        return "Who descales the coffee machine on Fridays?"


def test_a_follow_up_rewritten_in_english_is_answered_in_the_askers_language() -> None:
    events: list[str] = []
    asking = Answerer(
        retriever=Found(Retrieval({}, [passage(1)], STRONG)),
        model=lambda: Rewriting(events),
        template=load_template("answer-v3"),
        refusal=RefusalPolicy(min_dense=0.5, min_coverage=0.5),
        max_tokens=32,
    )
    history: list[Message] = [
        {"role": "user", "content": "Кто чистит кофемашину?"},
        {"role": "assistant", "content": "Отдел хозяйственного обеспечения [1]."},
    ]

    *_, last = asking.stream(
        "А по пятницам?", scope=SCOPE, allowed=lambda ids: ids, top_k=4, history=history
    )

    assert isinstance(last, Answer) and last.question.startswith("Who descales")
    assert "\n\nAnswer in Russian.\n\nQuestion: Who descales" in last.prompt[-1]["content"]
