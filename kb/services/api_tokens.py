"""Writes on API tokens: created, revoked (by their owner, or because they leaked into logged
text), touched on use. Their reads are kb.selectors.api_tokens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from kb.models import ApiToken, TokenRevokedReason
from kb.redaction import leaked_tokens
from kb.tokens import token_generate, token_hash

TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


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
    request (kb.bearer_auth, kb.web.token_notice). Returns how many went."""
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
