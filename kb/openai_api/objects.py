"""Quarry's answers as OpenAI objects: a `chat.completion`, or the `chat.completion.chunk`s of a
stream, built from kb.answering's items through kb.answer_events.answer_out, so the API and
the chat page never disagree on what the answer, its citations or a refusal are.

The assistant message is the answer with its citations appended as numbered footnotes (title
and page, with the number printed on the page where it differs); the citations also go in an
extra top-level `citations` field, in `/api/v1/query`'s shape, beside `query_id` (for
`/api/v1/feedback`), `refused` and `check`. A refusal is a normal assistant message: Quarry's
own refusal text, in the question's language.

A stream can turn into a refusal after its tokens were sent (the answerability check, the
model's own "I don't know", an unsupported or a blocked answer: kb/answer_events.py). Sent
text cannot be taken back in this protocol, so the last content chunk says so (WITHDRAWN)
and carries the refusal (or the withheld notice with its sources), and the final chunk has
`refused: true` (or `check: "blocked"`).

An answer the model wrote without `[n]` markers is given them after it is written
(retrieval.attribution): the completion's message holds them, a stream's content chunks do
not (its footnotes list the same sources), and the `claims` offsets of both refer to the
completion's message text.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from kb.answer_events import FAILURES, AnswerOut, answer_out, error_event
from kb.answering import Finished
from kb.llm.control import PlainText, generic_plain_text
from kb.openai_api.errors import error_object
from retrieval.answer_checks import Verdict
from retrieval.answerer import Progress, Retrying

WITHDRAWN = "Withdrawn: the text above is not the answer."
# The HTTP status a failure gets before a stream (kb.answer_events.failures_as_http).
_FAILURE_STATUS = {"model_busy": 429}


@dataclass(frozen=True)
class Reply:
    """One completion: every chunk of a stream carries the same id, created time and model."""

    model: str
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    created: int = field(default_factory=lambda: int(time.time()))

    def completion(self, finished: Finished) -> dict[str, Any]:
        out = answer_out(finished)
        usage = finished.answer.usage
        message = {"role": "assistant", "content": message_text(out), "refusal": None}
        return {
            **self._head("chat.completion"),
            "choices": [
                {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
            ],
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.prompt_tokens + usage.completion_tokens,
            },
            **quarry_fields(out),
        }

    def chunks(self, stream: Iterable[str | Progress | Finished]) -> Iterator[dict[str, Any]]:
        """The chunks of kb.answering.answer_stream's items; a failure ends them with an error
        object (the `openai` client raises it as an APIError)."""
        yield self.chunk({"role": "assistant", "content": ""})
        streamed, written_again = False, False
        try:
            for item in stream:
                if isinstance(item, Finished):
                    out = answer_out(item)
                    yield from self._closing(out, streamed=streamed, written_again=written_again)
                elif isinstance(item, str) and item:
                    streamed = True
                    yield self.chunk({"content": item})
                elif isinstance(item, Retrying):
                    written_again = True  # what was streamed is not the answer
                # Translating, Sources, Checking: OpenAI's protocol has no place for passages
                # before the answer, nor for the search's or the check's progress.
        except FAILURES as exc:
            error = error_event(exc).data["error"]
            status = _FAILURE_STATUS.get(error["code"], 503)
            yield error_object(message=error["message"], code=error["code"], status_code=status)

    def chunk(
        self, delta: dict[str, Any], finish_reason: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return {**self._head("chat.completion.chunk"), "choices": [choice], **extra}

    def _closing(
        self, out: AnswerOut, *, streamed: bool, written_again: bool
    ) -> Iterator[dict[str, Any]]:
        """`written_again`: the model wrote the answer again after what was streamed."""
        if not (written_again or replaced(out)):
            tail = footnotes(out.citations)
        elif streamed:
            tail = f"\n\n---\n{WITHDRAWN}\n\n{message_text(out)}"
        else:
            tail = message_text(out)
        if tail:
            yield self.chunk({"content": tail})
        yield self.chunk({}, "stop", **quarry_fields(out))

    def _head(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}


def replaced(out: AnswerOut) -> bool:
    """Whether the answer's final text replaces what was streamed (a refusal, a blocked answer)."""
    return out.refused or out.check == Verdict.BLOCKED


def message_text(out: AnswerOut) -> str:
    """The whole assistant message: the text with its footnotes. A refusal has none; a blocked
    answer keeps its sources, which the withheld notice tells the reader to read instead."""
    return out.answer + footnotes(out.citations)


def footnotes(citations: Sequence[dict[str, Any]]) -> str:
    """A blank line, then one line per citation ("[1] Handbook, p. 3", "[2] Book, p. 14
    (printed xii)", "[3] Runbook") in the numbers the answer's [n] markers use; "" without
    citations."""
    lines = [f"[{c['n']}] {_one_line(c['title'])}{_page(c)}" for c in citations]
    return "\n\n" + "\n".join(lines) if lines else ""


def _page(citation: dict[str, Any]) -> str:
    """The physical page, and the number printed on it where that differs (page labels)."""
    if citation["page"] is None:
        return ""
    label = citation.get("page_label") or ""
    return f", p. {citation['page']}" + (f" (printed {_one_line(label)})" if label else "")


@cache
def _plain_text() -> PlainText:
    return generic_plain_text()


def _one_line(title: str) -> str:
    """A title is document text (the uploaded file's name): its control-token strings broken,
    as the MCP results break them, and on one line, so that it cannot add footnotes."""
    return _plain_text()(" ".join(title.split()))


def quarry_fields(out: AnswerOut) -> dict[str, Any]:
    """What OpenAI's objects have no field for, as extra top-level fields."""
    return {
        "citations": out.citations,
        "query_id": out.query_id,
        "refused": out.refused,
        "check": out.check,
        "claims": out.claims,
    }


def model_object(model_id: str, *, created: int, name: str) -> dict[str, Any]:
    """A `model` of `GET /v1/models`; `name` is extra, for front-ends that show one."""
    return {
        "id": model_id,
        "object": "model",
        "created": created,
        "owned_by": "quarry",
        "name": name,
    }
