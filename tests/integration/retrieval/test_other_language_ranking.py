"""With a multilingual embedding model and no translation, a question whose own words do not
find its topic, and whose best dense passages are in another language, is ranked by the dense
path alone (Retriever, OTHER_LANGUAGE_DENSE_TOP): the English question about the canteen finds
the Chinese canteen pages first, not an English page that merely shares one of its words. Real
ingestion, embedded stores and the real USE model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from kb.access import access_scope, readable_document_ids
from kb.models import Document
from kb.selectors.documents import readable_scripts
from kb.text.embeddings import USE_MODEL
from retrieval.factory import default_retriever
from retrieval.retriever import Retrieval, Retriever
from tests.support import ingested
from tests.support.factories import CollectionFactory, GroupFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PAGES = {
    "canteen-hours": "食堂开放时间。员工食堂每天中午十二点开放，下午两点关闭，晚上不供应晚餐。",
    "canteen-menu": "食堂菜单。员工食堂每周五提供素食午餐，访客需要在前台登记后才能进入食堂用餐。",
    "parking": (
        "Staff parking. Employees get a parking permit from human resources. The permit is "
        "renewed every January; guests park at the main entrance."
    ),
    "backups": (
        "Backups. The operations team backs up every database each night. Copies are kept for "
        "thirty-five days and then deleted."
    ),
    "restores": (
        "Restoring a database. Open a ticket with the operations team, name the database and "
        "the date; the copy is restored to a new server within a day."
    ),
}
CANTEEN = {"canteen-hours", "canteen-menu"}


@pytest.fixture
def use_model(settings: Any) -> None:
    settings.KB_EMBED_MODEL = USE_MODEL
    settings.KB_EMBED_DIM = 512


@pytest.fixture
def documents(use_model: None, db: None, stores: Path, tmp_path: Path) -> dict[int, str]:
    staff = GroupFactory.create(name="staff")
    collection = CollectionFactory.create(name="Handbook", reader_groups=[staff])
    added = ingested.text_pages(collection, PAGES, tmp_path)
    return {document.pk: name for name, document in added.items()}


def reader(documents: dict[int, str]) -> User:
    user = UserFactory.create(username="reader")
    user.groups.set([Document.objects.get(pk=next(iter(documents))).collection.reader_groups.get()])
    return user


def search(retriever: Retriever, user: User, question: str) -> Retrieval:
    scope = access_scope(user)
    return retriever.retrieve(
        question,
        scope=scope,
        allowed=lambda ids: readable_document_ids(user, ids),
        top_k=3,
        document_scripts=readable_scripts(user=user, collection_ids=scope.collection_ids),
    )


def test_an_english_question_about_chinese_pages_is_ranked_by_the_dense_path(
    documents: dict[int, str],
) -> None:
    # given Chinese pages on the canteen and English ones that share at most a word with it
    retriever = default_retriever(translate=False)
    question = "When does the staff canteen open for lunch?"

    # when an English reader asks about the canteen, untranslated
    found = search(retriever, reader(documents), question)

    # then it is ranked as a question about pages in another language: canteen pages first
    dense = [documents[c.document_id] for c in found.per_path["dense"]]
    assert set(dense[:2]) == CANTEEN  # precondition: the multilingual model reads across
    assert found.other_language
    assert documents[found.passages[0].document_id] in CANTEEN
    # the control: the same search fused as usual puts an English page sharing a word first
    usual = retriever.rank(question, found.per_path)
    assert documents[usual[0].document_id] in {"parking", "restores"}


def test_a_question_that_found_its_own_language_is_ranked_as_usual(
    documents: dict[int, str],
) -> None:
    # given the same pages
    retriever = default_retriever(translate=False)

    # when a question finds few of its words but its best dense passages are in its language
    found = search(retriever, reader(documents), "How many days is a nightly snapshot retained?")

    # then the usual fusion ranks it, and the English backups page comes first
    assert found.evidence.coverage < 0.5  # precondition: its words alone did not decide
    assert not found.other_language
    assert documents[found.passages[0].document_id] == "backups"
