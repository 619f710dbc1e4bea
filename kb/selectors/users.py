"""Reads of groups, as far as kb.access lets a user see them."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db.models import QuerySet

from kb.access import AnyUser, grantable_groups


def group_list(*, user: AnyUser) -> QuerySet[Group]:
    """The groups a form may show `user`: their own, or every group for staff. Listing every
    group to any editor would tell them the names of groups they are not in."""
    return grantable_groups(user).order_by("name")
