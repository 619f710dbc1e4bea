"""The chat page: its collection picker lists exactly what the user may read."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.personas import World

pytestmark = pytest.mark.unit

PICKER = {
    "staff": {"Company", "Engineering", "HR"},
    "hr_reader": {"Company", "HR"},
    "engineer": {"Company", "Engineering"},
    "eng_editor": {"Company", "Engineering"},
    "no_groups": {"Company"},
}


def picker_names(html: str) -> set[str]:
    return set(re.findall(r'<span class="picker-name">([^<]+)</span>', html))


@pytest.mark.parametrize("persona", sorted(PICKER))
def test_the_picker_offers_exactly_the_readable_collections(world: World, persona: str) -> None:
    client = Client()
    client.force_login(world.users[persona])

    response = client.get("/")

    assert response.status_code == 200
    assert picker_names(response.content.decode()) == PICKER[persona]


def test_signed_out_visitors_are_sent_to_sign_in() -> None:
    response = Client().get("/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_no_answer_is_faked_before_the_answering_step_exists(world: World) -> None:
    client = Client()
    client.force_login(world.users["engineer"])

    page = client.get("/").content.decode()

    assert 'data-stream-url=""' in page
    assert re.search(r'<button type="submit" class="btn btn-primary"\s+disabled>Ask</button>', page)


def test_the_login_page_is_the_styled_one_with_labelled_fields() -> None:
    page = Client().get("/accounts/login/").content.decode()

    assert '<label for="id_username">' in page and '<label for="id_password">' in page
    assert 'class="skip-link"' in page and "htmx.min.js" in page
