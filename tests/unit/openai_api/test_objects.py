"""Quarry's answers as OpenAI objects (kb/openai_api/objects.py): the assistant message with its
footnotes, a refusal as a normal message, and the chunks of a stream, including one that
turns into a refusal after its tokens were sent and one that fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kb.answering import Finished
from kb.llm.chat import LlmBusy, LlmUnavailable, Usage
from kb.models import QueryLog
from kb.openai_api.objects import WITHDRAWN, Reply, footnotes
from retrieval.answer_checks import WITHHELD, AnswerCheck, Verdict
from retrieval.answerer import Answer, Checking, Progress, Retrying, Sources
from retrieval.evidence import NO_EVIDENCE
from retrieval.refusals import RefusalReason, refusal_text
from retrieval.retriever import Retrieval
from retrieval.translation import Translating
from retrieval.types import Passage

pytestmark = pytest.mark.unit
QUERY_ID = 41
QUESTION = "Who descales the coffee machine?"


def passage(n: int, title: str = "Kitchen", page: int | None = 2) -> Passage:
    return Passage(n, f"chunk-{n}", 7, title, page, "Coffee", "Facilities descale it.", 0.5, ())


def finished(
    text: str = "Facilities do it [1][2].",
    *,
    cited: list[Passage] | None = None,
    refusal: RefusalReason = RefusalReason.NONE,
    check: AnswerCheck | None = None,
) -> Finished:
    passages = [passage(1), passage(2, "Rota", None)]
    answer = Answer(
        QUESTION,
        text,
        refusal is not RefusalReason.NONE,
        passages,
        passages if cited is None else cited,
        Retrieval({}, passages, NO_EVIDENCE),
        usage=Usage(prompt_tokens=120, completion_tokens=9),
        check=check or AnswerCheck(),
        refusal=refusal,
        closest=passages[:1] if refusal else [],
    )
    return Finished(answer, QueryLog(pk=QUERY_ID))  # unsaved: only its id is read


def refused(reason: RefusalReason = RefusalReason.UNSUPPORTED) -> Finished:
    """As retrieval.answerer refuses: Quarry's own refusal text, no citations."""
    return finished(refusal_text(QUESTION, [passage(1)]), cited=[], refusal=reason)


def contents(chunks: list[dict[str, object]]) -> str:
    return "".join(str(c["choices"][0]["delta"].get("content", "")) for c in chunks)  # type: ignore[index]


def test_footnotes_number_title_and_page_as_the_answer_cites_them() -> None:
    citations = [{"n": 1, "title": "Kitchen", "page": 2}, {"n": 3, "title": "Rota", "page": None}]

    assert footnotes(citations) == "\n\n[1] Kitchen, p. 2\n[3] Rota"
    assert footnotes([]) == ""


def test_a_footnote_gives_the_number_printed_on_the_page_beside_the_page() -> None:
    """`page` opens the PDF at the right page; the label is what the reader sees printed."""
    citations = [
        {"n": 1, "title": "Book", "page": 14, "page_label": "xii"},
        {"n": 2, "title": "Book", "page": 20, "page_label": ""},
        {"n": 3, "title": "Old", "page": 5},  # a stored citation from before page labels
    ]

    assert (
        footnotes(citations) == "\n\n[1] Book, p. 14 (printed xii)\n[2] Book, p. 20\n[3] Old, p. 5"
    )


def test_a_completion_is_the_answer_with_footnotes_and_its_citations_beside() -> None:
    body = Reply(model="quarry/facilities").completion(finished())

    assert body["object"] == "chat.completion" and body["model"] == "quarry/facilities"
    (choice,) = body["choices"]
    assert choice["message"] == {
        "role": "assistant",
        "content": "Facilities do it [1][2].\n\n[1] Kitchen, p. 2\n[2] Rota",
        "refusal": None,
    }
    assert choice["finish_reason"] == "stop"
    assert [(c["n"], c["chunk_id"]) for c in body["citations"]] == [(1, "chunk-1"), (2, "chunk-2")]
    assert (body["query_id"], body["refused"], body["check"]) == (QUERY_ID, False, "")
    assert body["usage"] == {"prompt_tokens": 120, "completion_tokens": 9, "total_tokens": 129}


def test_a_refusal_is_a_normal_assistant_message_in_quarrys_own_words() -> None:
    body = Reply(model="quarry").completion(refused(RefusalReason.NO_EVIDENCE))

    assert body["choices"][0]["message"]["content"] == refusal_text(QUESTION, [passage(1)])
    assert body["choices"][0]["finish_reason"] == "stop"
    assert (body["refused"], body["citations"]) == (True, [])


def test_a_stream_is_role_then_tokens_then_footnotes_then_stop_with_the_citations() -> None:
    reply = Reply(model="quarry")
    items: list[str | Progress | Finished] = [
        Translating(("Chinese",)),  # nor for the search's progress
        Sources([passage(1)]),
        "Facilities ",
        "do it [1][2].",
        Checking(1),  # no place for it in OpenAI's protocol: nothing is sent
        finished(),
    ]

    chunks = list(reply.chunks(items))

    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert {(c["id"], c["created"]) for c in chunks} == {(reply.id, reply.created)}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert contents(chunks) == "Facilities do it [1][2].\n\n[1] Kitchen, p. 2\n[2] Rota"
    *body, last = chunks
    assert [c["choices"][0]["finish_reason"] for c in body] == [None] * len(body)
    assert last["choices"][0] == {
        "index": 0,
        "delta": {},
        "finish_reason": "stop",
        "logprobs": None,
    }
    assert [c["n"] for c in last["citations"]] == [1, 2] and last["refused"] is False
    assert all("citations" not in c for c in body)


def test_a_stream_refused_before_any_token_is_just_the_refusal() -> None:
    chunks = list(Reply(model="quarry").chunks([refused(RefusalReason.NO_EVIDENCE)]))

    assert contents(chunks) == refusal_text(QUESTION, [passage(1)])
    assert WITHDRAWN not in contents(chunks) and chunks[-1]["refused"] is True


@pytest.mark.parametrize(
    ("last", "replacement"),
    [
        pytest.param(refused(), refusal_text(QUESTION, [passage(1)]), id="refused"),
        pytest.param(
            finished(WITHHELD, check=AnswerCheck(Verdict.BLOCKED, ("https://evil.example",))),
            f"{WITHHELD}\n\n[1] Kitchen, p. 2\n[2] Rota",  # its sources: read them instead
            id="blocked",
        ),
    ],
)
def test_streamed_tokens_that_turn_out_not_to_be_the_answer_are_withdrawn(
    last: Finished, replacement: str
) -> None:
    """Sent text cannot be taken back: the last content says so and carries what replaces it."""
    chunks = list(Reply(model="quarry").chunks(["Penguins migrate in winter. ", last]))

    assert contents(chunks) == f"Penguins migrate in winter. \n\n---\n{WITHDRAWN}\n\n{replacement}"
    assert (chunks[-1]["refused"], chunks[-1]["check"]) in {(True, ""), (False, "blocked")}


def test_an_answer_written_again_after_its_tokens_withdraws_them_for_the_second() -> None:
    """The model wrote a first answer no source states, then one they do (retrieval.
    second_attempt): the first was sent, so it is withdrawn as a refusal's would be."""
    items: list[str | Retrying | Finished] = [
        "Penguins migrate in winter. ",
        Retrying(),
        finished(),
    ]

    chunks = list(Reply(model="quarry").chunks(items))

    second = "Facilities do it [1][2].\n\n[1] Kitchen, p. 2\n[2] Rota"
    assert contents(chunks) == f"Penguins migrate in winter. \n\n---\n{WITHDRAWN}\n\n{second}"
    assert chunks[-1]["refused"] is False


@pytest.mark.parametrize(
    ("failure", "code", "kind"),
    [
        pytest.param(LlmBusy("busy"), "model_busy", "rate_limit_error", id="busy"),
        pytest.param(LlmUnavailable("down"), "unavailable", "server_error", id="unavailable"),
    ],
)
def test_a_failing_stream_ends_with_an_openai_error_object(
    failure: Exception, code: str, kind: str
) -> None:
    def stream() -> Iterator[str | Progress | Finished]:
        yield "Facilities "
        raise failure

    *_, last = Reply(model="quarry").chunks(stream())

    assert last == {"error": {"message": str(failure), "type": kind, "param": None, "code": code}}
