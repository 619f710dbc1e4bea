"""The chunk payload: what ingestion stores beside each chunk's vectors, and what retrieval, the
source view, the feedback export and the benchmarks read back.

The stored dict is a contract with every index already on disk: `to_dict` writes exactly the
keys and values ingestion has always written (a key is only ever added, never renamed or
dropped), and `from_dict` reads payloads written before a key existed (`instruction_cues` and
`page_label` came later) with the defaults the readers always applied.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CHUNK_NAMESPACE = uuid.UUID("6f1c1d8e-8a43-4c55-9d1a-5c2b1a0e7b11")


def chunk_id(document_id: int, version: int, number: int) -> str:
    """Deterministic (DESIGN.md): a retried task overwrites its own chunks, never duplicates."""
    return str(uuid.uuid5(CHUNK_NAMESPACE, f"{document_id}:{version}:{number}"))


@dataclass(frozen=True, kw_only=True)
class ChunkPayload:
    """One chunk's stored fields. `acl` holds the entries of `kb.access` the stores filter on;
    `page` is the 1-based physical page or None (what opens the PDF at the right page);
    `page_label` the number printed on that page ("xii", "A-3") where the PDF's page labels
    say it is not `page`, else ""; `instruction_cues` are the rule families of
    kb.text.instructions the text matches, a flag for admins that decides nothing."""

    chunk_id: str
    document_id: int
    collection_id: int
    acl: tuple[str, ...]
    chunk_number: int = 0
    document_version: int = 0
    title: str = ""
    page: int | None = None
    page_label: str = ""
    section: str = ""
    text: str = ""
    instruction_cues: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunk_id": self.chunk_id,
            "chunk_number": self.chunk_number,
            "document_id": self.document_id,
            "document_version": self.document_version,
            "collection_id": self.collection_id,
            "acl": list(self.acl),
            "title": self.title,
            "page": self.page,
            "page_label": self.page_label,
            "section": self.section,
            "text": self.text,
            "instruction_cues": list(self.instruction_cues),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChunkPayload:
        """Identity and access keys are required; a missing or empty other key reads as its
        default, and a page that is not a positive number as no page."""
        page = data.get("page")
        return cls(
            chunk_id=str(data["chunk_id"]),
            document_id=int(data["document_id"]),
            collection_id=int(data["collection_id"]),
            acl=tuple(str(entry) for entry in data["acl"]),
            chunk_number=int(data.get("chunk_number") or 0),
            document_version=int(data.get("document_version") or 0),
            title=str(data.get("title") or ""),
            page=int(page) if isinstance(page, int) and page > 0 else None,
            page_label=str(data.get("page_label") or ""),
            section=str(data.get("section") or ""),
            text=str(data.get("text") or ""),
            instruction_cues=tuple(str(cue) for cue in data.get("instruction_cues") or ()),
        )
