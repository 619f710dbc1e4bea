"""Reads of groups: a user's own, and those kb.access lets them see and grant."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, Group, User
from django.db.models import QuerySet

from kb.access import AnyUser, grantable_groups


def group_list(*, user: AnyUser) -> QuerySet[Group]:
    """The groups a form may show `user`: their own, or every group for staff. Listing every
    group to any editor would tell them the names of groups they are not in."""
    return grantable_groups(user).order_by("name")


def user_group_names(*, user: User | AnonymousUser) -> list[str]:
    """The names of the user's own groups, sorted."""
    return sorted(user.groups.values_list("name", flat=True))
