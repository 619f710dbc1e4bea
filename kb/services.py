"""Writes. Keyword-only arguments, one transaction per service, no HTTP here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from kb.models import ApiToken, TokenRevokedReason
from kb.redaction import leaked_tokens
from kb.tokens import token_generate, token_hash

TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


@transaction.atomic
def user_upsert(
    *,
    username: str,
    groups: Sequence[str] | None = None,
    staff: bool | None = None,
    password: str | None = None,
) -> User:
    """Create or update a user. `groups`, when given, replaces the memberships (groups are
    created on demand); None leaves them as they are."""
    user_model = get_user_model()
    user, _created = user_model.objects.get_or_create(username=username)
    if staff is not None:
        user.is_staff = staff
    if password is not None:
        user.set_password(password)
    elif not user.has_usable_password() and _created:
        user.set_unusable_password()
    user.save()
    if groups is not None:
        user.groups.set(groups_get_or_create(names=groups))
    return user


def groups_get_or_create(*, names: Sequence[str]) -> list[Group]:
    """Groups by name, created on demand: for the server console only (`kb_user`,
    `kb_ingest --readers`). Request paths never create groups (kb.documents.groups_by_name)."""
    return [Group.objects.get_or_create(name=name.strip())[0] for name in names if name.strip()]


def api_token_create(*, user: User, name: str = "") -> tuple[ApiToken, str]:
    """Returns the row and the token text; the text is not recoverable afterwards."""
    token = token_generate()
    row = ApiToken.objects.create(
        user=user, name=name, key_hash=token_hash(token), prefix=token[:10]
    )
    return row, token


def api_token_revoke(
    *, token: ApiToken, reason: TokenRevokedReason = TokenRevokedReason.OWNER
) -> None:
    token.revoked_at = timezone.now()
    token.revoked_reason = reason
    token.revoked_notice_pending = reason == TokenRevokedReason.LEAKED
    token.save(update_fields=["revoked_at", "revoked_reason", "revoked_notice_pending"])


def api_tokens_revoke_leaked(*, texts: Sequence[str]) -> int:
    """Revoke every live token of ours written into text that is being logged (a question,
    answer or comment): whoever reads the log could use it. Its owner is told on their next
    request (kb.api.authentication, kb.web.token_notice). Returns how many went."""
    hashes = {token_hash(token) for text in texts for token in leaked_tokens(text)}
    if not hashes:
        return 0
    return ApiToken.objects.filter(key_hash__in=hashes, revoked_at__isnull=True).update(
        revoked_at=timezone.now(),
        revoked_reason=TokenRevokedReason.LEAKED,
        revoked_notice_pending=True,
    )


def api_token_leak_notices_mark_shown(*, user: User) -> None:
    ApiToken.objects.filter(user=user, revoked_notice_pending=True).update(
        revoked_notice_pending=False
    )


def api_token_touch(*, token: ApiToken) -> None:
    """Record use, at most once a minute, so every request does not write a row."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOKEN_TOUCH_INTERVAL:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)


def querylog_purge_expired() -> int:
    """Delete query logs older than KB_LOG_RETENTION_DAYS; returns how many went."""
    from django.conf import settings

    from kb.models import QueryLog

    cutoff = timezone.now() - timedelta(days=settings.KB_LOG_RETENTION_DAYS)
    deleted, _by_model = QueryLog.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def conversations_purge_expired() -> int:
    """Delete chat histories untouched for KB_CONVERSATION_RETENTION_DAYS (0 keeps them): a
    stored question could be matched to its redacted query-log row, so histories do not stay
    longer than the log's own retention unless an operator decides so."""
    from django.conf import settings

    from kb.models import Conversation

    if settings.KB_CONVERSATION_RETENTION_DAYS <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=settings.KB_CONVERSATION_RETENTION_DAYS)
    stale = Conversation.objects.filter(updated_at__lt=cutoff)
    count = stale.count()
    stale.delete()
    return count
