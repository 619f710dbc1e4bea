"""Query path steps 4-5: refuse without the model when evidence is weak, otherwise prompt it
with numbered passages and stream its answer with checked citations.

`stream` yields text pieces as they are produced and ends with one `Answer`; a question that
goes to the model first yields `Sources`, the passages its prompt holds, before the model is
opened, so a caller can show them while the model reads. Condensing a follow-up with its
conversation happens first. A question is refused (retrieval.refusals) when the evidence is
weak, when the model judges that the passages do not hold the answer (retrieval.answerability),
when its answer is a non-answer in its own words (retrieval.non_answers: the first sentence is
held back until it is known not to be one), or when no sentence of it is supported by its
sources (retrieval.answer_checks, with the model judging each sentence when a
retrieval.claim_judge is given: after the stream, before the final `Answer`) and, when a second
attempt is on, neither is the one the model writes when asked again (retrieval.second_attempt;
`Retrying` says so, and the second answer is not streamed). The finished
text is checked: a blocked or refused answer's `text` replaces what was streamed, and an
answer that cites nothing is given citations, and a sentence citing a passage that does not hold
it cites the one that does (retrieval.attribution), so a stream's consumer must show the final
`Answer.text`, not the pieces.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from contextlib import closing
from dataclasses import dataclass, field

from kb.llm.chat import ChatModel, LlmBusy, Message, Usage
from kb.stores.types import AccessScope
from retrieval.answer_checks import (
    WITHHELD,
    AnswerCheck,
    StreamGuard,
    Verdict,
    check_answer,
)
from retrieval.answerability import AnswerabilityCheck
from retrieval.attribution import Attributed, attribute, recite
from retrieval.citations import CitationFilter
from retrieval.claim_judge import ClaimJudge
from retrieval.claim_support import ClaimEmbedder
from retrieval.evidence import RefusalPolicy
from retrieval.non_answers import first_sentence_complete, is_non_answer
from retrieval.prompt_budget import fit_passages
from retrieval.prompting import PromptTemplate, answer_messages, condense_messages
from retrieval.refusals import (
    NOT_FOUND,
    RefusalReason,
    closest_sources,
    missing_names,
    refusal_text,
)
from retrieval.retriever import AllowedDocuments, Retrieval, Retriever
from retrieval.second_attempt import second_attempt_messages
from retrieval.timing import ms_since
from retrieval.translation import Translating
from retrieval.types import Passage

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
    refusal: RefusalReason = RefusalReason.NONE
    closest: list[Passage] = field(default_factory=list)  # a refusal's nearest sources
    answerability: float | None = None  # the check's probability of "yes", when it ran
    attributed: bool = False  # the model cited nothing: retrieval.attribution gave citations
    # The model's first answer, when none of its sentences was supported and the answer it
    # wrote when asked again (retrieval.second_attempt) replaced it; "" otherwise (latencies_ms
    # has "second_attempt" whenever it was asked).
    first_attempt: str = ""
    asked: str = ""  # the question as the asker wrote it, when `question` is its rewrite


@dataclass(frozen=True)
class Checking:
    """Yielded once the answer is written and before the model judges its `sentences`
    (retrieval.claim_judge, about two seconds each on a CPU), so a caller can say so while it
    waits for the final Answer."""

    sentences: int


@dataclass(frozen=True)
class Retrying:
    """Yielded when no sentence of the written answer is supported by its sources and the
    model is asked to answer again (retrieval.second_attempt): what was streamed is not the
    answer. The second answer is not streamed; the final Answer holds it, or the refusal."""


@dataclass(frozen=True)
class Sources:
    """The passages about to reach the prompt (post-checked, readable by the asker), yielded
    before the model starts: a question refused before the model yields none."""

    passages: list[Passage]


# What a stream yields besides the answer's text and its end: notices a caller may show.
Progress = Translating | Sources | Checking | Retrying


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
        answerability: AnswerabilityCheck | None = None,
        prompt_budget: int = 0,
        claim_embedder: ClaimEmbedder | None = None,
        claim_judge: ClaimJudge | None = None,
        refuse_uncovered: bool = False,
        second_attempt: bool = False,
    ) -> None:
        self.retriever = retriever
        self.on_prompt = on_prompt  # sees every prompt just before it is sent
        self.model = model  # opened lazily: a refusal never loads the model
        self.template = template
        self.refusal = refusal
        self.max_tokens = max_tokens
        self.checks = checks  # off only to measure what they prevent (bench injection)
        self.answerability = answerability
        self.prompt_budget = prompt_budget  # tokens of passages; 0: all, whole
        self.claim_embedder = claim_embedder  # judges sentences in another script when multilingual
        # With a judge, the model also judges each sentence the rules found supported, and may
        # withdraw that support (retrieval.claim_judge).
        self.claim_judge = claim_judge
        # A question naming a product, service or identifier that no passage found mentions
        # (retrieval.refusals.missing_names: as asked, or in a translation searched), nor any
        # other readable part of their documents, is refused before the model: a near miss.
        self.refuse_uncovered = refuse_uncovered
        # An answer none of whose sentences is supported is written once more before it is
        # refused (retrieval.second_attempt).
        self.second_attempt = second_attempt

    def stream(
        self,
        question: str,
        *,
        scope: AccessScope,
        allowed: AllowedDocuments,
        top_k: int,
        history: Sequence[Message] = (),
        document_scripts: AbstractSet[str] = frozenset(),
    ) -> Iterator[str | Progress | Answer]:
        """`document_scripts`: see Retriever.retrieve."""
        started = time.perf_counter()
        latencies: dict[str, float] = {}
        standalone = self._condense(question, history, latencies)
        retrieval = yield from self.retriever.retrieving(
            standalone,
            scope=scope,
            allowed=allowed,
            top_k=top_k,
            document_scripts=document_scripts,
        )
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
            asked=question,
        )
        evidence = (retrieval.evidence, *retrieval.translated_evidence)
        if not retrieval.passages or self.refusal.refuses_all(*evidence):
            yield self._refused(answer, RefusalReason.NO_EVIDENCE, started)
            return
        if self.refuse_uncovered and (missing := self._uncovered(answer, scope)):
            yield self._refused(answer, RefusalReason.NOT_COVERED, started, missing)
            return
        yield from self._generate(answer, started)

    def _generate(self, answer: Answer, started: float) -> Iterator[str | Progress | Answer]:
        fitted = fit_passages(answer.question, answer.retrieval.passages, budget=self.prompt_budget)
        passages = fitted.passages
        answer.latencies_ms["sources"] = ms_since(started)
        yield Sources(passages)
        model = self.model()
        answer.prompt = answer_messages(
            self.template, answer.question, fitted.prompt, asked=answer.asked
        )
        answer.passages, answer.model = passages, model.name
        if not self._answerable(model, answer):
            yield self._refused(answer, RefusalReason.NOT_ANSWERABLE, started)
            return
        self._announce(answer.prompt)
        citations = CitationFilter({p.n for p in passages})
        guard = StreamGuard(passages) if self.checks else None
        parts: list[str] = []
        held = True  # until the first sentence shows it is not a non-answer
        generating = time.perf_counter()
        with closing(
            model.stream(answer.prompt, max_tokens=self.max_tokens, usage=answer.usage)
        ) as pieces:
            for piece in pieces:
                if not parts:
                    answer.latencies_ms["first_token"] = ms_since(started)
                parts.append(citations.feed(piece))
                text = parts[-1]
                if held:
                    text = "".join(parts)
                    if not first_sentence_complete(text):
                        continue
                    if is_non_answer(text):
                        break  # closing the stream frees the model at once
                    held = False
                if shown := (guard.feed(text) if guard else text):
                    yield shown
        parts.append(citations.flush())
        answer.latencies_ms["generate"] = ms_since(generating)
        text = "".join(parts).strip()
        if is_non_answer(text):
            yield self._refused(answer, RefusalReason.DECLINED, started)
            return
        if shown := self._release(guard, "".join(parts) if held else parts[-1]):
            yield shown
        answer.text, answer.refused = text, False
        answer.cited = _cited(answer, citations)
        yield from self._verify(answer, model)
        if answer.check.nothing_supported and self.second_attempt:
            yield Retrying()
            if self._attempt_again(answer, model):
                yield from self._verify(answer, model)
        if answer.check.nothing_supported or (answer.first_attempt and _unfounded(answer.check)):
            yield self._refused(answer, RefusalReason.UNSUPPORTED, started)
            return
        if not answer.cited:  # a blocked answer has no claims to cite for
            _attribute(answer)
        answer.latencies_ms["total"] = ms_since(started)
        yield answer

    def _verify(self, answer: Answer, model: ChatModel) -> Iterator[Checking]:
        """The claim check of the written answer, sentences re-cited to the passage that states
        them, then the judge when there is one."""
        self._check(answer)
        if answer.check.verdict is Verdict.UNGROUNDED:
            _recite(answer)
        if self.claim_judge is not None and (judged := _to_judge(answer.check)):
            yield Checking(judged)
            self._judge(answer, self.claim_judge, model)

    def _attempt_again(self, answer: Answer, model: ChatModel) -> bool:
        """The model's second answer (retrieval.second_attempt) in place of its first; False,
        with the answer left as it was, when the second is a non-answer."""
        started = time.perf_counter()
        messages = second_attempt_messages(answer.prompt, answer.text)
        self._announce(messages)
        usage = Usage()
        citations = CitationFilter({p.n for p in answer.passages})
        try:
            with closing(model.stream(messages, max_tokens=self.max_tokens, usage=usage)) as pieces:
                text = "".join(citations.feed(piece) for piece in pieces)
        except LlmBusy:  # others wait for the model: the first answer's refusal, not an error
            return False
        finally:
            answer.latencies_ms["second_attempt"] = ms_since(started)
        text = (text + citations.flush()).strip()
        # The second prompt holds the first (its prefix, evaluated once): the larger counts.
        answer.usage.prompt_tokens = max(answer.usage.prompt_tokens, usage.prompt_tokens)
        answer.usage.completion_tokens += usage.completion_tokens
        if is_non_answer(text):
            return False
        answer.first_attempt = answer.text
        answer.text, answer.cited = text, _cited(answer, citations)
        return True

    def _answerable(self, model: ChatModel, answer: Answer) -> bool:
        if self.answerability is None:
            return True
        checking = time.perf_counter()
        messages = self.answerability.messages(answer.prompt)
        self._announce(messages)
        answer.answerability = self.answerability.probability(model, messages)
        answer.latencies_ms["answerability"] = ms_since(checking)
        return self.answerability.answerable(answer.answerability)

    @staticmethod
    def _release(guard: StreamGuard | None, text: str) -> str:
        return guard.feed(text) + guard.flush() if guard else text

    def _uncovered(self, answer: Answer, scope: AccessScope) -> list[str]:
        """The names of the question that none of the passages found mentions (`_missing`)
        nor any other chunk of their documents the asker may read: a name the passage's own
        document uses elsewhere (the handbook's example company, named in the chapter's
        introduction) is the document's topic, not a near miss."""
        missing = _missing(answer)
        if not missing:
            return []
        started = time.perf_counter()
        documents = {passage.document_id for passage in answer.retrieval.passages}
        mentioned = self.retriever.mentioned(missing, document_ids=documents, scope=scope)
        answer.latencies_ms["names"] = ms_since(started)
        return [word for word in missing if word not in mentioned]

    def _refused(
        self,
        answer: Answer,
        reason: RefusalReason,
        started: float,
        missing: list[str] | None = None,
    ) -> Answer:
        """The answer as a refusal naming the closest sources (all readable by the asker) and
        the names of the question they lack (`missing`, when already known)."""
        answer.refused, answer.refusal, answer.cited = True, reason, []
        answer.closest = closest_sources(answer.retrieval.passages)
        if missing is None:
            missing = _missing(answer)
        answer.text = refusal_text(answer.question, answer.closest, missing)
        answer.latencies_ms["total"] = ms_since(started)
        return answer

    def _check(self, answer: Answer) -> None:
        if not self.checks:
            return
        answer.check = check_answer(
            answer.text,
            cited=answer.cited,
            passages=answer.passages,
            question=answer.question,
            embedder=self.claim_embedder,
        )
        if answer.check.verdict is Verdict.BLOCKED:
            answer.text = WITHHELD

    def _judge(self, answer: Answer, judge: ClaimJudge, model: ChatModel) -> None:
        answer.check, seconds = judge.judged(
            answer.check, answer.prompt, answer.passages, model, announce=self._announce
        )
        # Added up: a second attempt's sentences are judged too.
        answer.latencies_ms["claims"] = answer.latencies_ms.get("claims", 0.0) + seconds * 1000

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


def _unfounded(check: AnswerCheck) -> bool:
    """No sentence of a second answer is supported: none was, or none was checked ("Friday
    afternoon." cites nothing and is too short to be a claim). A blocked one is withheld as a
    first would be."""
    return check.verdict is not Verdict.BLOCKED and not any(c.supported for c in check.claims)


def _to_judge(check: AnswerCheck) -> int:
    """How many sentences the judge will read: those the rules let pass (a blocked answer has
    none)."""
    return sum(claim.supported for claim in check.claims)


def _missing(answer: Answer) -> list[str]:
    """The names of the question, as asked or as translated for the search, that none of the
    passages found mentions (retrieval.refusals.missing_names)."""
    retrieval = answer.retrieval
    return missing_names(answer.question, retrieval.translations, retrieval.passages)


def _cited(answer: Answer, citations: CitationFilter) -> list[Passage]:
    """The passages of the prompt the answer's markers name, in order of first use."""
    by_number = {p.n: p for p in answer.passages}
    return [by_number[n] for n in citations.cited]


def _recite(answer: Answer) -> None:
    """Sentences the passages they cite do not hold cite instead the one other passage that
    supports each on its own (retrieval.attribution)."""
    _cite(answer, recite(answer.text, answer.check, answer.passages))


def _attribute(answer: Answer) -> None:
    """An answer the model cited nothing in cites, for each supported sentence, the passage
    that supports it on its own (retrieval.attribution)."""
    question = f"{answer.asked} {answer.question}"  # as written, and as searched
    _cite(answer, attribute(answer.text, answer.check, answer.passages, question=question))
    answer.attributed = bool(answer.cited)


def _cite(answer: Answer, cited: Attributed) -> None:
    """The answer's text, check and citations as retrieval.attribution left them."""
    by_number = {p.n: p for p in answer.passages}
    answer.text, answer.check = cited.text, cited.check
    answer.cited = [by_number[n] for n in cited.cited]
