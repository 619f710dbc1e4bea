"""kb/migrations/0015_turn_unverified.py: answers saved before it keep their text and get no
unverified offsets (their claims were not kept); they reopen without marks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kb.models import Conversation, Turn
from kb.selectors.conversations import conversation_exchanges
from tests.support.migrations import migrate_to, then_latest_schema

pytestmark = pytest.mark.integration

BEFORE = ("kb", "0014_document_script")
UNVERIFIED = ("kb", "0015_turn_unverified")


@pytest.fixture
def before_offsets(transactional_db: None) -> Iterator[Any]:
    """The database as 0014 left it; afterwards the latest schema again for the other tests."""
    with then_latest_schema():
        yield migrate_to(BEFORE)


def test_answers_saved_before_get_no_offsets_and_reopen_unmarked(before_offsets: Any) -> None:
    user = before_offsets.get_model("auth", "User").objects.create(username="ann")
    conversation = before_offsets.get_model("kb", "Conversation").objects.create(
        user_id=user.pk, title="Who signs off expenses?"
    )
    old_turn = before_offsets.get_model("kb", "Turn")
    old_turn.objects.bulk_create(
        [
            old_turn(conversation_id=conversation.pk, role=role, content=text)
            for role, text in (("user", "Who signs off expenses?"), ("assistant", "Finance [1]."))
        ]
    )

    migrate_to(UNVERIFIED)

    assert [(t.content, t.unverified) for t in Turn.objects.order_by("pk")] == [
        ("Who signs off expenses?", []),
        ("Finance [1].", []),
    ]
    conversation = Conversation.objects.get()
    (exchange,) = conversation_exchanges(user=conversation.user, conversation=conversation)
    assert exchange.unverified == [] and exchange.unverified_spans == "[]"
