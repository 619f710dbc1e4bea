"""Accounts that come from the company's identity provider (OpenID Connect) or directory
(LDAP): created at first sign-in, their groups replaced by the source's at every sign-in and
directory sync, refused or deactivated when the source no longer knows them.

One home for both sources, so they keep the same promises: a person is matched on their stable
id at the source (`ExternalIdentity`), never on a name; the source never makes anyone staff;
a deactivated account stays refused whatever the source says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from kb.models import ExternalIdentity, IdentitySource


@dataclass(frozen=True)
class SourcePerson:
    """A person as the identity provider or directory describes them."""

    source: IdentitySource
    subject: str  # stable at the source: "<issuer> <sub>" for OIDC, the entry's DN for LDAP
    username: str  # wanted Quarry username; only used when the account is created
    email: str
    groups: frozenset[str]  # group names at the source, before any mapping


class SignInRefused(Exception):
    """The source vouched for the person, but Quarry will not let them in. The message is for
    the person signing in and names no other account."""


def mapped_groups(*, source_groups: Iterable[str], mapping: Mapping[str, str] | None) -> set[str]:
    """Quarry group names for a person's groups at the source. With a mapping, only the groups
    it names count (others at the source are ignored); without one, names are mirrored."""
    names = {name.strip() for name in source_groups if _storable(name.strip(), Group, "name")}
    if mapping is None:
        return names
    return {mapping[name] for name in names if name in mapping}


@transaction.atomic
def identity_sign_in(*, person: SourcePerson, mapping: Mapping[str, str] | None) -> User:
    """The account for `person`, created on first sign-in, with its groups replaced by the
    source's (mapped). Refuses deactivated accounts, and a first sign-in whose username is
    already taken by an account the source does not own."""
    if not _storable(person.subject, ExternalIdentity, "subject"):
        raise SignInRefused(
            "The sign-in service sent an identifier Quarry cannot use (too long, or with a "
            "control character). Ask an administrator."
        )
    identity = (
        ExternalIdentity.objects.select_related("user")
        .select_for_update()
        .filter(source=person.source, subject=person.subject)
        .first()
    )
    user = _account_create(person=person) if identity is None else identity.user
    if not user.is_active:
        raise SignInRefused("This account is deactivated. Ask an administrator.")
    identity_groups_replace(
        user=user, groups=mapped_groups(source_groups=person.groups, mapping=mapping)
    )
    if _storable(person.email, type(user), "email") and user.email != person.email:
        user.email = person.email
        user.save(update_fields=["email"])
    return user


def identity_groups_replace(*, user: User, groups: set[str]) -> None:
    """Replace the user's groups by `groups` (created on demand: the source is the authority
    on memberships, the admin on what each group may read) and note when."""
    user.groups.set([Group.objects.get_or_create(name=name)[0] for name in sorted(groups)])
    ExternalIdentity.objects.filter(user=user).update(groups_synced_at=timezone.now())


def identity_deactivate(*, user: User) -> None:
    """The source no longer knows the person: the account, and with it every API token, stops
    working at once (tokens of inactive users are refused)."""
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])


def _account_create(*, person: SourcePerson) -> User:
    user_model = get_user_model()
    username = person.username.strip()
    if not username:
        raise SignInRefused("The sign-in service sent no user name.")
    if not _storable(username, user_model, "username"):
        raise SignInRefused(
            "The sign-in service sent a user name Quarry cannot use (too long, or with a "
            "control character). Ask an administrator."
        )
    if user_model.objects.filter(username=username).exists():
        # Linking by name would let whoever controls a name at the source take over the local
        # account (or another source's) of the same name.
        raise SignInRefused(
            "An account with your user name already exists here and is not linked to this "
            "sign-in service. Ask an administrator to link or rename it."
        )
    email = person.email if _storable(person.email, user_model, "email") else ""
    user: User = user_model.objects.create_user(username=username, email=email)
    user.set_unusable_password()  # the source checks passwords, never Quarry
    user.save(update_fields=["password"])
    ExternalIdentity.objects.create(user=user, source=person.source, subject=person.subject)
    return user


def _storable(value: str, model: type[Model], field: str) -> bool:
    """Whether the source's `value` fits `model.field`: not empty, not longer than the column,
    no NUL (PostgreSQL refuses both with a DataError, a 500 for the person signing in)."""
    max_length = getattr(model._meta.get_field(field), "max_length", None)
    return bool(value) and "\x00" not in value and (max_length is None or len(value) <= max_length)
