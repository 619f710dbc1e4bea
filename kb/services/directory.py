"""The directory sync (`manage.py kb_sync_directory`, and hourly as a periodic task): every
active account that came from the directory gets its groups re-read, by its DN, and replaced;
one whose entry is gone is deactivated, so its API tokens and sessions stop working without
anyone signing in.

Everyone is read before anything is written: a directory that fails half-way changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from kb.directory import DirectoryPerson, directory_connection
from kb.models import ExternalIdentity, IdentitySource
from kb.services.identities import identity_deactivate, identity_groups_replace, mapped_groups


@dataclass(frozen=True)
class GroupChange:
    username: str
    before: frozenset[str]
    after: frozenset[str]


@dataclass
class DirectorySync:
    """What a sync changed; accounts already deactivated are left alone and not counted."""

    checked: int = 0
    changed: list[GroupChange] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)


def directory_sync() -> DirectorySync:
    """Raises kb.directory.DirectoryUnavailable, having changed nothing, when the directory
    cannot be asked."""
    identities = list(
        ExternalIdentity.objects.filter(source=IdentitySource.LDAP, user__is_active=True)
        .select_related("user")
        .order_by("user__username")
    )
    with directory_connection() as directory:
        directory.require_readable()
        found = [(identity, directory.person(dn=identity.subject)) for identity in identities]
    report = DirectorySync(checked=len(found))
    for identity, person in found:
        _apply(identity=identity, person=person, report=report)
    return report


@transaction.atomic
def _apply(
    *, identity: ExternalIdentity, person: DirectoryPerson | None, report: DirectorySync
) -> None:
    user = identity.user
    if person is None:
        identity_deactivate(user=user)
        report.deactivated.append(user.username)
        return
    before = frozenset(user.groups.values_list("name", flat=True))
    after = mapped_groups(source_groups=person.groups, mapping=settings.KB_LDAP_GROUP_MAP)
    identity_groups_replace(user=user, groups=after)
    if before != after:
        report.changed.append(GroupChange(user.username, before, frozenset(after)))
