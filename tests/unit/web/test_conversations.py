"""Conversations belong to their owner alone: reopened by them, 404 for everyone else (staff
included), deleted only by a POST with a CSRF token. They never point at the query log."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.db import connection
from django.test import Client

from kb.models import Conversation, QueryLog, Turn, TurnRole
from kb.selectors.conversations import (
    HISTORY_MESSAGES,
    conversation_exchanges,
    conversation_history,
)
from kb.services.conversations import conversation_title, exchange_record
from retrieval.answer_checks import Claim
from retrieval.refusals import NOT_FOUND
from tests.support.clients import signed_in
from tests.support.personas import World

pytestmark = pytest.mark.unit

CITATION = {
    "n": 1,
    "title": "runbook",
    "page": 2,
    "page_label": "ii",
    "section": "Restarts",
    "chunk_id": "6d1b1f4e-7a0e-5c1e-9a57-0e3c7f2b9a11",
    "text": "Restart the service.",
    "score": 0.03,
    "url": "/sources/6d1b1f4e-7a0e-5c1e-9a57-0e3c7f2b9a11",
}


def engineer_conversation(world: World) -> Conversation:
    citation = {**CITATION, "document_id": world.documents["runbook"].pk}
    return exchange_record(
        user=world.users["engineer"],
        conversation_id=None,
        question="How do I restart the service?",
        answer="Use systemctl [1].",
        refused=False,
        citations=[citation],
    )


# --- who may open, list and delete -------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "status"),
    [("engineer", 200), ("eng_editor", 404), ("staff", 404), ("hr_reader", 404)],
    ids=["owner", "colleague-same-collection", "staff", "other-department"],
)
def test_only_the_owner_reopens_a_conversation(world: World, persona: str, status: int) -> None:
    conversation = engineer_conversation(world)

    response = signed_in(world, persona).get(f"/conversations/{conversation.pk}")

    assert response.status_code == status
    assert ("How do I restart the service?" in response.content.decode()) is (status == 200)


def test_signed_out_visitors_are_sent_to_sign_in_for_every_conversation_url(world: World) -> None:
    conversation = engineer_conversation(world)
    client = Client()

    for method, url in [
        ("get", f"/conversations/{conversation.pk}"),
        ("get", "/conversations/"),
        ("post", f"/conversations/{conversation.pk}/delete"),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_a_missing_conversation_looks_like_someone_elses(world: World) -> None:
    client = signed_in(world, "engineer")

    assert client.get("/conversations/999999").status_code == 404
    assert client.post("/conversations/999999/delete").status_code == 404


def test_a_reopened_conversation_shows_its_exchanges_with_source_links_and_no_ratings(
    world: World,
) -> None:
    conversation = engineer_conversation(world)

    page = signed_in(world, "engineer").get(f"/conversations/{conversation.pk}").content.decode()

    assert '<p class="turn-question">How do I restart the service?</p>' in page
    assert "Use systemctl [1]." in page
    assert f'href="{CITATION["url"]}"' in page and "runbook, page 2 (printed ii)" in page
    # as the live chat's source cards (chat.js links the answer's [1] to data-n="1")
    assert '<li class="source-card is-cited" value="1" data-n="1">' in page
    assert '<p class="source-section small muted">Restarts</p>' in page
    assert f'<input type="hidden" name="conversation" value="{conversation.pk}">' in page
    assert "cannot be rated" in page
    assert 'class="feedback"' not in page.split('<template id="feedback-template">')[0]


def test_a_citation_stored_before_page_labels_reopens_with_its_page_alone(world: World) -> None:
    conversation = engineer_conversation(world)
    turn = conversation.turns.get(role=TurnRole.ASSISTANT)
    turn.citations = [{k: v for k, v in c.items() if k != "page_label"} for c in turn.citations]
    turn.save()

    page = signed_in(world, "engineer").get(f"/conversations/{conversation.pk}").content.decode()

    assert "runbook, page 2<" in page and "printed" not in page


def test_a_refusal_reopens_as_the_not_found_state(world: World) -> None:
    conversation = exchange_record(
        user=world.users["engineer"],
        conversation_id=None,
        question="Who won in 1998?",
        answer="Not found in the knowledge base.",
        refused=True,
        citations=[],
    )

    page = signed_in(world, "engineer").get(f"/conversations/{conversation.pk}").content.decode()

    assert "Not found in the knowledge base: no passage you may read answers this." in page
    assert '<p class="answer-text">' not in page and "Found instead" not in page


def refusal_naming(world: World, persona: str, document: str) -> Conversation:
    """A refusal whose closest source is `document`, as the chat page records it."""
    source = {**CITATION, "document_id": world.documents[document].pk, "title": document}
    return exchange_record(
        user=world.users[persona],
        conversation_id=None,
        question="Who won in 1998?",
        answer=f"{NOT_FOUND} The closest sources found: “Restarts” in {document}.",
        refused=True,
        citations=[],
        closest=[source],
    )


def test_a_refusal_reopens_with_what_it_found_instead_and_the_stock_text_once(
    world: World,
) -> None:
    conversation = refusal_naming(world, "engineer", "runbook")

    page = signed_in(world, "engineer").get(f"/conversations/{conversation.pk}").content.decode()

    assert page.count("Not found in the knowledge base") == 1  # the notice, not the text
    assert "Found instead:" in page and "The closest sources found" not in page
    assert f'href="{CITATION["url"]}" target="_blank"' in page
    assert "runbook — Restarts, page 2 (printed ii)" in page


def test_a_closest_source_no_longer_readable_is_not_shown_again(world: World) -> None:
    conversation = refusal_naming(world, "hr_lead", "salaries")
    lead = world.users["hr_lead"]
    salaries = world.documents["salaries"]

    (before,) = conversation_exchanges(user=lead, conversation=conversation)
    lead.groups.remove(salaries.reader_groups.get())
    (after,) = conversation_exchanges(user=lead, conversation=conversation)
    page = signed_in(world, "hr_lead").get(f"/conversations/{conversation.pk}").content.decode()

    assert [c["title"] for c in before.closest] == ["salaries"] and before.citations == []
    assert after.closest == [] and after.shown_answer == ""
    assert str(CITATION["url"]) not in page and "Found instead" not in page


def test_deleting_needs_the_owner_and_a_post(world: World) -> None:
    conversation = engineer_conversation(world)
    url = f"/conversations/{conversation.pk}/delete"

    assert signed_in(world, "engineer").get(url).status_code == 405
    assert signed_in(world, "staff").post(url).status_code == 404
    assert Conversation.objects.filter(pk=conversation.pk).exists()

    response = signed_in(world, "engineer").post(url)

    assert response.status_code == 302 and response["Location"] == "/"
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Turn.objects.filter(conversation_id=conversation.pk).exists()


def test_deleting_without_the_csrf_token_is_refused(world: World) -> None:
    conversation = engineer_conversation(world)
    client = signed_in(world, "engineer", enforce_csrf_checks=True)

    response = client.post(f"/conversations/{conversation.pk}/delete")

    assert response.status_code == 403
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_deleting_with_htmx_removes_the_item_or_leaves_the_open_conversation(
    world: World,
) -> None:
    first, second = engineer_conversation(world), engineer_conversation(world)
    client = signed_in(world, "engineer")

    elsewhere = client.post(
        f"/conversations/{first.pk}/delete",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/",
    )
    open_one = client.post(
        f"/conversations/{second.pk}/delete",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver/conversations/{second.pk}",
    )

    assert elsewhere.status_code == 200 and elsewhere.content == b""
    assert open_one.status_code == 200 and open_one["HX-Redirect"] == "/"
    assert not Conversation.objects.filter(user=world.users["engineer"]).exists()


def test_the_sidebar_list_is_an_htmx_fragment_of_ones_own(world: World) -> None:
    conversation = engineer_conversation(world)

    fragment = signed_in(world, "engineer").get(
        f"/conversations/?current={conversation.pk}", HTTP_HX_REQUEST="true"
    )
    other = signed_in(world, "hr_reader").get("/conversations/", HTTP_HX_REQUEST="true")
    plain = signed_in(world, "engineer").get("/conversations/")

    html = fragment.content.decode()
    assert html.startswith('<div id="conversation-list"') and "<html" not in html
    assert 'aria-current="page"' in html and "How do I restart the service?" in html
    assert "How do I restart" not in other.content.decode()
    assert plain.status_code == 302 and plain["Location"] == "/"


# --- what is kept --------------------------------------------------------------------------------


def test_no_conversation_or_turn_column_can_lead_to_the_query_log(world: World) -> None:
    """The query log is anonymous: a QueryLog id next to a user would re-identify it."""
    querylog_table = QueryLog._meta.db_table
    for model in (Conversation, Turn):
        table = model._meta.db_table
        with connection.cursor() as cursor:
            relations = connection.introspection.get_relations(cursor, table)
            columns = [
                c.name for c in connection.introspection.get_table_description(cursor, table)
            ]
        assert querylog_table not in {target for _column, target in relations.values()}, table
        assert not [c for c in columns if "query" in c.lower() or "log" in c.lower()], columns
        assert not [f for f in model._meta.get_fields() if f.related_model is QueryLog]


UNVERIFIED_ANSWER = "Use systemctl [1]. It takes 45 minutes [1].\r\nAsk the on-call engineer [1]."
CLAIMS = [
    Claim("Use systemctl [1].", True, (1,)),
    Claim("It takes 45 minutes [1].", False, (1,)),
    Claim("Ask the on-call engineer [1].", False, (1,)),
]


def record_checked(world: World, *, refused: bool = False) -> Conversation:
    return exchange_record(
        user=world.users["engineer"],
        conversation_id=None,
        question="How do I restart the service?",
        answer=UNVERIFIED_ANSWER,
        refused=refused,
        citations=[{**CITATION, "document_id": world.documents["runbook"].pk}],
        claims=CLAIMS,
    )


def test_an_answer_keeps_where_its_unsupported_sentences_stand_as_offsets(world: World) -> None:
    conversation = record_checked(world)

    turn = Turn.objects.get(conversation=conversation, role=TurnRole.ASSISTANT)

    assert turn.unverified == [[19, 43], [45, 74]]
    assert [turn.content[start:end] for start, end in turn.unverified] == [
        "It takes 45 minutes [1].",
        "Ask the on-call engineer [1].",
    ]
    assert Turn.objects.get(conversation=conversation, role=TurnRole.USER).unverified == []


def test_a_refusal_keeps_no_unverified_offsets(world: World) -> None:
    conversation = record_checked(world, refused=True)

    assert Turn.objects.get(conversation=conversation, role=TurnRole.ASSISTANT).unverified == []


def test_a_reopened_answer_gives_the_page_its_unverified_sentences_in_the_text_it_shows(
    world: World,
) -> None:
    """The browser reads the answer's CR LF as one LF: the offsets follow."""
    conversation = record_checked(world)

    page = signed_in(world, "engineer").get(f"/conversations/{conversation.pk}").content.decode()

    (spans, text) = re.findall(
        r'<p class="answer-text" data-unverified="([^"]*)">([^<]*)</p>', page
    )[0]
    shown = html.unescape(text).replace("\r\n", "\n")
    assert json.loads(spans) == [[19, 43], [44, 73]]
    assert [shown[start:end] for start, end in json.loads(spans)] == [
        "It takes 45 minutes [1].",
        "Ask the on-call engineer [1].",
    ]


def test_an_answer_without_unverified_sentences_has_no_spans_on_the_page(world: World) -> None:
    conversation = engineer_conversation(world)

    page = signed_in(world, "engineer").get(f"/conversations/{conversation.pk}").content.decode()

    assert '<p class="answer-text">Use systemctl [1].</p>' in page


def test_stored_citations_keep_only_what_links_a_source(world: World) -> None:
    conversation = engineer_conversation(world)

    answer = conversation.turns.get(role=TurnRole.ASSISTANT)

    assert answer.citations == [
        {
            "n": 1,
            "document_id": world.documents["runbook"].pk,
            "title": "runbook",
            "page": 2,
            "page_label": "ii",
            "section": "Restarts",
            "chunk_id": CITATION["chunk_id"],
        }
    ]


def test_a_follow_up_is_appended_to_its_conversation_and_becomes_history(world: World) -> None:
    conversation = engineer_conversation(world)

    same = exchange_record(
        user=world.users["engineer"],
        conversation_id=conversation.pk,
        question="And on Windows?",
        answer="Not covered.",
        refused=True,
        citations=[],
    )

    assert same.pk == conversation.pk
    assert conversation_history(conversation=same) == [
        {"role": "user", "content": "How do I restart the service?"},
        {"role": "assistant", "content": "Use systemctl [1]."},
        {"role": "user", "content": "And on Windows?"},
        {"role": "assistant", "content": "Not covered."},
    ]


def test_history_keeps_the_latest_turns_oldest_first(world: World) -> None:
    conversation = engineer_conversation(world)
    for n in range(HISTORY_MESSAGES):
        exchange_record(
            user=world.users["engineer"],
            conversation_id=conversation.pk,
            question=f"q{n}",
            answer=f"a{n}",
            refused=False,
            citations=[],
        )

    history = conversation_history(conversation=conversation)

    assert len(history) == HISTORY_MESSAGES
    assert history[0]["content"] == f"q{HISTORY_MESSAGES // 2}" and history[-1]["content"] == (
        f"a{HISTORY_MESSAGES - 1}"
    )


def test_someone_elses_conversation_id_starts_a_new_conversation_instead(world: World) -> None:
    theirs = engineer_conversation(world)

    mine = exchange_record(
        user=world.users["hr_reader"],
        conversation_id=theirs.pk,
        question="Payroll?",
        answer="…",
        refused=False,
        citations=[],
    )

    assert mine.pk != theirs.pk and mine.user == world.users["hr_reader"]
    assert theirs.turns.count() == 2


def test_a_citation_of_a_document_no_longer_readable_is_not_shown_again(world: World) -> None:
    salaries = world.documents["salaries"]
    citation = {**CITATION, "document_id": salaries.pk, "title": "salaries"}
    conversation = exchange_record(
        user=world.users["hr_lead"],
        conversation_id=None,
        question="Salaries?",
        answer="See [1].",
        refused=False,
        citations=[citation],
    )
    lead = world.users["hr_lead"]

    assert [
        c["title"]
        for e in conversation_exchanges(user=lead, conversation=conversation)
        for c in e.citations
    ] == ["salaries"]
    lead.groups.remove(salaries.reader_groups.get())
    assert [
        c for e in conversation_exchanges(user=lead, conversation=conversation) for c in e.citations
    ] == []


@pytest.mark.parametrize(
    ("question", "title"),
    [
        ("  How   do I\nrestart?  ", "How do I restart?"),
        ("word " * 30, ("word " * 15).strip() + "…"),
        ("长" * 100, "长" * 79 + "…"),
    ],
    ids=["whitespace", "long-words", "no-spaces-chinese"],
)
def test_the_title_is_the_first_question_on_one_short_line(question: str, title: str) -> None:
    assert conversation_title(question) == title
