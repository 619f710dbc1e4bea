"""The chat page's endpoints: session sign-in and CSRF only, the per-user rate limit, plain
errors, the stream's events and what a finished answer leaves in the conversation (never its
query-log id). The answering pipeline is replaced by a scripted stream here; tests/integration
/web runs the real one."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import prometheus_client
import pytest
from django.core.cache import cache
from django.test import Client
from pytest_django.fixtures import Settings

from kb import answer_events
from kb.answering import Finished
from kb.llm.chat import LlmBusy, LlmUnavailable
from kb.models import Conversation, Feedback, QueryLog, Turn
from kb.services.api_tokens import api_token_create
from kb.services.querylog import pseudonym
from kb.web import chat
from retrieval.answerer import Answer, Progress, Sources
from retrieval.evidence import NO_EVIDENCE
from retrieval.refusals import RefusalReason, refusal_text
from retrieval.retriever import Retrieval
from retrieval.types import Passage
from tests.support.clients import signed_in
from tests.support.personas import World
from tests.support.sse import read_events

pytestmark = [
    pytest.mark.unit,
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous"),
]
CHUNK = "3b0c3d55-8f0e-5d7e-b2d6-0b9a1c6e4f21"
LOG_ID = 987_654  # a number nothing else in the test holds


class ScriptedAnswers:
    """Stands in for kb.answering.answer_stream: records each call, streams the sources and two
    pieces, then finishes with a real QueryLog row of the asker (as the pipeline would write)."""

    def __init__(self, world: World, *, refused: bool = False, fail: Exception | None = None):
        self.world = world
        self.refused = refused
        self.fail = fail
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **ask: Any) -> Iterator[str | Progress | Finished]:
        self.calls.append(ask)
        if self.fail is not None:
            raise self.fail
        runbook = self.world.documents["runbook"]
        passage = Passage(
            1,
            CHUNK,
            runbook.pk,
            "runbook",
            3,
            "Restarts",
            "systemctl restart x",
            0.0312,
            ("dense",),
            page_label="xi",
        )
        yield Sources([passage])
        yield "Use "
        yield "systemctl [1]."
        answer = Answer(
            ask["question"],
            "Use systemctl [1].",
            self.refused,
            [passage],
            [passage],
            Retrieval({}, [passage], NO_EVIDENCE),
        )
        if self.refused:  # after its tokens, as the answerer refuses an unsupported answer
            answer.refusal, answer.cited, answer.closest = (
                RefusalReason.UNSUPPORTED,
                [],
                [passage],
            )
            answer.text = refusal_text(ask["question"], [passage])
        log = QueryLog.objects.create(
            pk=LOG_ID + len(self.calls) - 1,
            pseudonym=pseudonym(ask["user"].pk),
            question_redacted=ask["question"],
            refused=self.refused,
        )
        yield Finished(answer, log)


@pytest.fixture
def scripted(world: World, monkeypatch: pytest.MonkeyPatch) -> ScriptedAnswers:
    answers = ScriptedAnswers(world)
    monkeypatch.setattr(chat, "answer_stream", answers)
    return answers


def ask(client: Client, **data: Any) -> Any:
    """As the page sends it (kb/static/kb/chat.js)."""
    data.setdefault("question", "How do I restart the service?")
    return client.post("/chat/stream", data, HTTP_ACCEPT="text/event-stream")


def eng_collections(world: World) -> list[int]:
    return [world.collections["eng"].pk]


# --- the stream ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # the answer streams from its own thread
def test_a_question_streams_sources_tokens_citations_conversation_then_done(
    world: World, scripted: ScriptedAnswers
) -> None:
    response = ask(signed_in(world, "engineer"), collections=eng_collections(world))

    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    got = read_events(response)
    assert [name for name, _ in got] == [
        "sources",
        "token",
        "token",
        "citations",
        "conversation",
        "done",
    ]
    assert got[0][1] == {
        "sources": [
            {
                "n": 1,
                "document_id": world.documents["runbook"].pk,
                "title": "runbook",
                "page": 3,
                "page_label": "xi",
                "section": "Restarts",
                "chunk_id": CHUNK,
                "snippet": "systemctl restart x",
                "url": f"/sources/{CHUNK}",  # the same link as its citation's
            }
        ]
    }
    assert "".join(data["text"] for name, data in got if name == "token") == "Use systemctl [1]."
    citation = got[3][1]["citations"][0]
    assert citation["url"] == f"/sources/{CHUNK}" and citation["title"] == "runbook"
    conversation = Conversation.objects.get(user=world.users["engineer"])
    assert got[4][1] == {
        "id": conversation.pk,
        "title": "How do I restart the service?",
        "url": f"/conversations/{conversation.pk}",
    }
    done = {
        "query_id": LOG_ID,
        "answer": "Use systemctl [1].",
        "refused": False,
        "refusal": "",
        "check": "",
        "claims": [],
    }
    assert got[5][1] == done  # the scripted answer was not checked: no claims
    assert scripted.calls[0]["collection_ids"] == eng_collections(world)
    assert scripted.calls[0]["history"] == []


@pytest.mark.django_db(transaction=True)
def test_the_saved_exchange_never_holds_the_query_id(
    world: World, scripted: ScriptedAnswers
) -> None:
    got = read_events(ask(signed_in(world, "engineer"), collections=eng_collections(world)))

    assert got[-1][1]["query_id"] == LOG_ID
    turns = list(Turn.objects.values())
    assert [t["role"] for t in turns] == ["user", "assistant"]
    assert turns[1]["citations"] == [
        {
            "n": 1,
            "document_id": world.documents["runbook"].pk,
            "title": "runbook",
            "page": 3,
            "page_label": "xi",
            "section": "Restarts",
            "chunk_id": CHUNK,
        }
    ]
    stored = json.dumps([turns, list(Conversation.objects.values())], default=str)
    assert str(LOG_ID) not in stored


@pytest.mark.django_db(transaction=True)
def test_a_refusal_streams_its_closest_sources_as_links_and_reopens_with_them(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chat, "answer_stream", ScriptedAnswers(world, refused=True))
    client = signed_in(world, "engineer")

    got = dict(read_events(ask(client, collections=eng_collections(world))))

    assert got["citations"]["refused"] is True and got["citations"]["citations"] == []
    assert got["citations"]["refusal"] == "unsupported"
    (closest,) = got["citations"]["closest"]
    assert (closest["title"], closest["section"], closest["url"]) == (
        "runbook",
        "Restarts",
        f"/sources/{CHUNK}",
    )
    assert got["done"]["answer"].startswith("Not found in the knowledge base. ")
    turn = Turn.objects.get(role="assistant")
    assert turn.refused and [c["chunk_id"] for c in turn.citations] == [CHUNK]
    page = client.get(got["conversation"]["url"]).content.decode()
    assert "Found instead:" in page and f'href="/sources/{CHUNK}"' in page
    assert "runbook — Restarts, page 3 (printed xi)" in page
    assert "The closest sources found" not in page  # the stock text is not shown twice


@pytest.mark.django_db(transaction=True)
def test_a_follow_up_sends_the_conversation_as_history(
    world: World, scripted: ScriptedAnswers
) -> None:
    client = signed_in(world, "engineer")
    first = read_events(ask(client, collections=eng_collections(world)))
    conversation_id = dict(first)["conversation"]["id"]

    follow_up = read_events(
        ask(
            client,
            question="And on Windows?",
            collections=eng_collections(world),
            conversation=conversation_id,
        )
    )

    assert dict(follow_up)["conversation"]["id"] == conversation_id
    assert scripted.calls[1]["history"] == [
        {"role": "user", "content": "How do I restart the service?"},
        {"role": "assistant", "content": "Use systemctl [1]."},
    ]
    assert Turn.objects.filter(conversation_id=conversation_id).count() == 4


@pytest.mark.parametrize(
    ("failure", "code", "words"),
    [
        (
            LlmBusy("The model is busy answering other questions; try again shortly."),
            "model_busy",
            "busy",
        ),
        (LlmUnavailable("No model file: run make model"), "unavailable", "make model"),
    ],
    ids=["model-busy", "model-unavailable"],
)
@pytest.mark.django_db(transaction=True)
def test_model_trouble_ends_the_stream_with_a_plain_error_event(
    world: World, monkeypatch: pytest.MonkeyPatch, failure: Exception, code: str, words: str
) -> None:
    monkeypatch.setattr(chat, "answer_stream", ScriptedAnswers(world, fail=failure))

    got = read_events(ask(signed_in(world, "engineer"), collections=eng_collections(world)))

    assert [name for name, _ in got] == ["error"]
    assert got[0][1]["error"]["code"] == code and words in got[0][1]["error"]["message"]
    assert not Conversation.objects.exists()


# --- who may ask, and how -------------------------------------------------------------------------


def test_signed_out_visitors_get_403_and_no_answer(world: World, scripted: ScriptedAnswers) -> None:
    response = ask(Client(), collections=eng_collections(world))

    assert response.status_code == 403
    assert not scripted.calls


def test_an_api_token_does_not_open_the_chat_endpoint(
    world: World, scripted: ScriptedAnswers
) -> None:
    _row, token = api_token_create(user=world.users["engineer"])

    response = Client().post(
        "/chat/stream", {"question": "Hi", "collections": [1]}, HTTP_AUTHORIZATION=f"Bearer {token}"
    )

    assert response.status_code == 403 and not scripted.calls


def test_a_post_without_the_csrf_token_is_refused_with_a_plain_message(
    world: World, scripted: ScriptedAnswers
) -> None:
    client = signed_in(world, "engineer", enforce_csrf_checks=True)

    response = ask(client, collections=eng_collections(world))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert "Reload" in response.json()["error"]["message"]
    assert not scripted.calls


@pytest.mark.django_db(transaction=True)
def test_a_post_with_the_pages_csrf_token_is_answered(
    world: World, scripted: ScriptedAnswers
) -> None:
    client = signed_in(world, "engineer", enforce_csrf_checks=True)
    page = client.get("/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token

    response = client.post(
        "/chat/stream",
        {"question": "Hi?", "collections": eng_collections(world)},
        HTTP_X_CSRFTOKEN=token.group(1),
    )

    assert response.status_code == 200 and read_events(response)[-1][0] == "done"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"question": "   ", "collections": [1]}, "Type a question first."),
        ({"question": "x" * 2001, "collections": [1]}, "limited to 2000 characters"),
        ({"question": "Hi"}, "Choose at least one collection"),
        ({"question": "Hi", "collections": ["hr"]}, "valid integer"),
    ],
    ids=["blank", "too-long", "no-collection", "collection-name"],
)
def test_invalid_questions_get_400_with_a_plain_message(
    world: World, scripted: ScriptedAnswers, data: dict[str, Any], message: str
) -> None:
    response = signed_in(world, "engineer").post(
        "/chat/stream", data, HTTP_ACCEPT="text/event-stream"
    )

    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert not scripted.calls


def test_a_saturated_model_is_a_429_before_the_stream_starts(
    world: World, scripted: ScriptedAnswers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(answer_events, "model_saturated", lambda: True)
    turned_away = _turned_away()

    response = ask(signed_in(world, "engineer"), collections=eng_collections(world))

    assert response.status_code == 429 and response["Retry-After"] == "30"
    assert response.json()["error"]["code"] == "model_busy"
    assert "busy" in response.json()["error"]["message"] and not scripted.calls
    assert _turned_away() == turned_away + 1


def test_someone_elses_conversation_is_404(world: World, scripted: ScriptedAnswers) -> None:
    theirs = Conversation.objects.create(user=world.users["hr_reader"], title="Payroll")

    response = ask(
        signed_in(world, "engineer"), collections=eng_collections(world), conversation=theirs.pk
    )

    assert response.status_code == 404 and not scripted.calls
    assert response.json()["error"]["message"] == "This conversation no longer exists."


@pytest.mark.django_db(transaction=True)
def test_questions_beyond_the_per_user_rate_get_429(
    world: World, scripted: ScriptedAnswers, settings: Settings
) -> None:
    settings.KB_API_RATE_PER_MINUTE = 2
    cache.clear()  # counters of earlier tests' users (same ids) must not count here
    client = signed_in(world, "engineer")

    codes = [ask(client, collections=eng_collections(world)).status_code for _ in range(3)]
    other = ask(signed_in(world, "staff"), collections=eng_collections(world))

    assert codes == [200, 200, 429]
    assert other.status_code == 200  # the budget is per user


# --- ratings ------------------------------------------------------------------------------------


def own_query(world: World, persona: str) -> QueryLog:
    user = world.users[persona]
    return QueryLog.objects.create(pseudonym=pseudonym(user.pk), question_redacted="q")


def test_the_asker_rates_an_answer_then_adds_a_comment(world: World) -> None:
    log = own_query(world, "engineer")
    client = signed_in(world, "engineer")

    rated = client.post(
        "/chat/feedback", {"query_id": log.pk, "rating": "down"}, HTTP_HX_REQUEST="true"
    )
    commented = client.post(
        "/chat/feedback",
        {"query_id": log.pk, "rating": "down", "comment": "Wrong page; mail me at bob@example.com"},
    )

    assert rated.status_code == 201
    html = rated.content.decode()
    assert html.startswith('<form class="feedback"') and "What was wrong or missing?" in html
    assert re.search(r'value="down"[^>]*aria-pressed="true"', html)
    assert (
        commented.status_code == 201
        and "rating and comment are saved" in commented.content.decode()
    )
    feedback = Feedback.objects.get(query_log=log)
    assert (
        feedback.rating == "down" and feedback.comment_redacted == "Wrong page; mail me at [email]"
    )

    # Changing one's mind afterwards keeps the comment (the form carries it)
    kept = re.search(r'name="comment" value="([^"]*)"', commented.content.decode())
    assert kept and kept.group(1) == "Wrong page; mail me at bob@example.com"
    client.post("/chat/feedback", {"query_id": log.pk, "rating": "up", "comment": kept.group(1)})
    feedback.refresh_from_db()
    assert feedback.rating == "up" and feedback.comment_redacted.startswith("Wrong page")


@pytest.mark.parametrize("persona", ["hr_reader", "staff"])
def test_someone_elses_answer_cannot_be_rated(world: World, persona: str) -> None:
    log = own_query(world, "engineer")

    response = signed_in(world, persona).post(
        "/chat/feedback", {"query_id": log.pk, "rating": "up"}, HTTP_ACCEPT="text/html, */*"
    )

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "This answer cannot be rated any more."
    assert not Feedback.objects.exists()


def test_rating_needs_a_session_a_csrf_token_and_a_known_rating(world: World) -> None:
    log = own_query(world, "engineer")
    data = {"query_id": log.pk, "rating": "up"}

    anonymous = Client().post("/chat/feedback", data)
    no_csrf = signed_in(world, "engineer", enforce_csrf_checks=True).post("/chat/feedback", data)
    odd = signed_in(world, "engineer").post("/chat/feedback", {**data, "rating": "meh"})

    assert anonymous.status_code == 403 and no_csrf.status_code == 403
    assert odd.status_code == 400
    assert not Feedback.objects.exists()


def test_the_page_endpoints_stay_out_of_the_rest_apis_schema(world: World) -> None:
    response = signed_in(world, "engineer").get("/api/v1/schema?format=json")

    paths = set(response.json()["paths"])
    assert "/api/v1/query" in paths and not [p for p in paths if not p.startswith("/api/")]


def _turned_away() -> float:
    return prometheus_client.REGISTRY.get_sample_value("quarry_model_busy_total") or 0.0
