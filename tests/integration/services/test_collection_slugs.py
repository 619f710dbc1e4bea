"""Collection slugs (the OpenAI-compatible API's model names, `quarry/<slug>`): made from the
name on creation, unique however names collide, kept on rename, and filled for collections
that existed before them by migration 0011."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kb.access import CONSOLE
from kb.models import Collection
from kb.services.collections import collection_create
from tests.support.migrations import migrate_to, then_latest_schema

pytestmark = pytest.mark.integration

BEFORE, AFTER = ("kb", "0010_externalidentity"), ("kb", "0011_collection_slug")


@pytest.mark.django_db
def test_a_new_collection_gets_its_name_as_a_unique_slug() -> None:
    names = ["Human Resources", "Human resources!", "R&D", "R D", "人事", "財務"]

    slugs = [collection_create(actor=CONSOLE, name=name).slug for name in names]

    assert slugs == [
        "human-resources",
        "human-resources-2",
        "rd",
        "r-d",
        "collection",
        "collection-2",
    ]


@pytest.mark.django_db
def test_renaming_keeps_the_slug_so_model_names_stay_valid() -> None:
    collection = collection_create(actor=CONSOLE, name="Ops")

    collection.name = "Operations"
    collection.save()

    assert Collection.objects.get(pk=collection.pk).slug == "ops"


@pytest.fixture
def latest_schema_afterwards(transactional_db: None) -> Iterator[None]:
    """The migration test leaves the database at 0011: the tests after it need the latest."""
    with then_latest_schema():
        yield


@pytest.mark.usefixtures("latest_schema_afterwards")
def test_the_migration_fills_unique_slugs_for_existing_collections() -> None:
    old = migrate_to(BEFORE).get_model("kb", "Collection")
    for name in ("Finance", "Finance!", "Удалённые"):
        old.objects.create(name=name)

    migrate_to(AFTER)

    assert list(Collection.objects.order_by("pk").values_list("name", "slug")) == [
        ("Finance", "finance"),
        ("Finance!", "finance-2"),
        ("Удалённые", "collection"),
    ]
