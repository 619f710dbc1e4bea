"""Reads of documents: a user's always through kb.access (what they may read, what they may
manage); the operator's, for start-up checks and commands, over every document."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import QuerySet

from kb.access import (
    AnyUser,
    editable_documents,
    readable_collections,
    readable_documents,
)
from kb.models import Collection, Document, DocumentStatus

UNSETTLED = (DocumentStatus.QUEUED, DocumentStatus.PROCESSING)


def document_list_for_manager(*, user: AnyUser, collection: Collection) -> QuerySet[Document]:
    return editable_documents(user).filter(collection=collection).order_by("-created_at", "-pk")


def document_get_for_manager(*, user: AnyUser, document_id: int) -> Document | None:
    return editable_documents(user).filter(pk=document_id).first()


def document_get_readable(*, user: AnyUser, document_id: int) -> Document | None:
    return readable_documents(user).filter(pk=document_id).first()


def document_list_readable(
    *, user: AnyUser, collection_id: int, status: str | None = None
) -> QuerySet[Document] | None:
    """The documents of a collection that the user may read, oldest first; None both when the
    collection does not exist and when the user may not read it."""
    if not readable_collections(user).filter(pk=collection_id).exists():
        return None
    documents = readable_documents(user).filter(collection_id=collection_id)
    if status is not None:
        documents = documents.filter(status=status)
    return documents.order_by("pk")


def document_ids_unsettled(*, user: AnyUser, collection: Collection) -> list[int]:
    """Documents still queued or processing: what the progress table keeps polling for."""
    documents = document_list_for_manager(user=user, collection=collection)
    return list(documents.filter(status__in=UNSETTLED).values_list("pk", flat=True))


def documents_embedded_with_other_model(*, model: str) -> QuerySet[Document]:
    """Documents whose searchable version's vectors another embedding model made than `model`:
    questions embedded by `model` do not find their passages by meaning. An indexed document
    without a model ("") counts too: every commit records one, so it is unknown, and
    re-embedding is the safe way to know."""
    return Document.objects.filter(indexed_version__gt=0).exclude(embed_model=model)


def readable_scripts(*, user: AnyUser, collection_ids: Sequence[int]) -> frozenset[str]:
    """The scripts of the searchable documents the user may read in these collections: what
    their questions are also searched translated into. Only readable ones, so how long a
    question takes tells nothing of documents the asker may not see. "" stands for documents
    indexed before their script was recorded."""
    documents = readable_documents(user).filter(
        collection_id__in=collection_ids, indexed_version__gt=0
    )
    return frozenset(documents.order_by().values_list("script", flat=True).distinct())
