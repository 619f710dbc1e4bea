"""The stored files of a document's replaced versions, deleted once a later version is indexed."""

from __future__ import annotations

from django.db import transaction

from kb.models import Document


def document_prune_superseded_files(*, document_id: int) -> int:
    """Delete the files of versions older than the indexed one; returns how many went. Called
    once a version is indexed: until then the previous version stays searchable and its file
    readable, afterwards nothing serves it and keeping it would only keep old content."""
    with transaction.atomic():
        document = Document.objects.select_for_update().filter(pk=document_id).first()
        if document is None:
            return 0
        live = document.indexed_version
        stale = [name for version, name in document.superseded_files if version < live]
        kept = [entry for entry in document.superseded_files if entry[0] >= live]
        if stale:
            Document.objects.filter(pk=document_id).update(superseded_files=kept)
    for name in stale:
        if name != document.file.name:
            document.file.storage.delete(name)
    return len(stale)
