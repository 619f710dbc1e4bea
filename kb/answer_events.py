"""An answering run as its caller sees it, for the REST API (`POST /api/v1/query`) and the chat
page alike: the finished answer's JSON, the events of a streamed answer framed as server-sent
events, and the errors of a run that fails.

A stream is `translating` ({languages}: "English", "Chinese", "Russian") only when the question is
about to be translated by the model to be searched in those languages too (seconds on a CPU,
retrieval.translation), then `sources` ({sources}: the passages the prompt holds, in snippet_out's
shape) as soon as they are retrieved and post-checked, before the model starts (a question refused
before the model has none; a cached answer sends its own), then `token` events ({text}) as the
model writes, then `checking` ({sentences}) when the model judges the answer's sentences against
their passages (retrieval.claim_judge: about two seconds each on a CPU), `retrying` ({}) when no
sentence of the streamed answer is supported by its sources and the model writes it again
(retrieval.second_attempt: the streamed text is not the answer; the second is not streamed,
`done`'s `answer` holds it, and `checking` may follow again for it), then `check` ({check, answer})
only when the answer was blocked (its `answer` replaces the streamed text) or is ungrounded, then
`citations` ({citations, refused, refusal, closest}), any events the caller adds (the chat:
`conversation`), and `done` ({query_id, answer, refused, refusal, check, claims}: `claims` lists
the answer's checked sentences, {text, supported, passages, start, end}, those its sources do not
support with `supported: false`, `start` and `end` where the sentence stands in `answer`
(retrieval.answer_checks.claim_spans)). A question can be refused after its sources and tokens were
streamed (retrieval.answerer: the answerability check, the model's non-answer, or an answer none of
whose sentences its sources support): `citations` with `refused: true` says that the streamed text,
if any, is not the answer; `done`'s `answer` (the refusal text) replaces it. `done`'s `answer` is
always the final text: for an answer the model wrote without `[n]` markers it also holds those
retrieval.attribution gave its sentences, which the streamed tokens lack, a sentence cited to a
passage that does not state it cites the one that does (retrieval.attribution.recite), and
`claims`' offsets are in it. A refusal has no citations and no check; `refusal` says why
(retrieval.refusals.RefusalReason) and `closest` lists the nearest sources the asker may read, in
source_out's shape. A run that fails ends the stream with one `error` event ({error: {code,
message}}) carrying the code of the JSON error (429 `model_busy`, 503 `unavailable`) the same
failure gets when it happens before a stream starts."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.http import StreamingHttpResponse
from rest_framework import exceptions, status

from kb.answering import Finished
from kb.error_text import without_paths
from kb.llm.chat import BUSY_MESSAGE, LlmBusy, LlmUnavailable
from kb.llm.factory import model_saturated
from kb.observability import metrics
from kb.stores.errors import StoreError
from kb.streaming import iterate_in_thread
from kb.text.shorten import shortened
from retrieval.answer_checks import Claim, Span, claim_spans
from retrieval.answerer import Answer, Checking, Progress, Retrying, Sources
from retrieval.refusals import gap_sentence
from retrieval.translation import Translating
from retrieval.types import Passage

# Seconds a busy model's callers are told to wait before asking again.
BUSY_RETRY_AFTER = 30
# Characters of a passage's text its `sources` entry shows.
SNIPPET_CHARS = 240


class ModelBusy(exceptions.Throttled):
    """Load shedding, not failure: the caller should come back shortly (429, Retry-After)."""

    default_code = "model_busy"
    default_detail = BUSY_MESSAGE

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(wait=BUSY_RETRY_AFTER, detail=detail)


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"


# What a run raises when the model or a store cannot serve it (anything else is a bug: a 500).
FAILURES = (LlmUnavailable, StoreError)


@dataclass(frozen=True)
class AnswerOut:
    """A finished answer as the caller receives it (the API's QueryOut)."""

    query_id: int
    answer: str
    refused: bool
    refusal: str  # why it was refused: "" or a retrieval.refusals.RefusalReason
    check: str  # "", "blocked" or "ungrounded" (retrieval.answer_checks.Verdict); "" if refused
    citations: list[dict[str, Any]]
    closest: list[dict[str, Any]]  # a refusal's nearest readable sources (source_out)
    claims: list[dict[str, Any]]  # the answer's checked sentences (claim_out); none if refused
    gap: str = ""  # a refusal's sentence naming the question's words its closest sources lack

    def sources(self) -> dict[str, Any]:
        """The `citations` event: refused true also means "the streamed text is not the
        answer: replace it with `done`'s"."""
        return {
            "citations": self.citations,
            "refused": self.refused,
            "refusal": self.refusal,
            "closest": self.closest,
            "gap": self.gap,
        }

    def done(self) -> dict[str, Any]:
        """The last event of a stream: the final text, which a blocked or refused answer's
        streamed tokens do not match, nor those of an answer given citations."""
        return {
            "query_id": self.query_id,
            "answer": self.answer,
            "refused": self.refused,
            "refusal": self.refusal,
            "check": self.check,
            "claims": self.claims,
        }


@dataclass(frozen=True)
class Event:
    """One server-sent event; its data is always a JSON object."""

    name: str
    data: dict[str, Any]

    def sse(self) -> bytes:
        return f"event: {self.name}\ndata: {json.dumps(self.data, ensure_ascii=False)}\n\n".encode()


def answer_out(finished: Finished) -> AnswerOut:
    """A refusal's text says why it has no citations; the check of an answer it replaced
    (unsupported: ungrounded) is the query log's business, not the caller's."""
    answer = finished.answer
    refused = answer.refused
    return AnswerOut(
        query_id=finished.log.pk,
        answer=answer.text,
        refused=refused,
        refusal=str(answer.refusal),
        check="" if refused else str(answer.check.verdict),
        citations=[] if refused else [passage_out(p) for p in _sources(answer)],
        closest=[source_out(p) for p in answer.closest] if refused else [],
        claims=[] if refused else claims_out(answer.text, answer.check.claims),
        gap=gap_sentence(answer.text) if refused else "",
    )


def claims_out(text: str, claims: Sequence[Claim]) -> list[dict[str, Any]]:
    return [claim_out(c, span) for c, span in zip(claims, claim_spans(text, claims), strict=True)]


def claim_out(claim: Claim, span: Span | None) -> dict[str, Any]:
    """A sentence of the answer, whether the passages it was checked against (by number)
    support it, and where it stands in the answer (character offsets, end exclusive; null if
    it is not there, which a checked answer's own sentence always is): a client marks it there
    without searching for its text."""
    start, end = span or (None, None)
    return {
        "text": claim.text,
        "supported": claim.supported,
        "passages": list(claim.passages),
        "start": start,
        "end": end,
    }


def source_out(passage: Passage) -> dict[str, Any]:
    """Where a passage is: enough to name it and open it (a refusal's closest sources)."""
    return {
        "n": passage.n,
        "document_id": passage.document_id,
        "title": passage.title,
        "page": passage.page,
        "page_label": passage.page_label,
        "section": passage.section,
        "chunk_id": passage.chunk_id,
    }


def passage_out(passage: Passage) -> dict[str, Any]:
    """A citation: its source and the passage itself; search results add their paths."""
    return {**source_out(passage), "text": passage.text, "score": round(passage.score, 6)}


def snippet_out(passage: Passage) -> dict[str, Any]:
    """A passage the model is about to read: its source and the start of its text, enough to
    recognise it while the answer is written (the cited ones' whole text comes in `citations`)."""
    return {**source_out(passage), "snippet": shortened(passage.text, SNIPPET_CHARS)}


def sources_event(found: Sources) -> Event:
    """Exactly the passages of the prompt: retrieved, post-checked, readable by the asker."""
    return Event("sources", {"sources": [snippet_out(p) for p in found.passages]})


def answer_events(
    stream: Iterable[str | Progress | Finished],
    finish: Callable[[Finished], Iterator[Event]] | None = None,
    sources: Callable[[Sources], Event] = sources_event,
) -> Iterator[Event]:
    """The events of `stream` (kb.answering.answer_stream). `finish` gives the closing events
    of its Finished, by default those of finished_events with nothing added; `sources` the
    event of its Sources."""
    try:
        for item in stream:
            if isinstance(item, Finished):
                yield from (finish or _finished)(item)
            elif isinstance(item, Translating):
                yield Event("translating", {"languages": list(item.languages)})
            elif isinstance(item, Sources):
                yield sources(item)
            elif isinstance(item, Checking):
                yield Event("checking", {"sentences": item.sentences})
            elif isinstance(item, Retrying):
                yield Event("retrying", {})
            else:
                yield Event("token", {"text": item})
    except FAILURES as exc:
        yield error_event(exc)


def finished_events(out: AnswerOut, *, before_done: Sequence[Event] = ()) -> Iterator[Event]:
    """Tokens were streamed before the whole answer could be checked: a `check` event first
    tells the client to replace them (blocked) or mark them (ungrounded); `citations` with
    refused true, to replace them with the refusal (`done`'s answer)."""
    if out.check:
        yield Event("check", {"check": out.check, "answer": out.answer})
    yield Event("citations", out.sources())
    yield from before_done
    yield Event("done", out.done())


def refuse_when_saturated() -> None:
    """Before a stream starts: a model whose queue is full gets the caller a 429 now, not an
    error event in a started stream. Counted like the busy model a started answer meets
    (kb.answering)."""
    if model_saturated():
        metrics.question_turned_away()
        raise ModelBusy()


def error_event(exc: Exception) -> Event:
    """The code of the JSON error the failure gets before a stream (failures_as_http), in the
    failure's own words (that JSON error's 429 message adds when to come back)."""
    code = _http_error(exc).default_code
    return Event("error", {"error": {"code": code, "message": without_paths(str(exc))}})


def event_stream(
    start: Callable[[], Iterator[Event]], *, patient: bool = False
) -> StreamingHttpResponse:
    """`start` runs in its own thread (kb.streaming), not in the view. A `patient` stream (the
    chat's) waits for a busy model as long as it takes, with `queue` events ({ahead}: questions
    before it; 0 when the model starts on it) instead of failing after the queue timeout."""
    place = _queue_place if patient else None
    response = StreamingHttpResponse(
        iterate_in_thread(lambda: _framed(start()), place), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


@contextmanager
def failures_as_http() -> Iterator[None]:
    """The model or a store is down: 429 or 503 saying what to do, never a 500."""
    try:
        yield
    except FAILURES as exc:
        raise _http_error(exc)(str(exc)) from exc


def _http_error(exc: Exception) -> type[ModelBusy | ServiceUnavailable]:
    return ModelBusy if isinstance(exc, LlmBusy) else ServiceUnavailable


def _finished(finished: Finished) -> Iterator[Event]:
    return finished_events(answer_out(finished))


def _queue_place(ahead: int) -> bytes:
    return Event("queue", {"ahead": ahead}).sse()


def _framed(events: Iterator[Event]) -> Iterator[bytes]:
    for event in events:
        yield event.sse()


def _sources(answer: Answer) -> list[Passage]:
    """The cited passages; an answer that cites none was still built from all it was given."""
    return answer.cited or answer.passages
