"""Accounts from the identity provider or directory (kb.services.identities): created at first
sign-in and matched on the source's stable id afterwards; groups replaced by the source's on
every sign-in; never linked to an existing account by name; deactivated accounts refused."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from kb.models import ExternalIdentity, IdentitySource
from kb.services.identities import (
    SignInRefused,
    SourcePerson,
    identity_deactivate,
    identity_sign_in,
    mapped_groups,
)

pytestmark = pytest.mark.django_db


def person(subject: str = "https://idp.example sub-1", **changes: object) -> SourcePerson:
    fields: dict[str, object] = {
        "source": IdentitySource.OIDC,
        "subject": subject,
        "username": "mia",
        "email": "mia@example.com",
        "groups": frozenset({"engineering", "sales"}),
    }
    fields.update(changes)
    return SourcePerson(**fields)  # type: ignore[arg-type]


def group_names(user: User) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_first_sign_in_creates_an_account_with_the_sources_groups_and_no_password() -> None:
    user = identity_sign_in(person=person(), mapping=None)

    assert user.username == "mia" and user.email == "mia@example.com"
    assert group_names(user) == {"engineering", "sales"}
    assert not user.has_usable_password()
    assert not user.is_staff
    identity = ExternalIdentity.objects.get(user=user)
    assert (identity.source, identity.subject) == ("oidc", "https://idp.example sub-1")
    assert identity.groups_synced_at is not None


def test_each_sign_in_replaces_the_groups_so_a_removal_at_the_source_removes_access() -> None:
    user = identity_sign_in(person=person(), mapping=None)
    user.groups.add(Group.objects.create(name="added-by-hand"))

    again = identity_sign_in(person=person(groups=frozenset({"sales"})), mapping=None)

    assert again.pk == user.pk
    assert group_names(again) == {"sales"}


def test_the_account_is_found_by_subject_even_when_the_name_changed_at_the_source() -> None:
    user = identity_sign_in(person=person(), mapping=None)

    renamed = identity_sign_in(person=person(username="mia.jones"), mapping=None)

    assert renamed.pk == user.pk and renamed.username == "mia"


def test_a_name_taken_by_a_local_account_is_never_linked() -> None:
    local = User.objects.create_user(username="admin", password="x", is_staff=True)

    with pytest.raises(SignInRefused, match="already exists"):
        identity_sign_in(person=person(username="admin"), mapping=None)

    assert not ExternalIdentity.objects.exists()
    local.refresh_from_db()
    assert local.is_staff and local.has_usable_password()


def test_the_same_name_from_another_source_is_not_linked_either() -> None:
    identity_sign_in(person=person(), mapping=None)
    from_directory = person(source=IdentitySource.LDAP, subject="uid=mia,ou=people,dc=example")

    with pytest.raises(SignInRefused):
        identity_sign_in(person=from_directory, mapping=None)


def test_a_deactivated_account_is_refused_and_keeps_its_groups() -> None:
    user = identity_sign_in(person=person(), mapping=None)
    identity_deactivate(user=user)

    with pytest.raises(SignInRefused, match="deactivated"):
        identity_sign_in(person=person(groups=frozenset({"admins"})), mapping=None)

    user.refresh_from_db()
    assert not user.is_active
    assert group_names(user) == {"engineering", "sales"}


def test_a_mapping_keeps_only_the_groups_it_names() -> None:
    mapping = {"eng-all": "engineering", "hr-staff": "hr"}

    assert mapped_groups(source_groups=["eng-all", "Domain Users", " "], mapping=mapping) == {
        "engineering"
    }
    assert mapped_groups(source_groups=["eng-all", " x "], mapping=None) == {"eng-all", "x"}


def test_the_admin_shows_where_each_account_came_from(client) -> None:
    identity_sign_in(person=person(), mapping=None)
    admin = User.objects.create_superuser(username="root", password="x")
    client.force_login(admin)

    users = client.get("/admin/auth/user/").content.decode()
    identities = client.get("/admin/kb/externalidentity/").content.decode()

    assert "single sign-on (OpenID Connect)" in users  # mia
    assert "Quarry (password set here)" in users  # root
    assert "https://idp.example sub-1" in identities
