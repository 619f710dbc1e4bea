"""The chat endpoint end to end on the persona company's ingested documents: the sources come
first, as links, before the model starts; with the real (small) model, the streamed answer cites
only readable documents, its source links open for the asker and 404 for others, a follow-up is
condensed with its conversation, and the answer can be rated from the page that showed it."""

from __future__ import annotations

import html
import json
import re

import pytest

from kb.llm.chat import Message
from kb.models import Conversation, Feedback, Turn
from tests.support.clients import signed_in
from tests.support.model_server import ScriptedModel
from tests.support.personas import EXPECTED_VISIBLE, IndexedWorld, canary
from tests.support.sse import read_events

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous"),
]

QUESTION = "Which team descales the office coffee machine?"  # the 0.5B model answers this one


def test_the_sources_come_first_as_links_the_asker_alone_can_open(
    indexed_world: IndexedWorld, scripted_model: type[ScriptedModel]
) -> None:
    scripted_model.reply = "The facilities team descales it every Friday [1]."
    engineer = signed_in(indexed_world.world, "engineer")
    eng = indexed_world.world.collections["eng"].pk

    # When the engineer asks over the Engineering collection
    got = read_events(engineer.post("/chat/stream", {"question": QUESTION, "collections": [eng]}))

    # Then the sources come first, before any token, and the API's closing events follow
    names = [name for name, _ in got]
    assert names[0] == "sources" and names.index("sources") < names.index("token")
    assert names[-3:] == ["citations", "conversation", "done"]
    sources = got[0][1]["sources"]
    titles = {s["title"] for s in sources}
    assert titles == {"runbook", "architecture"}  # Engineering only: the question's scope
    # And each is a card's worth: where it is, a snippet, and the link its citation has
    cited = {c["n"]: c["url"] for c in dict(got)["citations"]["citations"]}
    assert cited and set(cited) <= {s["n"] for s in sources}
    for source in sources:
        assert source["url"] == f"/sources/{source['chunk_id']}"
        assert source["url"] == cited.get(source["n"], source["url"])
        assert canary(source["title"]) in source["snippet"]
        assert engineer.get(source["url"]).status_code == 200
        assert signed_in(indexed_world.world, "hr_reader").get(source["url"]).status_code == 404


@pytest.mark.llm
def test_an_answer_streams_cites_readable_sources_and_takes_a_follow_up(
    indexed_world: IndexedWorld, prompts: list[list[Message]]
) -> None:
    engineer = signed_in(indexed_world.world, "engineer")
    eng = indexed_world.world.collections["eng"].pk

    # When the engineer asks over the Engineering collection
    got = read_events(engineer.post("/chat/stream", {"question": QUESTION, "collections": [eng]}))

    # Then the sources come first, the answer streams and ends with citations, the
    # conversation and done
    names = [name for name, _ in got]
    assert names[-3:] == ["citations", "conversation", "done"] and "error" not in names
    done = got[-1][1]
    if done["refused"]:
        pytest.fail(f"precondition: the 0.5B model must answer {QUESTION!r}; it refused: {done}")
    assert names[0] == "sources" and names.count("token") >= 2, names
    citations = got[-3][1]["citations"]
    titles = {
        t for c in citations for t, d in indexed_world.documents.items() if d.pk == c["document_id"]
    }
    assert citations and titles <= {"runbook", "architecture"}
    # And each source link opens for the asker and is 404 for someone outside Engineering
    for citation in citations:
        page = engineer.get(citation["url"])
        assert page.status_code == 200 and "<mark" in page.content.decode()
        title = next(
            iter(t for t, d in indexed_world.documents.items() if d.pk == citation["document_id"])
        )
        assert canary(title) in page.content.decode()
        assert signed_in(indexed_world.world, "hr_reader").get(citation["url"]).status_code == 404

    # When they ask a follow-up in the same conversation
    conversation = got[-2][1]["id"]
    prompts.clear()
    follow_up = read_events(
        engineer.post(
            "/chat/stream",
            {
                "question": "How often do they do it?",
                "collections": [eng],
                "conversation": conversation,
            },
        )
    )

    # Then the question was condensed with the first exchange, and both are kept in order
    assert follow_up[-2][1]["id"] == conversation
    assert "coffee machine" in prompts[0][1]["content"]
    assert [t.content for t in Turn.objects.filter(role="user").order_by("pk")] == [
        QUESTION,
        "How often do they do it?",
    ]
    assert Conversation.objects.get().title == QUESTION

    # And the first answer is rated from the page
    rated = engineer.post(
        "/chat/feedback", {"query_id": done["query_id"], "rating": "down", "comment": "Too short"}
    )
    assert rated.status_code == 201
    assert Feedback.objects.get(query_log_id=done["query_id"]).comment_redacted == "Too short"


@pytest.mark.llm
def test_a_collection_the_user_cannot_read_is_searched_as_empty(
    indexed_world: IndexedWorld, prompts: list[list[Message]]
) -> None:
    hr = indexed_world.world.collections["hr"].pk

    got = read_events(
        signed_in(indexed_world.world, "engineer").post(
            "/chat/stream", {"question": QUESTION, "collections": [hr]}
        )
    )

    assert [name for name, _ in got] == ["citations", "conversation", "done"]  # no sources
    assert got[0][1] == {
        "citations": [],
        "refused": True,
        "refusal": "no_evidence",
        "closest": [],  # nothing of HR is named either
        "gap": "",
    }
    assert prompts == []  # refused before the model: nothing of HR reached a prompt
    body = json.dumps(got)
    assert not [t for t in EXPECTED_VISIBLE["staff"] if canary(t) in body]


SUPPORTED = "The facilities team descales the office coffee machine every Friday [1]."
# Unsupported (a number and a name no passage states) and hostile: model output is untrusted.
HOSTILE = 'It costs 9000 euros <script>alert("x")</script><img src=x onerror=alert(1)> [1].'


def test_a_reopened_answer_marks_exactly_its_unsupported_sentence_and_escapes_it(
    indexed_world: IndexedWorld, scripted_model: type[ScriptedModel]
) -> None:
    scripted_model.reply = f"{SUPPORTED}\n{HOSTILE}"
    engineer = signed_in(indexed_world.world, "engineer")
    eng = indexed_world.world.collections["eng"].pk

    # Given an answer whose second sentence its sources do not support, checked for real
    got = dict(
        read_events(engineer.post("/chat/stream", {"question": QUESTION, "collections": [eng]}))
    )
    done = got["done"]
    assert not done["refused"] and done["answer"] == f"{SUPPORTED}\n{HOSTILE}", done
    assert [(c["text"], c["supported"]) for c in done["claims"]] == [
        (SUPPORTED, True),
        (HOSTILE, False),
    ]
    (claim,) = [c for c in done["claims"] if not c["supported"]]
    assert done["answer"][claim["start"] : claim["end"]] == HOSTILE  # where the page marks it

    # When its asker reopens the conversation
    page = engineer.get(got["conversation"]["url"]).content.decode()

    # Then the answer carries the span of that sentence alone, for the page's script to mark
    (answer,) = re.findall(r'<p class="answer-text" data-unverified="([^"]*)">([^<]*)</p>', page)
    (span,) = json.loads(answer[0])
    assert html.unescape(answer[1])[span[0] : span[1]] == HOSTILE
    # And the hostile text is shown as text, never as markup
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in answer[1]
