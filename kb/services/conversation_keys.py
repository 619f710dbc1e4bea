"""Rotating the conversation key: every stored title and turn re-encrypted under the current
KB_CONVERSATION_KEY (`manage.py kb_rotate_conversation_key`).

The tokens are read and written as they are stored, never through the model fields, so a text
is decrypted only to be encrypted again at once, and one already under the current key is left
as it is: running it again does nothing more (idempotent). Titles and turns are never edited
after they are written, so rewriting them beside a running site loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import models, transaction
from django.db.models import ExpressionWrapper, F, TextField, Value

from kb.conversation_crypto import ConversationKeyError, Keyring, keyring
from kb.models import Conversation, Turn

BATCH_SIZE = 500


@dataclass(frozen=True)
class EncryptedColumn:
    name: str  # as the command prints it
    model: type[models.Model]
    column: str
    conversation: str  # the field holding the conversation's id


ENCRYPTED_COLUMNS = (
    EncryptedColumn("titles", Conversation, "title", "pk"),
    EncryptedColumn("turns", Turn, "content", "conversation_id"),
)


@dataclass
class ColumnRotation:
    name: str
    reencrypted: int = 0
    current: int = 0  # already under the current key
    unreadable: int = 0  # under no configured key, or altered: left as they were


@dataclass
class KeyRotation:
    current_key_id: str
    previous_key_ids: list[str]
    columns: list[ColumnRotation] = field(default_factory=list)
    unreadable_conversations: set[int] = field(default_factory=set)
    deleted_conversations: int = 0

    @property
    def unreadable(self) -> int:
        return sum(column.unreadable for column in self.columns)


def conversation_key_rotate(
    *, batch_size: int = BATCH_SIZE, delete_unreadable: bool = False
) -> KeyRotation:
    """Re-encrypt every title and turn not yet under the current key, `batch_size` rows per
    transaction. A text no configured key reads is counted and left alone, so the others still
    move to the new key; with `delete_unreadable` (the key is lost for good) the conversations
    holding one are deleted, which gives their owners a working chat again."""
    ring = keyring()
    rotation = KeyRotation(ring.current.key_id, ring.key_ids[1:])
    for encrypted in ENCRYPTED_COLUMNS:
        counts = ColumnRotation(encrypted.name)
        for batch in _stored_tokens(encrypted, batch_size):
            with transaction.atomic():
                for pk, conversation_id, token in batch:
                    if not _rotate_one(ring, encrypted, pk, token, counts):
                        rotation.unreadable_conversations.add(conversation_id)
        rotation.columns.append(counts)
    if delete_unreadable and rotation.unreadable_conversations:
        lost = Conversation.objects.filter(pk__in=rotation.unreadable_conversations).only("pk")
        _total, by_model = lost.delete()
        rotation.deleted_conversations = by_model.get(Conversation._meta.label, 0)
    return rotation


def _stored_tokens(
    encrypted: EncryptedColumn, batch_size: int
) -> Iterator[list[tuple[int, int, str]]]:
    """(pk, conversation id, token) in pk order, one batch at a time; the wrapper's plain
    output field keeps the model field from decrypting."""
    stored = ExpressionWrapper(F(encrypted.column), output_field=TextField())
    rows = encrypted.model._default_manager.annotate(stored=stored).order_by("pk")
    last = 0
    while batch := list(
        rows.filter(pk__gt=last).values_list("pk", encrypted.conversation, "stored")[:batch_size]
    ):
        yield batch
        last = batch[-1][0]


def _rotate_one(
    ring: Keyring, encrypted: EncryptedColumn, pk: int, token: str, counts: ColumnRotation
) -> bool:
    """False when no configured key reads the token."""
    try:
        renewed = ring.reencrypted(token)
    except ConversationKeyError:
        counts.unreadable += 1
        return False
    if renewed is None:
        counts.current += 1
        return True
    stored = Value(renewed, output_field=TextField())  # already a token: not encrypted again
    encrypted.model._default_manager.filter(pk=pk).update(**{encrypted.column: stored})
    counts.reencrypted += 1
    return True
