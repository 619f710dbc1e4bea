"""kb/conversation_crypto.py: authenticated encryption of chat history, its keys and tokens, and
the model field that hides both from every other module."""

from __future__ import annotations

import re
import stat
from base64 import urlsafe_b64decode, urlsafe_b64encode
from pathlib import Path

import pytest
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import connection
from pytest_django.fixtures import Settings

from kb.conversation_crypto import (
    KEY_FILE,
    NONCE_BYTES,
    ConversationKey,
    ConversationKeyError,
    Keyring,
    keyring,
)
from kb.install_keys import install_key
from kb.models import Conversation, Turn
from tests.support.factories import UserFactory

pytestmark = pytest.mark.unit

OLD = "old-conversation-key-0123456789abcdef"
NEW = "new-conversation-key-0123456789abcdef"
OTHER = "another-install-key-0123456789abcdef"
TOKEN = re.compile(r"enc1:([0-9a-f]{8}):([A-Za-z0-9_=-]+)")
TAG_BYTES = 16


def ring(current: str, *previous: str) -> Keyring:
    return Keyring(
        ConversationKey.from_secret(current),
        tuple(ConversationKey.from_secret(p) for p in previous),
    )


# --- tokens --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["How do I restart the service?", "", "如何重启服务？", "Как перезапустить сервис?", "a\nb\0c"],
    ids=["english", "empty", "chinese", "russian", "control-characters"],
)
def test_a_text_comes_back_as_it_went_in(text: str) -> None:
    keys = ring(NEW)

    assert keys.decrypt(keys.encrypt(text)) == text


def test_a_token_names_its_key_and_holds_only_nonce_ciphertext_and_tag() -> None:
    """No timestamp (Fernet has one): a token does not say when a turn was written."""
    text = "When are backups deleted?"

    token = ring(NEW).encrypt(text)

    match = TOKEN.fullmatch(token)
    assert match and match[1] == ConversationKey.from_secret(NEW).key_id
    assert len(urlsafe_b64decode(match[2])) == NONCE_BYTES + len(text.encode()) + TAG_BYTES
    assert text not in token and "backups" not in token.lower()


def test_the_same_text_twice_gives_two_unrelated_tokens() -> None:
    """Otherwise equal questions (one's own, known, and someone else's) could be matched."""
    keys = ring(NEW)

    first, second = keys.encrypt("Salaries?"), keys.encrypt("Salaries?")

    assert first != second
    assert first.split(":")[2][:16] != second.split(":")[2][:16]  # fresh nonce


def test_a_key_id_is_stable_per_key_and_differs_between_keys() -> None:
    assert ConversationKey.from_secret(NEW).key_id == ConversationKey.from_secret(NEW).key_id
    assert ConversationKey.from_secret(NEW).key_id != ConversationKey.from_secret(OLD).key_id


def test_the_current_key_encrypts_and_previous_keys_still_decrypt() -> None:
    written_before = ring(OLD).encrypt("Old question")
    keys = ring(NEW, OLD)

    assert keys.decrypt(written_before) == "Old question"
    assert TOKEN.fullmatch(keys.encrypt("New question"))[1] == keys.current.key_id  # type: ignore[index]


def test_a_text_under_a_key_not_configured_is_refused_and_the_error_names_the_keys() -> None:
    token = ring(OLD).encrypt("Who earns the most?")
    old_id, new_id = (ConversationKey.from_secret(k).key_id for k in (OLD, NEW))

    with pytest.raises(ConversationKeyError) as refused:
        ring(NEW).decrypt(token)

    message = str(refused.value)
    assert old_id in message and new_id in message and "KB_CONVERSATION_KEY_PREVIOUS" in message
    assert "earns" not in message


def test_a_key_with_the_same_id_but_altered_text_fails_the_integrity_check() -> None:
    keys = ring(NEW)
    version, key_id, payload = keys.encrypt("Pay Alice 100").split(":")
    sealed = bytearray(urlsafe_b64decode(payload))
    sealed[NONCE_BYTES] ^= 1  # one bit of the ciphertext

    with pytest.raises(ConversationKeyError, match="integrity"):
        keys.decrypt(f"{version}:{key_id}:{urlsafe_b64encode(bytes(sealed)).decode()}")


@pytest.mark.parametrize(
    "stored",
    ["How do I restart the service?", "enc1:no-payload", "enc2:abcd1234:AAAA", ""],
    ids=["plain-text", "no-payload", "unknown-version", "empty"],
)
def test_anything_but_a_token_is_refused_not_shown(stored: str) -> None:
    with pytest.raises(ConversationKeyError):
        ring(NEW).decrypt(stored)


def test_reencrypting_moves_old_tokens_to_the_current_key_and_leaves_current_ones() -> None:
    keys = ring(NEW, OLD)
    old_token, new_token = ring(OLD).encrypt("q"), keys.encrypt("q")

    moved = keys.reencrypted(old_token)

    assert moved is not None and ring(NEW).decrypt(moved) == "q"
    assert keys.reencrypted(new_token) is None
    with pytest.raises(ConversationKeyError):
        keys.reencrypted(ring(OTHER).encrypt("q"))


def test_a_key_shorter_than_32_characters_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="at least 32 characters"):
        ConversationKey.from_secret("short")


# --- keys from the settings ----------------------------------------------------------------------


def test_the_keyring_follows_the_settings_as_they_are_now(settings: Settings) -> None:
    settings.KB_CONVERSATION_KEY = NEW
    settings.KB_CONVERSATION_KEY_PREVIOUS = [OLD, NEW, OLD]

    keys = keyring()

    assert keys.current.key_id == ConversationKey.from_secret(NEW).key_id
    assert keys.key_ids[1:] == [ConversationKey.from_secret(OLD).key_id]  # once, current not


def test_unset_the_install_makes_its_own_key_file_once_and_keeps_it(
    settings: Settings, tmp_path: Path
) -> None:
    settings.KB_CONVERSATION_KEY = ""
    settings.KB_DATA_DIR = tmp_path / "install-a"

    token = keyring().encrypt("Where is the runbook?")
    install_key.cache_clear()  # as a restarted process reads it

    key_file = tmp_path / "install-a" / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert keyring().decrypt(token) == "Where is the runbook?"
    settings.KB_DATA_DIR = tmp_path / "install-b"
    with pytest.raises(ConversationKeyError):
        keyring().decrypt(token)  # another install, another key


def test_a_configured_key_wins_and_no_file_is_made(settings: Settings, tmp_path: Path) -> None:
    settings.KB_CONVERSATION_KEY = NEW
    settings.KB_DATA_DIR = tmp_path

    keyring().encrypt("x")

    assert list(tmp_path.iterdir()) == []


# --- the model field -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "lookup"),
    [(Turn, "content"), (Turn, "content__icontains"), (Conversation, "title__startswith")],
    ids=["exact", "icontains", "startswith"],
)
def test_searching_the_encrypted_text_in_the_database_is_refused_not_silently_empty(
    model: type[Turn] | type[Conversation], lookup: str
) -> None:
    with pytest.raises(FieldError, match="Unsupported lookup"):
        model.objects.filter(**{lookup: "restart"})


def test_isnull_is_the_one_lookup_left() -> None:
    assert "IS NULL" in str(Turn.objects.filter(content__isnull=True).query)


def _stored(turn: Turn) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT content FROM kb_turn WHERE id = %s", [turn.pk])
        return str(cursor.fetchone()[0])


@pytest.mark.django_db
def test_every_way_of_writing_stores_a_token_and_reads_back_the_text() -> None:
    user = UserFactory.create()
    conversation = Conversation.objects.create(user=user, title="Backups?")
    created = Turn.objects.create(conversation=conversation, role="user", content="created")
    (bulk,) = Turn.objects.bulk_create([Turn(conversation=conversation, content="bulk")])
    saved = Turn(conversation=conversation, content="first")
    saved.save()
    saved.content = "saved"
    saved.save()
    updated = Turn.objects.create(conversation=conversation, content="before")
    Turn.objects.filter(pk=updated.pk).update(content="updated")
    created.content = "bulk-updated"
    Turn.objects.bulk_update([created], ["content"])

    expected = {created.pk: "bulk-updated", bulk.pk: "bulk", saved.pk: "saved"}
    expected[updated.pk] = "updated"
    for turn in Turn.objects.all():
        assert turn.content == expected[turn.pk]
        assert TOKEN.fullmatch(_stored(turn)) and turn.content not in _stored(turn)
    assert Conversation.objects.get().title == "Backups?"
