"""Chat history encrypted at rest: a conversation's title and the text of every turn are stored
as AES-GCM tokens under a key kept outside the database, so that someone who reads the database
cannot match a person's questions and answers to the anonymised query log by their text.

The key is KB_CONVERSATION_KEY, or else this install's own random key in
`$KB_DATA_DIR/conversation.key` (kb.install_keys); KB_CONVERSATION_KEY_PREVIOUS lists older keys
that still decrypt while `manage.py kb_rotate_conversation_key` re-encrypts under the current one.
`EncryptedTextField` encrypts as a row is written and decrypts as it is read: services and
selectors only ever see plain text, and a text no configured key reads raises
`ConversationKeyError` instead of showing anything.

A token is `enc1:<key id>:<urlsafe base64 of nonce, ciphertext and tag>`. The key id (derived
from the key, useless for finding it) says which key wrote a token, so that rotation knows what
is left to do and a missing key is named in the error. Unlike Fernet, a token carries no
timestamp: it does not tell when a turn was written, which the query log's times could match.
"""

from __future__ import annotations

import binascii
import functools
import os
from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

from kb.install_keys import MIN_KEY_CHARS, install_key

KEY_FILE = "conversation.key"  # in KB_DATA_DIR, when KB_CONVERSATION_KEY is not set
FORMAT = "enc1"  # the first part of every stored token
NONCE_BYTES = 12  # AES-GCM's standard nonce, random per text
KEY_ID_BYTES = 4


class ConversationKeyError(Exception):
    """A stored conversation text that no configured conversation key reads: written under a
    key this server does not have, or altered in the database."""


@dataclass(frozen=True)
class ConversationKey:
    key_id: str
    cipher: AESGCM

    @classmethod
    def from_secret(cls, secret: str) -> ConversationKey:
        """Any secret of at least MIN_KEY_CHARS characters (`openssl rand -hex 32`): HKDF makes
        the AES-256 key and, separately, its id."""
        if len(secret) < MIN_KEY_CHARS:
            raise ImproperlyConfigured(
                f"A conversation key must have at least {MIN_KEY_CHARS} characters "
                "(KB_CONVERSATION_KEY, KB_CONVERSATION_KEY_PREVIOUS)"
            )
        material = secret.encode()
        key = _derived(material, b"quarry conversations v1: aes-256-gcm key", 32)
        key_id = _derived(material, b"quarry conversations v1: key id", KEY_ID_BYTES).hex()
        return cls(key_id=key_id, cipher=AESGCM(key))


@dataclass(frozen=True)
class Keyring:
    """The current key, which encrypts, and older ones, which only decrypt."""

    current: ConversationKey
    previous: tuple[ConversationKey, ...] = ()

    @property
    def key_ids(self) -> list[str]:
        return [self.current.key_id, *(key.key_id for key in self.previous)]

    def encrypt(self, text: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.current.cipher.encrypt(nonce, text.encode(), None)
        payload = urlsafe_b64encode(nonce + sealed).decode()
        return f"{FORMAT}:{self.current.key_id}:{payload}"

    def decrypt(self, token: str) -> str:
        key_id, payload = _parts(token)
        key = next((k for k in (self.current, *self.previous) if k.key_id == key_id), None)
        if key is None:
            raise ConversationKeyError(
                f"a conversation text was written with conversation key {key_id}, which is not "
                f"configured (this server has {', '.join(self.key_ids)}): set "
                "KB_CONVERSATION_KEY_PREVIOUS to the key it was written with"
            )
        try:
            sealed = urlsafe_b64decode(payload)
            return key.cipher.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], None).decode()
        except (InvalidTag, binascii.Error, ValueError):
            raise ConversationKeyError(
                f"a conversation text under key {key_id} fails its integrity check: it was "
                "altered in the database"
            ) from None

    def reencrypted(self, token: str) -> str | None:
        """The token under the current key, or None when it already is (nothing to do)."""
        key_id, _payload = _parts(token)
        if key_id == self.current.key_id:
            return None
        return self.encrypt(self.decrypt(token))


def keyring() -> Keyring:
    """From the settings as they are now (tests and rotations change them), built once per
    configuration."""
    current = (
        settings.KB_CONVERSATION_KEY or install_key(Path(settings.KB_DATA_DIR) / KEY_FILE).decode()
    )
    return _keyring(current, tuple(settings.KB_CONVERSATION_KEY_PREVIOUS))


@functools.lru_cache(maxsize=8)
def _keyring(current: str, previous: tuple[str, ...]) -> Keyring:
    key = ConversationKey.from_secret(current)
    older: dict[str, ConversationKey] = {}
    for secret in previous:
        old = ConversationKey.from_secret(secret)
        if old.key_id != key.key_id:
            older.setdefault(old.key_id, old)
    return Keyring(current=key, previous=tuple(older.values()))


def _derived(material: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(material)


def _parts(token: str) -> tuple[str, str]:
    version, _sep, rest = token.partition(":")
    key_id, sep, payload = rest.partition(":")
    if version != FORMAT or not sep:
        raise ConversationKeyError("a conversation text is stored unencrypted or unrecognisable")
    return key_id, payload


class EncryptedTextField(models.TextField[str, str]):
    """Text encrypted as it is written (save, create, bulk_create, bulk_update, update with a
    plain value), decrypted as it is read. Each token is random, so a database lookup on the
    text could never match: lookups other than isnull are refused (FieldError) instead of
    silently finding nothing. An SQL expression written into it (F(), Concat()) would be stored
    as the database computes it: write plain values."""

    description = "Text encrypted at rest with the conversation key"

    def get_db_prep_save(self, value: Any, connection: BaseDatabaseWrapper) -> Any:
        prepared = super().get_db_prep_save(value, connection)
        if prepared is None or hasattr(prepared, "as_sql"):
            return prepared  # an expression: its own output field prepares what it holds
        return keyring().encrypt(str(prepared))

    def from_db_value(
        self, value: str | None, expression: Any, connection: BaseDatabaseWrapper
    ) -> str | None:
        return None if value is None else keyring().decrypt(value)

    def get_lookup(self, lookup_name: str) -> Any:
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None
