"""End to end with the real default model (Qwen2.5-Coder-1.5B, `make model`): ingest a PDF,
ask, get an answer that cites the right page; ask something absent, get a refusal.
Tier `model` (make test-model, run by .ci/run): the 1 GB model answers in tens of seconds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from ingestion.pipeline import ingest_document
from kb.access import CONSOLE
from kb.llm.factory import forget_chat_model, gguf_path
from kb.llm.gguf import MODELS
from kb.services.documents import document_add
from kb.uploads import IncomingFile
from retrieval.refusals import NOT_FOUND
from tests.support import samples
from tests.support.clients import api_client_as
from tests.support.factories import CollectionFactory, GroupFactory, UserFactory

pytestmark = [pytest.mark.model, pytest.mark.slow]

DEFAULT_MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"
PAGES = [
    ("Office guide", "Welcome to the Lisbon office. Visitors sign in at the front desk."),
    (
        "Backups",
        "The finance database is backed up every night at 02:30 to the Frankfurt "
        "data centre, and each backup is kept for 35 days.",
    ),
    ("Travel", "Train travel is booked through the travel desk at least two weeks ahead."),
]


@pytest.fixture
def client(
    transactional_db: None, stores: Path, settings: Settings, tmp_path: Path
) -> Iterator[APIClient]:
    settings.KB_LLM_MODEL_NAME = DEFAULT_MODEL
    settings.KB_LLM_MODEL_PATH = ""
    settings.KB_ANSWER_MAX_TOKENS = 160
    settings.KB_ANSWERABILITY_CHECK = True  # as shipped (the test settings turn it off)
    settings.KB_CLAIM_JUDGE = True  # as compose ships it with the GPU model server
    path = gguf_path()
    if not path.is_file():
        pytest.fail(f"The default model is missing at {path}: run `make model` first.")
    assert path.stat().st_size == MODELS[DEFAULT_MODEL].size
    forget_chat_model()
    ops = GroupFactory.create(name="ops")
    collection = CollectionFactory.create(name="Operations", reader_groups=[ops])
    pdf = samples.text_pdf(tmp_path / "operations.pdf", PAGES)
    document, _ = document_add(
        collection=collection, incoming=IncomingFile("operations.pdf", pdf), uploader=CONSOLE
    )
    assert ingest_document(document_id=document.pk, version=document.version) == "indexed"
    api = api_client_as(UserFactory.create(username="olga", groups=[ops]))
    yield api
    forget_chat_model()


def test_answer_cites_the_page_that_holds_it(client: APIClient) -> None:
    response = client.post(
        "/api/v1/query", {"question": "How long are finance database backups kept?"}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["refused"] is False, body
    assert "35" in body["answer"]
    assert body["citations"], body
    assert body["citations"][0]["page"] == 2
    assert "[" in body["answer"]  # the model cited with a marker, mapped back to page 2
    assert any(claim["supported"] for claim in body["claims"]), body  # judged by the model


def test_absent_answer_is_refused(client: APIClient) -> None:
    response = client.post(
        "/api/v1/query",
        {"question": "What is the parental leave policy for contractors in Singapore?"},
        format="json",
    )

    body = response.json()
    assert body["refused"] is True
    assert body["answer"].startswith(NOT_FOUND)
    assert body["citations"] == []


def test_a_near_miss_on_the_documents_topic_is_refused_naming_what_was_found(
    client: APIClient,
) -> None:
    """The backups page is on topic, but says nothing of encryption: the answer must be a
    refusal that names the page it found instead, not an invented answer citing it."""
    response = client.post(
        "/api/v1/query",
        {"question": "Which encryption algorithm protects the finance database backups?"},
        format="json",
    )

    body = response.json()
    assert body["refused"] is True, body
    assert body["refusal"] in {"not_answerable", "declined", "unsupported"}, body
    assert body["answer"].startswith(NOT_FOUND)
    assert body["citations"] == []
    assert [c["page"] for c in body["closest"]][:1] == [2], body


def test_the_claim_judge_tells_a_stated_sentence_from_one_that_reverses_its_passage(
    client: APIClient,
) -> None:
    """The default model as retrieval.claim_judge asks it, on the answer prompt of the backups
    page: the sentence the page states scores well above one that keeps its words and
    reverses them (0.64 against 0.33 when written, before the question quoted the
    passage's closest sentences; the test passed again with the quotes)."""
    from kb.llm.factory import chat_model
    from retrieval.answer_checks import Claim
    from retrieval.claim_judge import ClaimJudge
    from retrieval.claim_support import sources_read
    from retrieval.prompting import answer_messages, load_template
    from retrieval.types import Passage

    backups, travel = (
        Passage(n, f"chunk-{n}", 1, "Operations", page, title, text, 1.0, ("dense",))
        for n, (page, (title, text)) in enumerate(((2, PAGES[1]), (3, PAGES[2])), 1)
    )
    prompt = answer_messages(
        load_template("answer-v1"), "How long are finance database backups kept?", [backups, travel]
    )
    judge, model = ClaimJudge(min_yes=0.55), chat_model()

    def yes(sentence: str) -> float:
        claim = Claim(sentence, True, (1,))
        return judge.probability(model, judge.messages(prompt, claim, sources_read([backups])))

    stated = yes("Each backup is kept for 35 days [1].")
    reversed_ = yes(
        "The backups are deleted after the Frankfurt data centre has kept them for a night [1]."
    )
    assert stated >= 0.55 > reversed_
    assert stated - reversed_ >= 0.15
