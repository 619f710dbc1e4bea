"""kb/migrations/0012_encrypted_conversations.py: conversations stored before it are encrypted by
it with the configured key (no plain text left behind), and reversing it decrypts them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from kb.conversation_crypto import ConversationKey
from kb.models import Conversation
from tests.support.migrations import migrate_to, then_latest_schema

pytestmark = pytest.mark.integration

BEFORE = ("kb", "0011_collection_slug")
ENCRYPTED = ("kb", "0012_encrypted_conversations")


def _raw(sql: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


@pytest.fixture
def before_encryption(transactional_db: None) -> Iterator[Any]:
    """The database as 0011 left it; afterwards the latest schema again for the other tests."""
    with then_latest_schema():
        yield migrate_to(BEFORE)


def test_existing_conversations_are_encrypted_and_read_back_and_reversing_decrypts(
    before_encryption: Any, settings: Any
) -> None:
    user = before_encryption.get_model("auth", "User").objects.create(username="ann")
    old = before_encryption.get_model("kb", "Conversation")
    conversation = old.objects.create(user_id=user.pk, title="Who signs off expenses?")
    before_encryption.get_model("kb", "Turn").objects.bulk_create(
        [
            before_encryption.get_model("kb", "Turn")(
                conversation_id=conversation.pk, role=role, content=text
            )
            for role, text in (("user", "Who signs off expenses?"), ("assistant", "Finance."))
        ]
    )

    encrypted = migrate_to(ENCRYPTED)

    key_id = ConversationKey.from_secret(settings.KB_CONVERSATION_KEY).key_id
    stored = _raw("SELECT title FROM kb_conversation") + _raw("SELECT content FROM kb_turn")
    assert all(value.startswith(f"enc1:{key_id}:") for (value,) in stored)
    assert "expenses" not in repr(stored) and "Finance" not in repr(stored)
    assert Conversation.objects.get().title == "Who signs off expenses?"
    # Turns as 0012 left them: the latest model has columns added since (0015 unverified)
    assert [t.content for t in encrypted.get_model("kb", "Turn").objects.order_by("pk")] == [
        "Who signs off expenses?",
        "Finance.",
    ]

    migrate_to(BEFORE)

    assert _raw("SELECT title FROM kb_conversation") == [("Who signs off expenses?",)]
    assert _raw("SELECT content FROM kb_turn ORDER BY id") == [
        ("Who signs off expenses?",),
        ("Finance.",),
    ]
