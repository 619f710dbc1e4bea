"""`manage.py kb_rotate_conversation_key`: every title and turn moves to the current key in
batches, with counts printed; afterwards the old key alone reads nothing, and running it again
changes nothing. Texts under no configured key are counted and left as they were."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from pytest_django.fixtures import Settings

from kb.conversation_crypto import ConversationKey, ConversationKeyError, keyring
from kb.models import Conversation, Turn
from kb.selectors.conversations import conversation_history
from kb.services.conversations import exchange_record
from tests.support.factories import UserFactory

pytestmark = pytest.mark.integration

OLD = "the-old-conversation-key-0123456789abcdef"
NEW = "the-new-conversation-key-0123456789abcdef"
LOST = "a-key-nobody-has-any-more-0123456789abcdef"


def _converse(questions: int) -> Conversation:
    user = UserFactory.create()
    conversation = None
    for n in range(questions):
        conversation = exchange_record(
            user=user,
            conversation_id=conversation.pk if conversation else None,
            question=f"Question {n}: where is the disaster recovery plan?",
            answer=f"Answer {n}: in the runbook.",
            refused=False,
            citations=[],
        )
    assert conversation is not None
    return conversation


def _key_ids() -> dict[str, int]:
    """How many stored texts each key wrote, read as the raw columns."""
    counts: dict[str, int] = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT title FROM kb_conversation UNION ALL SELECT content FROM kb_turn")
        for (token,) in cursor.fetchall():
            key_id = token.split(":")[1]
            counts[key_id] = counts.get(key_id, 0) + 1
    return counts


def _rotate(*args: str) -> list[str]:
    out = StringIO()
    call_command("kb_rotate_conversation_key", *args, stdout=out)
    return out.getvalue().splitlines()


def _id(secret: str) -> str:
    return ConversationKey.from_secret(secret).key_id


@pytest.fixture
def written_under_old_key(db: None, settings: Settings) -> list[Conversation]:
    settings.KB_CONVERSATION_KEY = OLD
    conversations = [_converse(3), _converse(2)]
    settings.KB_CONVERSATION_KEY = NEW
    settings.KB_CONVERSATION_KEY_PREVIOUS = [OLD]
    return conversations


def test_everything_moves_to_the_new_key_batch_by_batch(
    written_under_old_key: list[Conversation], settings: Settings
) -> None:
    assert _key_ids() == {_id(OLD): 2 + 2 * 5}

    printed = _rotate("--batch-size", "3")

    assert printed == [
        f"Current conversation key: {_id(NEW)} (previous: {_id(OLD)})",
        "titles: 2 re-encrypted, 0 already under the current key",
        "turns: 10 re-encrypted, 0 already under the current key",
        "Every conversation text is under the current key.",
    ]
    assert _key_ids() == {_id(NEW): 12}
    settings.KB_CONVERSATION_KEY_PREVIOUS = []  # the old key removed: all still reads
    first = Conversation.objects.get(pk=written_under_old_key[0].pk)
    assert first.title == "Question 0: where is the disaster recovery plan?"
    assert conversation_history(conversation=first)[-1]["content"] == "Answer 2: in the runbook."


def test_after_rotation_the_old_key_alone_reads_nothing(
    written_under_old_key: list[Conversation], settings: Settings
) -> None:
    _rotate()
    settings.KB_CONVERSATION_KEY = OLD
    settings.KB_CONVERSATION_KEY_PREVIOUS = []

    with pytest.raises(ConversationKeyError):
        list(Conversation.objects.all())
    with pytest.raises(ConversationKeyError):
        list(Turn.objects.all())


def test_running_it_again_rewrites_nothing(
    written_under_old_key: list[Conversation], settings: Settings
) -> None:
    _rotate()
    with connection.cursor() as cursor:
        cursor.execute("SELECT content FROM kb_turn ORDER BY id")
        before = cursor.fetchall()

    printed = _rotate()

    assert printed[1:3] == [
        "titles: 0 re-encrypted, 2 already under the current key",
        "turns: 0 re-encrypted, 10 already under the current key",
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT content FROM kb_turn ORDER BY id")
        assert cursor.fetchall() == before


def test_texts_under_a_lost_key_are_counted_and_the_rest_still_moves(
    written_under_old_key: list[Conversation], settings: Settings
) -> None:
    settings.KB_CONVERSATION_KEY = LOST
    _converse(1)  # written by a process started with a key since lost
    settings.KB_CONVERSATION_KEY = NEW
    out = StringIO()

    with pytest.raises(CommandError, match="3 texts in 1 conversations are under no configured"):
        call_command("kb_rotate_conversation_key", stdout=out)

    assert out.getvalue().splitlines()[1:3] == [
        "titles: 2 re-encrypted, 0 already under the current key, 1 unreadable",
        "turns: 10 re-encrypted, 0 already under the current key, 2 unreadable",
    ]
    assert _key_ids() == {_id(NEW): 12, _id(LOST): 3}


def test_conversations_under_a_key_lost_for_good_can_be_deleted_and_the_rest_kept(
    written_under_old_key: list[Conversation], settings: Settings
) -> None:
    settings.KB_CONVERSATION_KEY = LOST
    lost = _converse(1)
    settings.KB_CONVERSATION_KEY = NEW

    printed = _rotate("--delete-unreadable")

    assert printed[-2:] == [
        "Deleted 1 conversations that no configured key reads.",
        "Every conversation text is under the current key.",
    ]
    assert not Conversation.objects.filter(pk=lost.pk).exists()
    assert not Turn.objects.filter(conversation_id=lost.pk).exists()
    assert _key_ids() == {_id(NEW): 12}


def test_the_key_in_use_is_the_one_the_site_encrypts_with(
    written_under_old_key: list[Conversation],
) -> None:
    printed = _rotate()

    assert printed[0].startswith(f"Current conversation key: {keyring().current.key_id} ")
