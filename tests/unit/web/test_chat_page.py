"""The chat page: its collection picker lists exactly what the user may read, the ask form
streams to the chat endpoint, and the sidebar lists the user's own conversations only."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from kb.services.conversations import exchange_record
from tests.support.clients import signed_in
from tests.support.personas import World

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
    response = signed_in(world, persona).get("/")

    assert response.status_code == 200
    assert picker_names(response.content.decode()) == PICKER[persona]


def test_signed_out_visitors_are_sent_to_sign_in() -> None:
    response = Client().get("/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_the_ask_form_streams_to_the_chat_endpoint_with_the_csrf_token(world: World) -> None:
    page = signed_in(world, "engineer").get("/").content.decode()

    assert 'data-stream-url="/chat/stream"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert re.search(r'<button type="submit" class="btn btn-primary"\s*>Ask</button>', page)
    assert '<template id="feedback-template">' in page and 'hx-post="/chat/feedback"' in page


def test_without_a_readable_collection_asking_is_disabled(world: World) -> None:
    world.collections["open"].delete()

    page = signed_in(world, "no_groups").get("/").content.decode()

    assert "No collection to search." in page
    assert re.search(r'<button type="submit" class="btn btn-primary"\s+disabled>Ask</button>', page)


def test_the_sidebar_lists_only_the_users_own_conversations(world: World) -> None:
    mine = exchange_record(
        user=world.users["engineer"],
        conversation_id=None,
        question="Where is the runbook?",
        answer="Here [1].",
        refused=False,
        citations=[],
    )
    exchange_record(
        user=world.users["hr_reader"],
        conversation_id=None,
        question="What are the payroll dates?",
        answer="…",
        refused=False,
        citations=[],
    )

    page = signed_in(world, "engineer").get("/").content.decode()

    assert "Where is the runbook?" in page and f'href="/conversations/{mine.pk}"' in page
    assert "payroll dates" not in page


def test_staff_see_the_analytics_link_and_employees_do_not(world: World) -> None:
    assert 'href="/analytics/"' in signed_in(world, "staff").get("/").content.decode()
    assert 'href="/analytics/"' not in signed_in(world, "engineer").get("/").content.decode()


def test_the_login_page_is_the_styled_one_with_labelled_fields() -> None:
    page = Client().get("/accounts/login/").content.decode()

    assert '<label for="id_username">' in page and '<label for="id_password">' in page
    assert 'class="skip-link"' in page and "htmx.min.js" in page
