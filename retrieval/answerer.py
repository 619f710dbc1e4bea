"""Query path steps 4-5: refuse without the model when evidence is weak, otherwise prompt it
with numbered passages and stream its answer with checked citations.

`stream` yields text pieces as they are produced and ends with one `Answer`; `answer` is the
same without the pieces. Condensing a follow-up with its conversation happens first. The
finished text is checked (retrieval.answer_checks): a blocked answer's `text` is the withheld
message, so a stream's consumer must show the final `Answer.text`, not the pieces.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from kb.llm.chat import ChatModel, Message, Usage
from kb.stores.types import AccessScope
from retrieval.answer_checks import (
    WITHHELD,
    AnswerCheck,
    StreamGuard,
    Verdict,
    check_answer,
)
from retrieval.citations import CitationFilter
from retrieval.evidence import RefusalPolicy
from retrieval.prompting import PromptTemplate, answer_messages, condense_messages
from retrieval.retriever import AllowedDocuments, Retrieval, Retriever
from retrieval.timing import ms_since
from retrieval.types import Passage

NOT_FOUND = "Not found in the knowledge base."
# What the template asks the model to say when the passages hold no answer.
_UNKNOWN_PREFIXES = ("i don't know", "i do not know", "i don’t know")
CONDENSE_MAX_TOKENS = 96


@dataclass
class Answer:
    question: str  # standalone form actually searched (the condensed follow-up)
    text: str
    refused: bool
    passages: list[Passage]  # what reached the prompt (empty when refused before the model)
    cited: list[Passage]
    retrieval: Retrieval
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    template_version: str = ""
    prompt: list[Message] = field(default_factory=list)
    latencies_ms: dict[str, float] = field(default_factory=dict)
    check: AnswerCheck = field(default_factory=AnswerCheck)


class Answerer:
    def __init__(
        self,
        *,
        retriever: Retriever,
        model: Callable[[], ChatModel],
        template: PromptTemplate,
        refusal: RefusalPolicy,
        max_tokens: int,
        on_prompt: Callable[[list[Message]], None] | None = None,
        checks: bool = True,
    ) -> None:
        self.retriever = retriever
        self.on_prompt = on_prompt  # sees every prompt just before it is sent
        self.model = model  # opened lazily: a refusal never loads the model
        self.template = template
        self.refusal = refusal
        self.max_tokens = max_tokens
        self.checks = checks  # off only to measure what they prevent (bench injection)

    def stream(
        self,
        question: str,
        *,
        scope: AccessScope,
        allowed: AllowedDocuments,
        top_k: int,
        history: Sequence[Message] = (),
    ) -> Iterator[str | Answer]:
        started = time.perf_counter()
        latencies: dict[str, float] = {}
        standalone = self._condense(question, history, latencies)
        retrieval = self.retriever.retrieve(standalone, scope=scope, allowed=allowed, top_k=top_k)
        latencies.update(retrieval.latencies_ms)
        answer = Answer(
            standalone,
            NOT_FOUND,
            True,
            [],
            [],
            retrieval,
            template_version=self.template.version,
            latencies_ms=latencies,
        )
        if not retrieval.passages or self.refusal.refuses(retrieval.evidence):
            latencies["total"] = ms_since(started)
            yield answer
            return
        yield from self._generate(answer, started)

    def _generate(self, answer: Answer, started: float) -> Iterator[str | Answer]:
        model = self.model()
        passages = answer.retrieval.passages
        answer.prompt = answer_messages(self.template, answer.question, passages)
        answer.passages, answer.model = passages, model.name
        self._announce(answer.prompt)
        citations = CitationFilter({p.n for p in passages})
        guard = StreamGuard(passages) if self.checks else None
        parts: list[str] = []
        generating = time.perf_counter()
        for piece in model.stream(answer.prompt, max_tokens=self.max_tokens, usage=answer.usage):
            if not parts:
                answer.latencies_ms["first_token"] = ms_since(started)
            text = citations.feed(piece)
            parts.append(text)
            if shown := (guard.feed(text) if guard else text):
                yield shown
        tail = citations.flush()
        parts.append(tail)
        if shown := (guard.feed(tail) + guard.flush() if guard else tail):
            yield shown
        answer.latencies_ms["generate"] = ms_since(generating)
        text = "".join(parts).strip()
        answer.refused = not text or text.lower().startswith(_UNKNOWN_PREFIXES)
        answer.text = NOT_FOUND if answer.refused else text
        by_number = {p.n: p for p in passages}
        answer.cited = [] if answer.refused else [by_number[n] for n in citations.cited]
        self._check(answer)
        answer.latencies_ms["total"] = ms_since(started)
        yield answer

    def _check(self, answer: Answer) -> None:
        if answer.refused or not self.checks:
            return
        answer.check = check_answer(answer.text, cited=answer.cited, passages=answer.passages)
        if answer.check.verdict is Verdict.BLOCKED:
            answer.text = WITHHELD

    def _condense(
        self, question: str, history: Sequence[Message], latencies: dict[str, float]
    ) -> str:
        """A follow-up ("and on Windows?") is rewritten with its conversation before search."""
        if not history:
            return question
        started = time.perf_counter()
        messages = condense_messages(self.template, history, question)
        self._announce(messages)
        rewritten = self.model().chat(messages, max_tokens=CONDENSE_MAX_TOKENS).strip()
        latencies["condense"] = ms_since(started)
        return rewritten.splitlines()[0].strip() if rewritten else question

    def _announce(self, messages: list[Message]) -> None:
        if self.on_prompt is not None:
            self.on_prompt(messages)
