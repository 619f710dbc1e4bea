"""Reads. Every read of user-visible data goes through kb.access."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from kb.access import AnyUser, readable_collections, readable_documents
from kb.models import ApiToken, Collection, DocumentStatus
from kb.tokens import token_hash


def api_token_get_active(*, token: str) -> ApiToken | None:
    return (
        ApiToken.objects.select_related("user")
        .filter(key_hash=token_hash(token), revoked_at__isnull=True, user__is_active=True)
        .first()
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
