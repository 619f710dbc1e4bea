"""Reads of collections, always through kb.access: those a user reads, those they manage."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from kb.access import (
    AnyUser,
    editable_collections,
    editable_documents,
    readable_collections,
    readable_documents,
)
from kb.models import Collection, DocumentStatus


def collection_list_for_user(*, user: AnyUser) -> QuerySet[Collection]:
    """Readable collections with the number of documents the user may see in each."""
    visible = readable_documents(user).values("pk")
    return readable_collections(user).annotate(
        document_count=Count("documents", filter=Q(documents__in=visible), distinct=True),
        indexed_count=Count(
            "documents",
            filter=Q(documents__in=visible, documents__status=DocumentStatus.INDEXED),
            distinct=True,
        ),
    )


def collection_list_for_manager(*, user: AnyUser) -> QuerySet[Collection]:
    """Collections the user edits, with the documents they may manage counted per status."""
    visible = Q(documents__in=editable_documents(user).values("pk"))
    per_status = {
        f"{status.value}_count": Count(
            "documents", filter=visible & Q(documents__status=status), distinct=True
        )
        for status in DocumentStatus
    }
    return (
        editable_collections(user)
        .annotate(document_count=Count("documents", filter=visible, distinct=True), **per_status)
        .prefetch_related("reader_groups", "editor_groups")
        .order_by("name")
    )


def collection_get_for_manager(*, user: AnyUser, collection_id: int) -> Collection | None:
    """None both when it does not exist and when the user may not edit it."""
    return collection_list_for_manager(user=user).filter(pk=collection_id).first()


def collection_get_readable(*, user: AnyUser, collection_id: int) -> Collection | None:
    """None both when it does not exist and when the user may not read it."""
    return readable_collections(user).filter(pk=collection_id).first()


def collection_get_readable_by_slug(*, user: AnyUser, slug: str) -> Collection | None:
    """None both when no collection has this slug and when the user may not read it."""
    return readable_collections(user).filter(slug=slug).first()


def collection_get_editable(*, user: AnyUser, collection_id: int) -> Collection | None:
    """None both when it does not exist and when the user may not edit it (readers included)."""
    return editable_collections(user).filter(pk=collection_id).first()


def collection_is_editable(*, user: AnyUser, collection_id: int) -> bool:
    """Whether the user may upload to and delete from this collection."""
    return editable_collections(user).filter(pk=collection_id).exists()


def collection_name_taken(*, name: str) -> bool:
    """Names are unique without regard to case. For staff only, who see every collection: to
    anyone else the answer would reveal a collection they may not read."""
    return Collection.objects.filter(name__iexact=name).exists()
