"""The last gate before a prompt: every candidate's document is re-checked against the
database policy, whatever the stores returned (a stale ACL stamp must not leak)."""

from __future__ import annotations

from collections.abc import Sequence

from kb.access import AnyUser, readable_document_ids
from retrieval.types import Fused


def readable_only(user: AnyUser, candidates: Sequence[Fused]) -> list[Fused]:
    allowed = readable_document_ids(user, {c.document_id for c in candidates})
    return [c for c in candidates if c.document_id in allowed]
