"""A document's stored files: those of replaced versions, deleted once a later version is
indexed, and every one of them when the document is deleted (`ingestion.purge`)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from django.core.files.storage import Storage, default_storage
from django.core.files.storage.filesystem import FileSystemStorage
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
    stored_files_delete(
        names=[name for name in stale if name != document.file.name], storage=document.file.storage
    )
    return len(stale)


def stored_files_delete(*, names: Iterable[str], storage: Storage = default_storage) -> None:
    """Delete these stored files (a missing one is already gone). On the local file system the
    folders they leave empty go too: they are named after the content's SHA-256, which would
    otherwise outlive the content."""
    for name in filter(None, names):
        storage.delete(name)
        if isinstance(storage, FileSystemStorage):
            _remove_empty_folders(Path(storage.path(name)).parent, root=Path(storage.location))


def _remove_empty_folders(folder: Path, *, root: Path) -> None:
    root = root.resolve()
    folder = folder.resolve()
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except FileNotFoundError:
            pass  # removed by a concurrent deletion
        except OSError:  # not empty (another file, or one being written): it stays
            return
        folder = folder.parent
