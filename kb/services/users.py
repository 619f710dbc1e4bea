"""Writes on users and their groups, for the server console (`kb_user`, `kb_ingest --readers`)."""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.db import transaction


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
    `kb_ingest --readers`). Request paths never create groups
    (kb.services.collections.groups_by_name)."""
    return [Group.objects.get_or_create(name=name.strip())[0] for name in names if name.strip()]
