"""Who reaches which manage page: staff every collection, editors their own, everyone else
404 on every manage URL (forbidden looks like not found), signed-out visitors the sign-in page."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kb.models import Document
from tests.support.clients import signed_in, signed_in_as
from tests.support.factories import CollectionFactory, DocumentFactory, GroupFactory, UserFactory
from tests.support.personas import World

pytestmark = pytest.mark.unit

MANAGERS = ("staff", "eng_editor")
NOT_MANAGERS = ("engineer", "hr_reader", "hr_lead", "no_groups")
SIGNED_OUT = ("anonymous", "deactivated_hr")
EVERYONE = (*MANAGERS, *NOT_MANAGERS, *SIGNED_OUT)

Route = Callable[[World], str]


def _collection(key: str, suffix: str = "") -> Route:
    return lambda world: f"/manage/collections/{world.collections[key].pk}/{suffix}"


GET_ROUTES: dict[str, Route] = {
    "index": lambda world: "/manage/",
    "new": lambda world: "/manage/collections/new",
    "eng detail": _collection("eng"),
    "eng access": _collection("eng", "access"),
    "eng progress": _collection("eng", "progress"),
    "eng delete": _collection("eng", "delete"),
    "hr detail": _collection("hr"),
    "hr access": _collection("hr", "access"),
    "hr progress": _collection("hr", "progress"),
    "hr delete": _collection("hr", "delete"),
    "missing detail": lambda world: "/manage/collections/999999/",
}
# Who gets 200; every other signed-in persona gets 404, signed-out ones a redirect.
ALLOWED: dict[str, set[str]] = {
    "index": {"staff", "eng_editor"},
    "new": {"staff"},  # only staff create collections (issue 11)
    "eng detail": {"staff", "eng_editor"},
    "eng access": {"staff", "eng_editor"},
    "eng progress": {"staff", "eng_editor"},
    "eng delete": {"staff", "eng_editor"},  # the confirmation; POST deletes
    "hr detail": {"staff"},
    "hr access": {"staff"},
    "hr progress": {"staff"},
    "hr delete": {"staff"},
    "missing detail": set(),
}


def expected_status(route: str, persona: str) -> int:
    if persona in SIGNED_OUT:
        return 302
    return 200 if persona in ALLOWED[route] else 404


CASES = [(route, persona) for route in GET_ROUTES for persona in EVERYONE]


@pytest.mark.parametrize(("route", "persona"), CASES, ids=[f"{r}-{p}" for r, p in CASES])
def test_get_manage_pages_exact_status_per_persona(world: World, route: str, persona: str) -> None:
    url = GET_ROUTES[route](world)

    response = signed_in(world, persona).get(url)

    assert response.status_code == expected_status(route, persona)
    if response.status_code == 302:
        assert response["Location"].startswith("/accounts/login/?next=")


def test_the_manage_list_shows_staff_every_collection_and_editors_only_theirs(
    world: World,
) -> None:
    staff_page = signed_in(world, "staff").get("/manage/").content.decode()
    editor_page = signed_in(world, "eng_editor").get("/manage/").content.decode()

    assert all(name in staff_page for name in ("HR", "Engineering", "Company"))
    assert "Engineering" in editor_page
    assert ">HR<" not in editor_page and "Company" not in editor_page


def test_document_counts_per_status_are_shown(world: World) -> None:
    eng = world.collections["eng"]
    Document.objects.filter(title="runbook").update(status="failed", error="broken")

    collections = signed_in(world, "staff").get("/manage/").context["collections"]

    row = next(c for c in collections if c.pk == eng.pk)
    assert (row.document_count, row.indexed_count, row.failed_count) == (2, 1, 1)
    assert (row.queued_count, row.processing_count) == (0, 0)


@pytest.mark.parametrize("action", ["retry", "delete"])
@pytest.mark.parametrize(
    ("persona", "expected"),
    [("engineer", 404), ("hr_reader", 404), ("no_groups", 404), ("eng_editor", 404)],
    ids=["reader-of-it", "other-reader", "no-groups", "editor-of-another-collection"],
)
def test_document_actions_by_non_editors_look_like_missing_documents(
    world: World, action: str, persona: str, expected: int
) -> None:
    target = world.documents["runbook" if persona != "eng_editor" else "handbook"]

    response = signed_in(world, persona).post(f"/manage/documents/{target.pk}/{action}")

    assert response.status_code == expected
    assert Document.objects.filter(pk=target.pk, status="indexed").exists()


def test_a_get_on_an_action_url_is_404_for_outsiders_and_405_for_managers(world: World) -> None:
    url = f"/manage/documents/{world.documents['runbook'].pk}/retry"

    assert signed_in(world, "engineer").get(url).status_code == 404
    assert signed_in(world, "eng_editor").get(url).status_code == 405


def test_a_document_narrowed_away_from_an_editor_is_hidden_from_them(db: None) -> None:
    """An editor outside a document's own reader groups cannot see or touch it."""
    editors, leads = GroupFactory.create(name="ed"), GroupFactory.create(name="leads")
    collection = CollectionFactory.create(name="Board", editor_groups=[editors])
    secret = DocumentFactory.create(title="layoffs", collection=collection, reader_groups=[leads])
    DocumentFactory.create(title="minutes", collection=collection)
    client = signed_in_as(UserFactory.create(username="ed1", groups=[editors]))

    page = client.get(f"/manage/collections/{collection.pk}/").content.decode()

    assert "minutes" in page and "layoffs" not in page
    assert client.post(f"/manage/documents/{secret.pk}/delete").status_code == 404


@pytest.mark.parametrize(
    ("persona", "shows_manage"),
    [("staff", True), ("eng_editor", True), ("engineer", False), ("no_groups", False)],
)
def test_navigation_shows_manage_only_to_managers(
    world: World, persona: str, shows_manage: bool
) -> None:
    page = signed_in(world, persona).get("/").content.decode()

    assert 'href="/"' in page and ">Chat<" in page
    assert ('href="/manage/"' in page) is shows_manage
