"""Documents uploaded and ingested for real, as an admin's upload is: the text pages that many
integration tests search."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ingestion.pipeline import ingest_document
from kb.access import CONSOLE
from kb.models import Collection, Document
from kb.services.documents import document_add
from kb.uploads import IncomingFile
from tests.support import samples


def text_pages(
    collection: Collection, pages: Mapping[str, str], folder: Path
) -> dict[str, Document]:
    """Each page's text uploaded as `<name>.txt` into `collection` and ingested; by name."""
    documents = {}
    for name, body in pages.items():
        path = samples.text(folder / f"{name}.txt", body)
        document, _ = document_add(
            collection=collection, incoming=IncomingFile(path.name, path), uploader=CONSOLE
        )
        assert ingest_document(document_id=document.pk, version=document.version) == "indexed"
        documents[name] = document
    return documents
