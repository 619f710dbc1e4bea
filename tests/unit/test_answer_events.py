"""The answer stream as its callers see it (kb/answer_events.py): how an event is framed, the
sources sent before the model starts, the order of a finished answer's events, and how a
failure ends the stream with the same code as the JSON error it gets before a stream starts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework import status

from kb.answer_events import (
    SNIPPET_CHARS,
    Event,
    ModelBusy,
    ServiceUnavailable,
    answer_events,
    answer_out,
    event_stream,
    failures_as_http,
    finished_events,
    sources_event,
)
from kb.answering import Finished
from kb.llm.chat import LlmBusy, LlmUnavailable
from kb.models import QueryLog
from kb.stores.errors import StoreError, StoreLockedError
from retrieval.answer_checks import WITHHELD, AnswerCheck, Verdict, check_answer
from retrieval.answerer import Answer, Checking, Retrying, Sources
from retrieval.evidence import NO_EVIDENCE
from retrieval.refusals import NOT_FOUND, RefusalReason, refusal_text
from retrieval.retriever import Retrieval
from retrieval.translation import Translating
from retrieval.types import Passage
from tests.support.sse import parse_events

pytestmark = [
    pytest.mark.unit,
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous"),
]
QUERY_ID = 41


def passage(n: int, text: str = "Facilities descale the coffee machine on Fridays.") -> Passage:
    return Passage(
        n, f"chunk-{n}", 7, "Kitchen", 2, "Coffee", text, 0.01234567, ("dense",), page_label="ii"
    )


def finished(
    text: str = "Facilities do it [1].",
    *,
    refused: bool = False,
    cited: list[Passage] | None = None,
    check: AnswerCheck | None = None,
    refusal: RefusalReason = RefusalReason.NONE,
    closest: list[Passage] | None = None,
) -> Finished:
    passages = [passage(1), passage(2)]
    answer = Answer(
        "Who descales it?",
        text,
        refused,
        passages,
        passages[:1] if cited is None else cited,
        Retrieval({}, passages, NO_EVIDENCE),
        check=check or AnswerCheck(),
        refusal=refusal,
        closest=closest or [],
    )
    return Finished(answer, QueryLog(pk=QUERY_ID))  # unsaved: only its id is read


def refusal(reason: RefusalReason, closest: list[Passage]) -> Finished:
    """As retrieval.answerer refuses: no citations, the refusal text naming `closest`."""
    text = refusal_text("Who descales it?", closest)
    return finished(text, refused=True, cited=[], refusal=reason, closest=closest)


def names(events: list[Event]) -> list[str]:
    return [event.name for event in events]


def failing(exc: Exception) -> Iterator[str | Finished]:
    yield "Facilities "
    raise exc


# --- framing ------------------------------------------------------------------------------------


def test_an_event_is_one_sse_frame_of_utf8_json() -> None:
    frame = Event("token", {"text": "Café 咖啡\n[1]"}).sse()

    assert frame == 'event: token\ndata: {"text": "Café 咖啡\\n[1]"}\n\n'.encode()


def test_the_response_streams_frames_with_headers_that_stop_buffering() -> None:
    response = event_stream(lambda: iter([Event("token", {"text": "a"}), Event("done", {})]))

    async def body() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])  # type: ignore[union-attr]  # the stream is async here

    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache" and response["X-Accel-Buffering"] == "no"
    assert asyncio.run(body()) == b'event: token\ndata: {"text": "a"}\n\nevent: done\ndata: {}\n\n'


# --- the sources, before the model starts ------------------------------------------------------


def test_the_sources_come_first_each_with_its_source_and_a_snippet() -> None:
    found = Sources([passage(1), passage(2)])

    events = list(answer_events([found, "Facilities ", "do it [1].", finished()]))

    assert names(events) == ["sources", "token", "token", "citations", "done"]
    assert events[0].data == {
        "sources": [
            {
                "n": n,
                "document_id": 7,
                "title": "Kitchen",
                "page": 2,
                "page_label": "ii",
                "section": "Coffee",
                "chunk_id": f"chunk-{n}",
                "snippet": passage(n).text,
            }
            for n in (1, 2)
        ]
    }


def test_a_snippet_is_the_start_of_the_passage_on_one_short_line() -> None:
    text = "Descaling\n\n" + "The facilities team descales the coffee machine. " * 20

    (source,) = sources_event(Sources([passage(1, text)])).data["sources"]

    assert len(source["snippet"]) <= SNIPPET_CHARS and source["snippet"].endswith("…")
    assert source["snippet"].startswith("Descaling The facilities team descales")
    assert "text" not in source and "score" not in source  # the citations carry those


def test_a_question_refused_before_the_model_sends_no_sources() -> None:
    """As kb.answering streams it: no Sources item, only the refusal naming the closest."""
    events = list(answer_events([refusal(RefusalReason.NO_EVIDENCE, [passage(1)])]))

    assert names(events) == ["citations", "done"]


def test_a_refusal_after_the_sources_keeps_them_and_names_the_closest() -> None:
    found = Sources([passage(1), passage(2)])

    events = list(answer_events([found, refusal(RefusalReason.DECLINED, [passage(1)])]))

    assert names(events) == ["sources", "citations", "done"]
    assert events[1].data["refused"] is True
    assert [c["n"] for c in events[1].data["closest"]] == [1]


def test_a_caller_can_add_to_the_sources_event() -> None:
    """The chat page adds each source's link (kb/web/chat.py)."""

    def linked(found: Sources) -> Event:
        plain = sources_event(found)
        return Event("sources", {"sources": [{**s, "url": "/s"} for s in plain.data["sources"]]})

    events = list(answer_events([Sources([passage(1)]), finished()], sources=linked))

    assert events[0].data["sources"][0]["url"] == "/s"


# --- a finished answer --------------------------------------------------------------------------


def test_tokens_then_citations_then_done() -> None:
    events = list(answer_events(["Facilities ", "do it [1].", finished()]))

    assert names(events) == ["token", "token", "citations", "done"]
    assert [e.data for e in events[:2]] == [{"text": "Facilities "}, {"text": "do it [1]."}]
    citations = events[2].data
    assert citations == {
        "citations": [
            {
                "n": 1,
                "document_id": 7,
                "title": "Kitchen",
                "page": 2,
                "page_label": "ii",
                "section": "Coffee",
                "chunk_id": "chunk-1",
                "text": passage(1).text,
                "score": 0.012346,
            }
        ],
        "refused": False,
        "refusal": "",
        "closest": [],
        "gap": "",
    }
    assert events[3].data == {
        "query_id": QUERY_ID,
        "answer": "Facilities do it [1].",
        "refused": False,
        "refusal": "",
        "check": "",
        "claims": [],
    }


def test_the_claim_judges_turn_is_announced_after_the_tokens() -> None:
    events = list(answer_events(["Facilities ", "do it [1].", Checking(1), finished()]))

    assert names(events) == ["token", "token", "checking", "citations", "done"]
    assert events[2].data == {"sentences": 1}


def test_a_translation_is_announced_before_the_sources_with_its_languages() -> None:
    translating = Translating(("English", "Russian"))
    events = list(answer_events([translating, Sources([passage(1)]), "Done [1].", finished()]))

    assert names(events) == ["translating", "sources", "token", "citations", "done"]
    assert events[0].data == {"languages": ["English", "Russian"]}


def test_an_answer_written_again_is_announced_between_its_tokens_and_the_final_text() -> None:
    events = list(answer_events(["Reception ", "does it [1].", Retrying(), finished()]))

    assert names(events) == ["token", "token", "retrying", "citations", "done"]
    assert events[2].data == {} and events[-1].data["answer"] == "Facilities do it [1]."


def test_an_answer_citing_nothing_lists_every_passage_it_was_given() -> None:
    out = answer_out(finished("Facilities do it.", cited=[]))

    assert [c["n"] for c in out.citations] == [1, 2]


def test_a_refusal_lists_no_citations() -> None:
    events = list(answer_events([refusal(RefusalReason.NO_EVIDENCE, [])]))

    assert names(events) == ["citations", "done"]
    assert events[0].data == {
        "citations": [],
        "refused": True,
        "refusal": "no_evidence",
        "closest": [],
        "gap": "",
    }
    assert events[1].data == {
        "query_id": QUERY_ID,
        "answer": NOT_FOUND,
        "refused": True,
        "refusal": "no_evidence",
        "check": "",
        "claims": [],
    }


def test_a_refusal_names_its_closest_sources_without_their_text() -> None:
    events = list(answer_events([refusal(RefusalReason.NOT_ANSWERABLE, [passage(2)])]))

    assert events[0].data["refusal"] == "not_answerable"
    assert events[0].data["closest"] == [
        {
            "n": 2,
            "document_id": 7,
            "title": "Kitchen",
            "page": 2,
            "page_label": "ii",
            "section": "Coffee",
            "chunk_id": "chunk-2",
        }
    ]
    assert events[1].data["answer"] == refusal_text("Who descales it?", [passage(2)])


def test_a_refusal_after_tokens_says_to_replace_them_and_is_not_marked_as_a_check() -> None:
    """An unsupported answer was streamed, then refused: its ungrounded verdict stays in the
    query log; the client gets refused true and the refusal text in done."""
    refused = refusal(RefusalReason.UNSUPPORTED, [passage(1)])
    refused.answer.check = AnswerCheck(Verdict.UNGROUNDED)

    events = list(answer_events(["AES-256 ", "is used [1].", refused]))

    assert names(events) == ["token", "token", "citations", "done"]
    assert events[2].data["refused"] is True and events[2].data["citations"] == []
    assert events[3].data["refusal"] == "unsupported" and events[3].data["check"] == ""
    assert events[3].data["answer"].startswith(NOT_FOUND + " ")


def test_a_blocked_answer_sends_check_first_with_the_text_that_replaces_the_tokens() -> None:
    verdict = check_answer(
        "Log in at https://evil.example [1].", cited=[passage(1)], passages=[passage(1)]
    )
    assert verdict.verdict is Verdict.BLOCKED  # precondition: the real check blocks it

    events = list(answer_events(["Log in at ", finished(WITHHELD, check=verdict)]))

    assert names(events) == ["token", "check", "citations", "done"]
    assert events[1].data == {"check": "blocked", "answer": WITHHELD}
    assert events[3].data["answer"] == WITHHELD and events[3].data["check"] == "blocked"


def test_an_ungrounded_answer_is_marked_by_a_check_event() -> None:
    out = answer_out(finished(check=AnswerCheck(Verdict.UNGROUNDED)))

    events = list(finished_events(out))

    assert names(events) == ["check", "citations", "done"]
    assert events[0].data == {"check": "ungrounded", "answer": out.answer}


def test_done_lists_each_checked_sentence_and_whether_its_sources_support_it() -> None:
    text = (
        "Facilities descale the coffee machine on Fridays [1]. Visitors bring their own mugs [2]."
    )
    check = check_answer(text, cited=[passage(1), passage(2)], passages=[passage(1), passage(2)])

    done = finished_events(answer_out(finished(text, check=check)))

    assert list(done)[-1].data["claims"] == [
        {
            "text": "Facilities descale the coffee machine on Fridays [1].",
            "supported": True,
            "passages": [1],
            "start": 0,
            "end": 53,
        },
        {
            "text": "Visitors bring their own mugs [2].",
            "supported": False,
            "passages": [2],
            "start": 54,
            "end": 88,
        },
    ]


def test_a_refusal_replacing_an_unsupported_answer_lists_no_claims() -> None:
    check = check_answer("Visitors bring mugs [1].", cited=[passage(1)], passages=[passage(1)])
    assert check.nothing_supported  # precondition: the real check finds nothing supported

    out = answer_out(finished(NOT_FOUND, refused=True, cited=[], check=check))

    assert out.claims == [] and out.done()["claims"] == []


def test_claims_keep_the_answer_s_own_characters() -> None:
    text = "设施部门每周五给咖啡机除垢［1］，访客自带杯子。"
    check = check_answer(text, cited=[passage(1)], passages=[passage(1)])

    assert check.claims and all(claim.text in text for claim in check.claims)


def test_each_claim_says_where_it_stands_in_the_answer_even_a_repeated_one() -> None:
    text = "Visitors bring mugs [2].\n\n设施部门每周五给咖啡机除垢［1］。 Visitors bring mugs [2]."
    check = check_answer(text, cited=[passage(1), passage(2)], passages=[passage(1), passage(2)])

    claims = answer_out(finished(text, check=check)).claims

    assert [text[c["start"] : c["end"]] for c in claims] == [c["text"] for c in claims]
    assert [c["start"] for c in claims] == sorted({c["start"] for c in claims})  # none twice


def test_events_a_caller_adds_come_just_before_done() -> None:
    added = Event("conversation", {"id": 3, "title": "Coffee", "url": "/conversations/3"})

    def finish(done: Finished) -> Iterator[Event]:
        return finished_events(answer_out(done), before_done=[added])

    events = list(answer_events(["Facilities do it [1].", finished()], finish))

    assert names(events) == ["token", "citations", "conversation", "done"]
    assert events[2] is added


# --- failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (LlmBusy("The model is busy; try again shortly."), "model_busy"),
        (LlmUnavailable("No model file: run make model"), "unavailable"),
        (StoreLockedError("The vector store is locked by another process."), "unavailable"),
    ],
    ids=["model-busy", "model-unavailable", "store"],
)
def test_a_failure_ends_the_stream_with_one_error_event(failure: Exception, code: str) -> None:
    events = list(answer_events(failing(failure)))

    assert names(events) == ["token", "error"]
    assert events[1].data == {"error": {"code": code, "message": str(failure)}}


def test_an_error_event_holds_no_server_path() -> None:
    failure = LlmUnavailable("No model file at /srv/quarry/models/x.gguf: run make model")

    (event,) = list(answer_events(failing(failure)))[1:]

    assert event.data["error"]["message"] == "No model file at <path>: run make model"


def test_a_bug_is_not_dressed_up_as_an_error_event() -> None:
    with pytest.raises(KeyError):
        list(answer_events(failing(KeyError("query_id"))))


@pytest.mark.parametrize(
    ("failure", "raised", "code"),
    [
        (LlmBusy("busy"), ModelBusy, status.HTTP_429_TOO_MANY_REQUESTS),
        (LlmUnavailable("no model"), ServiceUnavailable, status.HTTP_503_SERVICE_UNAVAILABLE),
        (StoreError("down"), ServiceUnavailable, status.HTTP_503_SERVICE_UNAVAILABLE),
    ],
    ids=["model-busy", "model-unavailable", "store"],
)
def test_before_a_stream_the_same_failure_is_an_http_error_with_the_same_code(
    failure: Exception, raised: type[Exception], code: int
) -> None:
    with pytest.raises(raised) as caught, failures_as_http():
        raise failure

    error: Any = caught.value
    assert error.status_code == code
    assert error.get_codes() == list(answer_events(failing(failure)))[1].data["error"]["code"]


# --- what a client parses ---------------------------------------------------------------------


def test_the_frames_of_a_stream_parse_back_into_its_events() -> None:
    events = list(answer_events([Sources([passage(1)]), "Facilities ", finished()]))
    body = b"".join(event.sse() for event in events).decode()

    parsed = parse_events(body)

    assert parsed == [(event.name, event.data) for event in events]
