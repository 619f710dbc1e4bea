"""A Chinese or Russian question about an English document finds it through the question's
English translation, and an English question a Chinese page through its Chinese one, written by
the real small model (retrieval/translation.py); without the translation a question finds only
the page in its own language, on another topic."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from prometheus_client import REGISTRY

from kb.access import access_scope, readable_document_ids
from kb.llm.chat import LlmBusy
from kb.models import Document
from kb.selectors.documents import readable_scripts
from kb.text.script import LATIN_SCRIPT
from retrieval.factory import default_retriever, question_translator
from retrieval.retriever import Retrieval
from retrieval.translation import QuestionTranslator
from tests.support import ingested
from tests.support.clients import api_client_as
from tests.support.factories import CollectionFactory, GroupFactory, UserFactory
from tests.support.sse import parse_events

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.llm]
# Callers of one access scope share remembered translations (retrieval.translation.Sharing).
SCOPE = ((1,), ("group:1",))

PAGES = {
    "backups": (
        "Backups. The operations team backs up every database each night. Backup copies are "
        "kept for thirty-five days and then deleted. To restore a backup, open a ticket with "
        "the operations team."
    ),
    "kantine": (
        "食堂。员工食堂每天中午十二点开放，下午两点关闭。周五提供素食菜单。访客需要在前台登记后才能进入食堂。"
    ),
    "parkovka": (
        "Парковка. Сотрудники получают пропуск на парковку в отделе кадров. Пропуск нужно "
        "продлевать каждый январь. Гости паркуются на местах у главного входа."
    ),
}
QUESTIONS = ["数据库备份会保留多少天？", "Сколько дней хранятся резервные копии базы данных?"]
CANTEEN = "When does the staff canteen open for lunch?"


@pytest.fixture
def documents(db: None, stores: Path, tmp_path: Path) -> dict[str, Document]:
    staff = GroupFactory.create(name="staff")
    collection = CollectionFactory.create(name="Handbook", reader_groups=[staff])
    return ingested.text_pages(collection, PAGES, tmp_path)


def reader_of(documents: dict[str, Document]) -> User:
    reader = UserFactory.create(username="reader")
    reader.groups.set([documents["backups"].collection.reader_groups.get()])
    return reader


def search(
    reader: User, question: str, *, translate: bool, scripts: frozenset[str] | None = None
) -> Retrieval:
    scope = access_scope(reader)
    if scripts is None:
        scripts = readable_scripts(user=reader, collection_ids=scope.collection_ids)
    return default_retriever(translate=translate).retrieve(
        question,
        scope=scope,
        allowed=lambda ids: readable_document_ids(reader, ids),
        top_k=3,
        document_scripts=scripts,
    )


def test_each_document_records_the_script_it_is_written_in(
    documents: dict[str, Document],
) -> None:
    scripts = {name: Document.objects.get(pk=d.pk).script for name, d in documents.items()}

    assert scripts == {"backups": "latin", "kantine": "han", "parkovka": "cyrillic"}
    assert readable_scripts(
        user=reader_of(documents), collection_ids=[documents["backups"].collection_id]
    ) == {"latin", "han", "cyrillic"}


@pytest.mark.parametrize("question", QUESTIONS, ids=["zh", "ru"])
def test_a_question_in_another_language_finds_the_english_page_through_its_translation(
    documents: dict[str, Document], question: str
) -> None:
    reader = reader_of(documents)

    def first_document(*, translate: bool) -> int:
        found = search(reader, question, translate=translate)
        assert found.passages
        return found.passages[0].document_id

    english = question_translator().translate(question, LATIN_SCRIPT, shared_by=SCOPE)
    assert english and "backup" in english.lower()  # precondition: the small model translates it
    assert first_document(translate=True) == documents["backups"].pk
    assert first_document(translate=False) != documents["backups"].pk  # the control


def test_an_english_question_finds_the_chinese_page_through_its_chinese_translation(
    documents: dict[str, Document], settings: Any
) -> None:
    settings.KB_TRANSLATE_INTO = ["latin", "han", "cyrillic"]  # the default, whatever the env
    reader = reader_of(documents)

    found = search(reader, CANTEEN, translate=True)
    untranslated = search(reader, CANTEEN, translate=False)

    assert found.per_path["sparse@zh"][0].document_id == documents["kantine"].pk
    assert "sparse@ru" in found.per_path  # the Russian page's language too
    assert documents["kantine"].pk not in {c.document_id for c in untranslated.per_path["sparse"]}


def test_translations_go_only_into_the_scripts_the_install_allows(
    documents: dict[str, Document], settings: Any
) -> None:
    reader = reader_of(documents)
    settings.KB_TRANSLATE_INTO = ["latin"]
    found = search(reader, CANTEEN, translate=True)
    settings.KB_TRANSLATE_INTO = ["han"]
    into_chinese = search(reader, QUESTIONS[1], translate=True)

    assert not any("@" in path for path in found.per_path)
    assert [path for path in into_chinese.per_path if "@" in path] == ["dense@zh", "sparse@zh"]


def test_a_question_is_searched_as_it_is_where_every_document_shares_its_script(
    documents: dict[str, Document],
) -> None:
    reader = reader_of(documents)

    found = search(
        reader, "How long are database backups kept?", translate=True, scripts=frozenset({"latin"})
    )

    assert "translate" not in found.latencies_ms and not any("@" in p for p in found.per_path)
    assert found.passages[0].document_id == documents["backups"].pk


class BusyModel:
    """The model, taken by other askers for longer than a question waits."""

    name = "busy"

    def chat(self, messages: object, *, max_tokens: int, temperature: float = 0.0) -> str:
        raise LlmBusy("busy")


def test_a_question_the_busy_model_cannot_translate_is_searched_as_asked_and_marked(
    documents: dict[str, Document],
) -> None:
    reader = reader_of(documents)
    retriever = default_retriever(translate=True)
    retriever.translator = QuestionTranslator(lambda: BusyModel())  # type: ignore[arg-type,return-value]

    found = retriever.retrieve(
        QUESTIONS[0],
        scope=access_scope(reader),
        allowed=lambda ids: readable_document_ids(reader, ids),
        top_k=3,
        document_scripts=frozenset({"latin", "han", "cyrillic"}),
    )

    assert not found.complete  # kb.answering does not cache what it leads to
    assert not any("@" in path for path in found.per_path)


def test_a_question_that_found_its_topic_in_its_own_words_is_not_translated(
    documents: dict[str, Document], settings: Any
) -> None:
    """KB_TRANSLATE_BELOW_COVERAGE: the canteen question finds the Chinese page holding its
    words, so the model is not asked; the backups question finds nothing in Chinese and is
    translated as before."""
    settings.KB_TRANSLATE_BELOW_COVERAGE = 0.6
    reader = reader_of(documents)

    canteen = search(reader, "员工食堂每天几点开放？", translate=True)
    backups = search(reader, QUESTIONS[0], translate=True)

    assert canteen.evidence.coverage >= 0.6
    assert "translate" not in canteen.latencies_ms and not any("@" in p for p in canteen.per_path)
    assert canteen.passages[0].document_id == documents["kantine"].pk
    assert backups.evidence.coverage < 0.6 and "dense@en" in backups.per_path
    assert backups.passages[0].document_id == documents["backups"].pk


def translations_observed() -> float:
    return REGISTRY.get_sample_value("quarry_translation_seconds_count") or 0.0


def test_the_search_api_finds_the_english_page_through_the_querys_translation(
    documents: dict[str, Document], settings: Any
) -> None:
    """`POST /api/v1/search` translates as answers do (KB_TRANSLATE_SEARCHES), says what it
    searched, and searches as asked when the caller says `translate: false`."""
    settings.KB_TRANSLATE_SEARCHES = True
    client = api_client_as(reader_of(documents))

    def search_api(**extra: Any) -> dict[str, Any]:
        body = {"query": QUESTIONS[0], "top_k": 3, **extra}
        response = client.post("/api/v1/search", body, format="json")
        assert response.status_code == 200, response.content
        found: dict[str, Any] = response.json()
        return found

    observed = translations_observed()
    translated = search_api()
    translated_count = translations_observed()
    as_asked = search_api(translate=False)

    assert translated["results"][0]["document_id"] == documents["backups"].pk
    assert any("@en" in path for path in translated["results"][0]["paths"])
    assert [t for t in translated["translations"] if "backup" in t.lower()]
    assert as_asked["translations"] == []
    assert translated["translation_skipped"] is as_asked["translation_skipped"] is False
    assert translated_count == observed + 1 and translations_observed() == translated_count
    assert documents["backups"].pk not in [r["document_id"] for r in as_asked["results"][:1]]


def test_the_search_api_follows_its_own_setting_when_the_caller_does_not_say(
    documents: dict[str, Document], settings: Any
) -> None:
    """KB_TRANSLATE_SEARCHES off keeps search model-free while answers still translate."""
    settings.KB_TRANSLATE_QUESTIONS = True
    settings.KB_TRANSLATE_SEARCHES = False
    client = api_client_as(reader_of(documents))

    observed = translations_observed()
    off = client.post("/api/v1/search", {"query": QUESTIONS[0]}, format="json").json()
    assert translations_observed() == observed  # no model call
    asked = client.post(
        "/api/v1/search", {"query": QUESTIONS[0], "translate": True}, format="json"
    ).json()

    assert off["translations"] == []
    assert not any("@" in p for r in off["results"] for p in r["paths"])
    assert asked["translations"] and asked["results"][0]["document_id"] == documents["backups"].pk


def test_a_search_the_busy_model_cannot_translate_says_so(
    documents: dict[str, Document], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.KB_TRANSLATE_SEARCHES = True
    busy = QuestionTranslator(lambda: BusyModel())  # type: ignore[arg-type,return-value]
    monkeypatch.setattr("retrieval.factory.question_translator", lambda: busy)
    client = api_client_as(reader_of(documents))

    found = client.post("/api/v1/search", {"query": QUESTIONS[1]}, format="json").json()

    assert found["translation_skipped"] is True and found["translations"] == []
    assert found["results"]  # searched as asked


def test_a_streamed_answer_says_it_is_translating_before_its_sources(
    transactional_db: None, documents: dict[str, Document], settings: Any
) -> None:
    """The chat and API stream tell the asker why the sources take seconds on a CPU (the
    stream writes its query log from another thread: a transactional database)."""
    settings.KB_TRANSLATE_QUESTIONS = True
    client: Any = api_client_as(reader_of(documents))
    question = "Как долго хранятся резервные копии баз данных?"  # asked by no other test

    def stream() -> list[tuple[str, dict[str, Any]]]:
        streamed = client.post(
            "/api/v1/query", {"question": question, "stream": True}, format="json"
        )

        async def read() -> bytes:
            return b"".join([chunk async for chunk in streamed.streaming_content])

        return parse_events(asyncio.run(read()))

    first = stream()
    settings.KB_ANSWER_CACHE_SECONDS = 0  # asked again: answered again, translations remembered
    again = stream()

    assert [name for name, _ in first[:2]] == ["translating", "sources"]
    assert first[0][1] == {"languages": ["English", "Chinese"]}
    assert first[-1][0] == "done"
    assert again[0][0] == "sources"  # nothing for the model to translate: nothing said
