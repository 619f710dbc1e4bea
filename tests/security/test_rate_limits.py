"""The per-user rate limit from the attacker's side: more tokens, or the chat page besides the
API, must not buy more questions per minute. Two users still have a budget each."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from pytest_django.fixtures import Settings

from tests.support.clients import api_client_as, signed_in_as
from tests.support.factories import UserFactory

pytestmark = pytest.mark.integration
BUDGET = 3
# Rating a query that does not exist: throttled like a question, cheap (no model), and a 404.
RATING = {"query_id": 123456, "rating": "up"}


@pytest.fixture(autouse=True)
def budget(settings: Settings) -> Iterator[None]:
    """The counters live in the cache, keyed by user id; ids repeat between tests."""
    settings.KB_API_RATE_PER_MINUTE = BUDGET
    cache.clear()
    yield
    cache.clear()


def test_a_second_token_does_not_double_the_budget(db: None) -> None:
    mallory = UserFactory.create(username="mallory")
    first, second = api_client_as(mallory), api_client_as(mallory)

    statuses = [
        c.post("/api/v1/feedback", RATING, format="json").status_code
        for c in (first, first, second, second)
    ]

    assert statuses == [404, 404, 404, 429]


def test_tokens_and_the_chat_session_share_one_budget(db: None) -> None:
    mallory = UserFactory.create(username="mallory")
    first, second = api_client_as(mallory), api_client_as(mallory)
    browser = signed_in_as(mallory)

    statuses = [
        first.post("/api/v1/feedback", RATING, format="json").status_code,
        browser.post("/chat/feedback", RATING, content_type="application/json").status_code,
        second.post("/api/v1/feedback", RATING, format="json").status_code,
        browser.post("/api/v1/feedback", RATING, content_type="application/json").status_code,
        browser.post("/chat/feedback", RATING, content_type="application/json").status_code,
    ]

    assert statuses == [404, 404, 404, 429, 429]


def test_two_users_do_not_share_a_budget(db: None) -> None:
    mallory, alice = UserFactory.create(username="mallory"), UserFactory.create(username="alice")
    for _ in range(BUDGET):
        api_client_as(mallory).post("/api/v1/feedback", RATING, format="json")

    assert api_client_as(mallory).post("/api/v1/feedback", RATING, format="json").status_code == 429
    assert api_client_as(alice).post("/api/v1/feedback", RATING, format="json").status_code == 404
    assert (
        signed_in_as(alice)
        .post("/chat/feedback", RATING, content_type="application/json")
        .status_code
        == 404
    )
