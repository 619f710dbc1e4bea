"""Reads. Every read of user-visible data goes through kb.access."""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.db.models import Count, Q, QuerySet

from kb.access import (
    AnyUser,
    editable_collections,
    editable_documents,
    grantable_groups,
    readable_collections,
    readable_documents,
)
from kb.models import ApiToken, Collection, Document, DocumentStatus, TokenRevokedReason
from kb.tokens import token_hash


def api_token_get_active(*, token: str) -> ApiToken | None:
    return (
        ApiToken.objects.select_related("user")
        .filter(key_hash=token_hash(token), revoked_at__isnull=True, user__is_active=True)
        .first()
    )


def api_token_revoked_as_leaked(*, token: str) -> bool:
    return ApiToken.objects.filter(
        key_hash=token_hash(token), revoked_reason=TokenRevokedReason.LEAKED
    ).exists()


def api_token_leak_notices(*, user: User) -> QuerySet[ApiToken]:
    """The user's tokens revoked as leaked that they have not been told about on a page."""
    return ApiToken.objects.filter(
        user=user, revoked_reason=TokenRevokedReason.LEAKED, revoked_notice_pending=True
    )


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


UNSETTLED = (DocumentStatus.QUEUED, DocumentStatus.PROCESSING)


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


def group_list(*, user: AnyUser) -> QuerySet[Group]:
    """The groups a form may show `user`: their own, or every group for staff. Listing every
    group to any editor would tell them the names of groups they are not in."""
    return grantable_groups(user).order_by("name")
