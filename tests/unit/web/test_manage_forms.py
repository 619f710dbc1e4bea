"""Creating collections and changing their access from the manage pages; CSRF is enforced."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group

from kb.models import Collection
from tests.support.clients import signed_in
from tests.support.personas import World

pytestmark = pytest.mark.unit


def group_ids(*names: str) -> list[int]:
    return [Group.objects.get(name=name).pk for name in names]


def test_staff_create_a_collection_with_readers_and_editors(world: World) -> None:
    form = {
        "name": "Legal",
        "description": "Contracts",
        "reader_groups": group_ids("hr"),
        "editor_groups": group_ids("hr-leads"),
    }

    response = signed_in(world, "staff").post("/manage/collections/new", form)

    legal = Collection.objects.get(name="Legal")
    assert response.status_code == 302
    assert response["Location"] == f"/manage/collections/{legal.pk}/"
    assert sorted(legal.reader_groups.values_list("name", flat=True)) == ["hr"]
    assert sorted(legal.editor_groups.values_list("name", flat=True)) == ["hr-leads"]
    assert not legal.open_to_all_authenticated


@pytest.mark.parametrize(
    "form",
    [{"name": "Orphan", "editor_groups": "hr"}, {"name": "Ops", "editor_groups": "eng-editors"}],
    ids=["for-other-groups", "for-their-own-group"],
)
def test_an_editor_cannot_create_a_collection(world: World, form: dict[str, str]) -> None:
    """Only staff create collections (issue 11): an editor's new-collection page is 404."""
    posted = {**form, "editor_groups": group_ids(form["editor_groups"])}

    response = signed_in(world, "eng_editor").post("/manage/collections/new", posted)

    assert response.status_code == 404
    assert not Collection.objects.filter(name=form["name"]).exists()


def test_a_taken_name_is_refused_with_a_message(world: World) -> None:
    response = signed_in(world, "staff").post("/manage/collections/new", {"name": "hr"})

    assert response.status_code == 400
    assert "A collection with this name exists." in response.content.decode()


def test_saving_access_replaces_the_groups_and_restamps_every_document(
    world: World, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    eng = world.collections["eng"]
    form = {"reader_groups": group_ids("eng", "hr"), "editor_groups": group_ids("eng-editors")}

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = signed_in(world, "staff").post(f"/manage/collections/{eng.pk}/access", form)

    assert response.status_code == 302
    assert sorted(eng.reader_groups.values_list("name", flat=True)) == ["eng", "hr"]
    assert len(callbacks) == eng.documents.count()  # one re-stamp per document, after commit


def test_the_access_form_starts_from_the_current_groups(world: World) -> None:
    eng = world.collections["eng"]

    form = signed_in(world, "staff").get(f"/manage/collections/{eng.pk}/access").context["form"]

    assert [g.name for g in form.initial["reader_groups"]] == ["eng"]
    assert [g.name for g in form.initial["editor_groups"]] == ["eng-editors"]


def test_posts_without_a_csrf_token_are_refused(world: World) -> None:
    client = signed_in(world, "staff", enforce_csrf_checks=True)

    response = client.post("/manage/collections/new", {"name": "NoToken"})

    assert response.status_code == 403
    assert not Collection.objects.filter(name="NoToken").exists()


def test_posts_with_the_csrf_token_of_the_page_are_accepted(world: World) -> None:
    client = signed_in(world, "staff", enforce_csrf_checks=True)
    client.get("/manage/collections/new")
    token = client.cookies["csrftoken"].value

    response = client.post("/manage/collections/new", {"name": "WithToken"}, HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 302
    assert Collection.objects.filter(name="WithToken").exists()


@pytest.mark.parametrize("url", ["/manage/documents/{pk}/retry", "/manage/documents/{pk}/delete"])
def test_document_actions_need_the_csrf_token_too(world: World, url: str) -> None:
    client = signed_in(world, "staff", enforce_csrf_checks=True)
    document = world.documents["runbook"]

    response = client.post(url.format(pk=document.pk))

    assert response.status_code == 403
