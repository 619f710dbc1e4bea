"""Reads of API tokens: the live one behind a bearer header, and leak notices owed to owners."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from kb.models import ApiToken, TokenRevokedReason
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
