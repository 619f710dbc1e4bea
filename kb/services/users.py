"""Writes on users and their groups, for the server console (`kb_user`, `kb_ingest --readers`,
`kb_forget_user`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.db import transaction

from kb.models import ApiToken, ExternalIdentity, Feedback, QueryLog
from kb.services.conversations import conversations_delete_of_user
from kb.services.querylog import pseudonym


class ExternalAccount(Exception):
    """Making an account from single sign-on or the directory staff needs a second look: its
    name was chosen at the source, possibly by someone else than the person meant."""


@transaction.atomic
def user_upsert(
    *,
    username: str,
    groups: Sequence[str] | None = None,
    staff: bool | None = None,
    password: str | None = None,
    external_ok: bool = False,
) -> User:
    """Create or update a user. `groups`, when given, replaces the memberships (groups are
    created on demand); None leaves them as they are. Refuses to make an account that came
    from an identity source staff unless `external_ok` says it was checked."""
    user_model = get_user_model()
    user, _created = user_model.objects.get_or_create(username=username)
    identity = ExternalIdentity.objects.filter(user=user).first()
    if staff and not user.is_staff and identity is not None and not external_ok:
        raise ExternalAccount(
            f"{username} signs in through {identity.get_source_display()} as "
            f"{identity.subject!r}; check that this is the person you mean, then pass "
            "--external to make them staff."
        )
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
    `kb_ingest --readers`). Request paths never create groups
    (kb.services.collections.groups_by_name)."""
    return [Group.objects.get_or_create(name=name.strip())[0] for name in names if name.strip()]


def signin_name(name: str) -> str:
    """A sign-in name as django-axes counts it (kb.web.signin.throttled_username): without
    regard to case or runs of spaces, as a directory matches names."""
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class Forgotten:
    """What `user_forget` removed, counted."""

    account: int
    api_tokens: int
    conversations: int
    turns: int
    feedback_comments: int
    query_logs: int  # 0 unless they were asked for
    query_logs_kept: int  # found by the pseudonym and left, because they were not asked for
    signin_records: int


@transaction.atomic
def user_forget(*, user: User, query_logs: bool = False) -> Forgotten:
    """Erase a person: their account, API tokens, conversations (with every turn), the
    comments they wrote on answers, the sign-in records kept under their username, and, when
    `query_logs` is set, their rows of the anonymised query log (with the ratings on them).
    The log holds no user id: their rows are the ones carrying the pseudonym recomputed from
    their id with the current key (rows written under an earlier key cannot be found, and
    age out with retention). Without `query_logs` those rows stay, anonymous, without the
    comments; the ratings stay on them."""
    logged = QueryLog.objects.filter(pseudonym=pseudonym(user.pk))
    comments = (
        Feedback.objects.filter(query_log__in=logged)
        .exclude(comment_redacted="")
        .update(comment_redacted="")
    )
    logs_found = logged.count()
    if query_logs:
        logged.delete()  # their feedback goes with them
    conversations, turns = conversations_delete_of_user(user=user)
    username = user.get_username()
    spellings = {username, signin_name(username)}  # axes counts the latter (kb.web.signin)
    signins = sum(
        model.objects.filter(username__in=spellings).delete()[0]
        for model in (AccessAttempt, AccessFailureLog, AccessLog)
    )
    tokens, _by_model = ApiToken.objects.filter(user=user).delete()
    user.delete()
    return Forgotten(
        account=1,
        api_tokens=tokens,
        conversations=conversations,
        turns=turns,
        feedback_comments=comments,
        query_logs=logs_found if query_logs else 0,
        query_logs_kept=0 if query_logs else logs_found,
        signin_records=signins,
    )
