"""Prompt experiments: traffic split between template versions by the asker's pseudonym, so
one person always sees the same variant and the query log can compare variants' feedback and
refusal rates (the log records each answer's template version)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def parse_split(spec: str) -> dict[str, int]:
    """`answer-v1=50,answer-v2=50` -> {"answer-v1": 50, "answer-v2": 50}; empty: no experiment."""
    split: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        version, sep, share = item.partition("=")
        if not sep or not share.strip().isdigit() or not version.strip():
            raise ValueError(f"expected version=share pairs, got {item!r}")
        split[version.strip()] = int(share)
    if split and sum(split.values()) <= 0:
        raise ValueError("the shares add up to nothing")
    return split


def variant_for(pseudonym: str, split: Mapping[str, int], *, default: str) -> str:
    """A stable bucket in [0, total) from the pseudonym, mapped onto the shares in order."""
    total = sum(split.values())
    if total <= 0:
        return default
    bucket = int.from_bytes(hashlib.sha256(pseudonym.encode()).digest()[:8], "big") % total
    for version, share in split.items():
        if bucket < share:
            return version
        bucket -= share
    return default
