"""The other-language ranking (retrieval.retriever, OTHER_LANGUAGE_DENSE_TOP) reads the script
of the best dense passages: pages a caller cannot read must not tip it, or the way their own
results are ranked would tell them that a collection they cannot see holds pages in another
language on their topic. Real ingestion, embedded stores and the multilingual USE model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from kb.access import access_scope, readable_document_ids
from kb.text.embeddings import USE_MODEL
from retrieval.factory import default_retriever
from retrieval.retriever import Retrieval
from tests.support import ingested
from tests.support.factories import CollectionFactory, GroupFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = "When does the staff canteen open for lunch?"
VISIBLE = {
    "parking": (
        "Staff parking. Employees get a parking permit from human resources. The permit is "
        "renewed every January; guests park at the main entrance."
    ),
    "backups": (
        "Backups. The operations team backs up every database each night. Copies are kept for "
        "thirty-five days and then deleted."
    ),
}
HIDDEN = {
    "canteen-hours": "食堂开放时间。员工食堂每天中午十二点开放，下午两点关闭，晚上不供应晚餐。",
    "canteen-menu": "食堂菜单。员工食堂每周五提供素食午餐，访客需要在前台登记后才能进入食堂用餐。",
}


@pytest.fixture
def people(settings: Any, db: None, stores: Path, tmp_path: Path) -> tuple[User, User]:
    """An employee who reads the English handbook, and an insider who also reads the Chinese
    canteen collection."""
    settings.KB_EMBED_MODEL, settings.KB_EMBED_DIM = USE_MODEL, 512
    staff, canteen = GroupFactory.create(name="staff"), GroupFactory.create(name="canteen")
    handbook = CollectionFactory.create(name="Handbook", reader_groups=[staff])
    kitchen = CollectionFactory.create(name="Kitchen", reader_groups=[canteen])
    ingested.text_pages(handbook, VISIBLE, tmp_path)
    ingested.text_pages(kitchen, HIDDEN, tmp_path)
    employee = UserFactory.create(username="employee")
    employee.groups.set([staff])
    insider = UserFactory.create(username="insider")
    insider.groups.set([staff, canteen])
    return employee, insider


def search(user: User) -> Retrieval:
    return default_retriever(translate=False).retrieve(
        QUESTION,
        scope=access_scope(user),
        allowed=lambda ids: readable_document_ids(user, ids),
        top_k=3,
    )


def test_pages_a_caller_cannot_read_do_not_switch_their_ranking(
    people: tuple[User, User],
) -> None:
    employee, insider = people

    # the control: for a reader of the Chinese pages, they switch the ranking
    assert search(insider).other_language

    # the employee's search is ranked as usual and shows only what they may read
    found = search(employee)
    assert not found.other_language
    readable = readable_document_ids(employee, {p.document_id for p in found.passages})
    assert found.passages and {p.document_id for p in found.passages} == readable
