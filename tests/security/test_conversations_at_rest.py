"""Chat history at rest (issue 16): what someone who reads the database learns about what people
asked and were answered, and what people see when the server's conversation key is wrong.

The attacker holds a copy of the database (a backup, a replica, a DBA's shell) but not the
conversation key, which lives in the environment or the data folder. They also read the
anonymised query log and want to join it to named people's conversations by the questions'
text, or by equal ciphertexts of equal questions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from pytest_django.fixtures import Settings

from kb.answering import Finished
from kb.models import Conversation, QueryLog, Turn
from kb.services.conversations import (
    conversations_forget_documents,
    conversations_purge_expired,
    exchange_record,
)
from kb.services.querylog import QueryRecord, querylog_write
from kb.web import chat
from retrieval.answer_checks import Claim
from retrieval.answerer import Answer
from retrieval.evidence import NO_EVIDENCE
from retrieval.retriever import Retrieval
from tests.support.clients import signed_in
from tests.support.personas import World
from tests.support.sse import read_events

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous"),
]

EXCHANGES = [
    ("How do I restart the billing service?", "Run systemctl restart billing [1]."),
    ("谁负责备份数据库？", "运维团队负责备份。"),
    ("Кто отвечает за резервные копии?", "Команда эксплуатации."),
]
OTHER_KEY = "a-key-this-server-never-had-0123456789abcdef"


def _record(world: World, persona: str = "engineer") -> Conversation:
    conversation = None
    for question, answer in EXCHANGES:
        conversation = exchange_record(
            user=world.users[persona],
            conversation_id=conversation.pk if conversation else None,
            question=question,
            answer=answer,
            refused=False,
            citations=[],
        )
    assert conversation is not None
    return conversation


def _raw_rows(table: str) -> str:
    """Every column of every row, as a database reader's SELECT shows them."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
        return repr(cursor.fetchall())


def _conversation_tables() -> str:
    return _raw_rows(Conversation._meta.db_table) + _raw_rows(Turn._meta.db_table)


# --- what a database reader finds ----------------------------------------------------------------


def test_a_database_reader_finds_no_question_answer_or_title_to_join_the_log_by(
    world: World, settings: Settings
) -> None:
    engineer = world.users["engineer"]
    _record(world)
    record = QueryRecord(collection_ids=[1], retrieved={}, latencies_ms={"total": 5.0})
    for question, _answer in EXCHANGES:
        querylog_write(user=engineer, question=question, record=record)

    stored = _conversation_tables()

    logged = list(QueryLog.objects.values_list("question_redacted", flat=True))
    assert len(logged) == len(EXCHANGES) and all(logged)  # what the attacker would join on
    for text in logged:
        assert text not in stored
    for question, answer in EXCHANGES:
        assert question not in stored and answer not in stored
    for word in ("restart", "billing", "systemctl", "备份", "резервные"):
        assert word not in stored.lower()
    assert settings.KB_CONVERSATION_KEY not in stored
    assert Conversation.objects.get().title == EXCHANGES[0][0]  # the owner still reads it


def test_a_database_reader_finds_where_an_answer_is_unverified_but_not_what_it_says(
    world: World,
) -> None:
    """The chat keeps an answer's unverified marks across visits without a plaintext copy of
    the sentences it marks: offsets into the encrypted answer, nothing to join the log by."""
    answer = "Run systemctl restart billing [1]. Billing restarts take 45 minutes [1]."
    claims = [
        Claim("Run systemctl restart billing [1].", True, (1,)),
        Claim("Billing restarts take 45 minutes [1].", False, (1,)),
    ]
    conversation = exchange_record(
        user=world.users["engineer"],
        conversation_id=None,
        question=EXCHANGES[0][0],
        answer=answer,
        refused=False,
        citations=[],
        claims=claims,
    )

    stored = _conversation_tables()

    assert "[[35, 72]]" in stored  # the offsets, in the clear
    for word in ("restart", "billing", "minutes", "45 "):
        assert word not in stored.lower()
    turn = Turn.objects.get(conversation=conversation, role="assistant")
    assert turn.content[35:72] == claims[1].text  # the owner's key turns them back into text


def test_the_same_question_from_two_people_is_stored_as_two_unrelated_texts(
    world: World,
) -> None:
    """Deterministic encryption would let an attacker ask a question themselves and find
    everyone whose conversation holds the same ciphertext."""
    mine, theirs = _record(world, "engineer"), _record(world, "hr_reader")

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT title FROM kb_conversation WHERE id IN (%s, %s)", [mine.pk, theirs.pk]
        )
        titles = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT content FROM kb_turn")
        contents = [row[0] for row in cursor.fetchall()]

    assert len(set(titles)) == 2
    assert len(set(contents)) == len(contents) == 2 * 2 * len(EXCHANGES)


# --- what the owner sees -------------------------------------------------------------------------


def test_the_owner_reads_their_history_on_the_chat_pages(world: World) -> None:
    conversation = _record(world)
    client = signed_in(world, "engineer")

    reopened = client.get(f"/conversations/{conversation.pk}").content.decode()
    sidebar = client.get("/").content.decode()

    for question, answer in EXCHANGES:
        assert question in reopened and answer in reopened
    assert EXCHANGES[0][0] in sidebar  # the title


class FollowUps:
    """Stands in for kb.answering.answer_stream: keeps the history the view decrypted and
    finishes with a plain answer."""

    def __init__(self) -> None:
        self.histories: list[list[Any]] = []

    def __call__(self, **ask: Any) -> Iterator[Any]:
        self.histories.append(ask["history"])
        yield "Every night."
        log = QueryLog.objects.create(pseudonym="p", question_redacted=ask["question"])
        yield Finished(
            Answer(ask["question"], "Every night.", False, [], [], Retrieval({}, [], NO_EVIDENCE)),
            log,
        )


@pytest.mark.django_db(transaction=True)  # the answer streams from its own thread
def test_a_follow_up_in_the_chat_gets_its_history_as_text_and_the_title_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = _record(world)
    follow_ups = FollowUps()
    monkeypatch.setattr(chat, "answer_stream", follow_ups)
    data = {
        "question": "And how often?",
        "collections": [world.collections["eng"].pk],
        "conversation": conversation.pk,
    }

    response = signed_in(world, "engineer").post(
        "/chat/stream", data, HTTP_ACCEPT="text/event-stream"
    )

    events = dict(read_events(response))
    assert [m["content"] for m in follow_ups.histories[0]][:2] == list(EXCHANGES[0])
    assert events["conversation"]["title"] == EXCHANGES[0][0]
    assert "And how often?" not in _conversation_tables()
    assert Turn.objects.filter(conversation=conversation).last().content == "Every night."  # type: ignore[union-attr]


# --- a wrong key ---------------------------------------------------------------------------------


@pytest.fixture
def wrong_key(world: World, settings: Settings) -> Conversation:
    """History written under this install's key, then the server started with another one
    (a lost key file, a mistyped variable)."""
    conversation = _record(world)
    settings.KB_CONVERSATION_KEY = OTHER_KEY
    settings.DEBUG = True  # even so: no technical page with a traceback
    return conversation


@pytest.mark.parametrize("path", ["/", "/conversations/{pk}"], ids=["chat-page", "reopened"])
def test_a_wrong_key_shows_a_plain_page_that_says_so_and_logs_which_key(
    world: World,
    wrong_key: Conversation,
    caplog: pytest.LogCaptureFixture,
    path: str,
) -> None:
    with caplog.at_level(logging.ERROR, logger="kb.web.unreadable_history"):
        response = signed_in(world, "engineer").get(path.format(pk=wrong_key.pk))

    page = response.content.decode()
    assert response.status_code == 503
    assert (
        "Your chat history cannot be read right now" in page and "Nothing has been deleted" in page
    )
    assert "Traceback" not in page and "ConversationKeyError" not in page
    assert EXCHANGES[0][0] not in page
    (logged,) = [r for r in caplog.records if r.name == "kb.web.unreadable_history"]
    assert "KB_CONVERSATION_KEY_PREVIOUS" in logged.getMessage()


def test_a_wrong_key_answers_a_follow_up_with_a_json_error_the_chat_shows(
    world: World, wrong_key: Conversation
) -> None:
    data = {
        "question": "And how often?",
        "collections": [world.collections["eng"].pk],
        "conversation": wrong_key.pk,
    }

    response = signed_in(world, "engineer").post(
        "/chat/stream", data, HTTP_ACCEPT="text/event-stream"
    )

    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "history_unreadable"
    assert error["message"].startswith("Your chat history cannot be read right now")


def test_people_without_unreadable_history_keep_their_chat(
    world: World, wrong_key: Conversation
) -> None:
    assert signed_in(world, "hr_reader").get("/").status_code == 200


def test_erasing_a_person_and_retention_need_no_key(world: World, wrong_key: Conversation) -> None:
    """The right to be forgotten does not wait for a lost key to be found."""
    stale = _record(world, "hr_reader")
    Conversation.objects.filter(pk=stale.pk).update(updated_at=timezone.now() - timedelta(days=400))
    out = StringIO()

    call_command("kb_forget_user", "bob", stdout=out)
    expired = conversations_purge_expired()

    assert "  conversations: 1 (6 questions and answers)" in out.getvalue().splitlines()
    assert expired == 1
    assert not Conversation.objects.exists() and not Turn.objects.exists()


def test_a_deleted_document_leaves_conversations_without_the_key(
    world: World, settings: Settings
) -> None:
    runbook = world.documents["runbook"]
    citation = {"n": 1, "document_id": runbook.pk, "title": "runbook", "chunk_id": "c"}
    conversation = exchange_record(
        user=world.users["engineer"],
        conversation_id=None,
        question=EXCHANGES[0][0],
        answer=EXCHANGES[0][1],
        refused=False,
        citations=[citation],
    )
    settings.KB_CONVERSATION_KEY = OTHER_KEY

    changed = conversations_forget_documents(document_ids=[runbook.pk])

    assert changed == 1
    assert Turn.objects.filter(conversation=conversation).exclude(citations=[]).count() == 0
