"""API tokens: random, shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "qry_"  # noqa: S105 - a label, not a secret


def token_generate() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    # A 256-bit random token needs no slow KDF: a fast hash is enough and allows an indexed lookup.
    return hashlib.sha256(token.encode()).hexdigest()
