"""The chunk payload contract: indexes on disk keep their exact format, and payloads written
before a key existed still read."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kb.stores.payload import ChunkPayload, chunk_id

pytestmark = pytest.mark.unit

# A payload as ingestion has always stored it, key order included.
STORED: dict[str, Any] = {
    "chunk_id": "7e5a4bec-c678-5cbf-92b5-6f094be80697",
    "chunk_number": 3,
    "document_id": 7,
    "document_version": 2,
    "collection_id": 5,
    "acl": ["group:1", "staff"],
    "title": "Runbook",
    "page": 4,
    "page_label": "ii",
    "section": "Operations > Restarts",
    "text": "Restart it with systemctl restart quarry.",
    "instruction_cues": ["assistant"],
}


def test_a_stored_payload_round_trips_byte_for_byte() -> None:
    payload = ChunkPayload.from_dict(STORED)

    assert json.dumps(payload.to_dict()) == json.dumps(STORED)
    assert payload == ChunkPayload(
        chunk_id=STORED["chunk_id"],
        chunk_number=3,
        document_id=7,
        document_version=2,
        collection_id=5,
        acl=("group:1", "staff"),
        title="Runbook",
        page=4,
        page_label="ii",
        section="Operations > Restarts",
        text="Restart it with systemctl restart quarry.",
        instruction_cues=("assistant",),
    )


def test_a_payload_from_before_instruction_cues_reads_with_none_flagged() -> None:
    old = {key: value for key, value in STORED.items() if key != "instruction_cues"}

    payload = ChunkPayload.from_dict(old)

    assert payload.instruction_cues == ()
    assert payload.to_dict() == {**old, "instruction_cues": []}


def test_a_payload_from_before_page_labels_reads_with_no_label() -> None:
    old = {key: value for key, value in STORED.items() if key != "page_label"}

    payload = ChunkPayload.from_dict(old)

    assert (payload.page, payload.page_label) == (4, "")
    assert list(payload.to_dict()) == list(STORED)


def test_missing_or_empty_optional_keys_read_as_the_defaults() -> None:
    minimal = {"chunk_id": "c", "document_id": "7", "collection_id": 5, "acl": ["staff"]}

    payload = ChunkPayload.from_dict(
        {**minimal, "title": None, "page_label": None, "section": None, "text": None}
    )

    assert payload == ChunkPayload(chunk_id="c", document_id=7, collection_id=5, acl=("staff",))
    assert (payload.chunk_number, payload.document_version, payload.page) == (0, 0, None)
    assert (payload.title, payload.page_label, payload.section, payload.text) == ("", "", "", "")


@pytest.mark.parametrize(
    ("page", "read"),
    [(4, 4), (None, None), (0, None), (-1, None), ("4", None)],
    ids=["page", "no-page", "zero", "negative", "not-a-number"],
)
def test_only_a_positive_page_number_is_a_page(page: object, read: int | None) -> None:
    assert ChunkPayload.from_dict({**STORED, "page": page}).page == read


@pytest.mark.parametrize("key", ["chunk_id", "document_id", "collection_id", "acl"])
def test_identity_and_access_keys_are_required(key: str) -> None:
    with pytest.raises(KeyError):
        ChunkPayload.from_dict({k: v for k, v in STORED.items() if k != key})


def test_chunk_ids_are_stable_across_releases() -> None:
    """Existing indexes hold these ids: a retry must overwrite, never duplicate."""
    assert chunk_id(7, 2, 3) == STORED["chunk_id"]
    assert len({chunk_id(7, 2, 3), chunk_id(8, 2, 3), chunk_id(7, 3, 3), chunk_id(7, 2, 4)}) == 4
