"""Signing in with a directory password through the real sign-in page, against a real OpenLDAP
slapd (the `directory` fixture): the account is created with the directory's groups and reads
their collections; a group changed in the directory changes access at the next sign-in; wrong
passwords, deactivated accounts and local accounts of the same name are refused; axes still
throttles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ldap
import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings

from kb.models import ExternalIdentity
from kb.services.identities import identity_deactivate
from tests.support.factories import CollectionFactory, GroupFactory, UserFactory
from tests.support.ldap import (
    PASSWORDS,
    POSIX_GROUPS,
    PrivateSlapd,
    group_dn,
    person_dn,
    self_signed_certificate,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def collections(db: None) -> None:
    """One collection per directory group, and one no group reads."""
    for name in ("engineering", "sales", "hr"):
        CollectionFactory.create(name=name.title(), reader_groups=[GroupFactory.create(name=name)])
    CollectionFactory.create(name="Board")


def sign_in(username: str, password: str) -> Client:
    """A browser that filled in the sign-in page."""
    client = Client()
    client.post(LOGIN, {"username": username, "password": password})
    return client


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def readable(client: Client) -> set[str]:
    response = client.get("/api/v1/collections")
    assert response.status_code == 200, response.content
    return {row["name"] for row in response.json()["results"]}


def groups_of(username: str) -> set[str]:
    return set(User.objects.get(username=username).groups.values_list("name", flat=True))


def test_a_directory_password_signs_in_with_the_directorys_groups(
    directory: PrivateSlapd,
) -> None:
    client = sign_in("mia", PASSWORDS["mia"])

    assert signed_in(client)
    assert readable(client) == {"Engineering", "Sales"}
    mia = User.objects.get(username="mia")
    assert (mia.email, mia.is_staff, mia.has_usable_password()) == ("mia@quarry.test", False, False)
    identity = ExternalIdentity.objects.get(user=mia)
    assert (identity.source, identity.subject) == ("ldap", person_dn("mia"))


def test_a_group_changed_in_the_directory_changes_access_at_the_next_sign_in(
    directory: PrivateSlapd,
) -> None:
    assert readable(sign_in("mia", PASSWORDS["mia"])) == {"Engineering", "Sales"}
    mia = person_dn("mia").encode()
    admin = directory.admin()
    admin.modify_s(group_dn("sales"), [(ldap.MOD_REPLACE, "member", [person_dn("bob").encode()])])
    admin.modify_s(group_dn("hr"), [(ldap.MOD_ADD, "member", [mia])])

    again = sign_in("mia", PASSWORDS["mia"])

    assert readable(again) == {"Engineering", "Hr"}
    assert User.objects.filter(username="mia").count() == 1


def test_a_wrong_password_is_refused_and_creates_no_account(directory: PrivateSlapd) -> None:
    client = sign_in("mia", "not-her-password")

    assert not signed_in(client)
    assert not User.objects.filter(username="mia").exists()


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param("mia", "", id="empty password: an anonymous bind"),
        pytest.param("mi*", PASSWORDS["mia"], id="wildcard in the user name"),
        pytest.param("nobody", PASSWORDS["mia"], id="unknown user"),
        pytest.param("mia)(uid=*", PASSWORDS["mia"], id="filter injection"),
    ],
)
def test_what_the_directory_must_not_accept(
    directory: PrivateSlapd, username: str, password: str
) -> None:
    assert authenticate(None, username=username, password=password) is None
    assert not ExternalIdentity.objects.exists()


def test_a_local_account_of_the_same_name_is_never_taken_over(directory: PrivateSlapd) -> None:
    local = UserFactory.create(username="admin", is_staff=True)
    local.set_password("the-local-admin-password")
    local.save()

    from_directory = sign_in("admin", PASSWORDS["admin"])

    assert not signed_in(from_directory)
    local.refresh_from_db()
    assert local.is_staff and not local.groups.exists()
    assert not ExternalIdentity.objects.exists()
    assert signed_in(sign_in("admin", "the-local-admin-password"))


def test_a_deactivated_account_is_refused_and_its_session_ends(directory: PrivateSlapd) -> None:
    client = sign_in("mia", PASSWORDS["mia"])
    identity_deactivate(user=User.objects.get(username="mia"))

    assert client.get("/").url.startswith(LOGIN)  # type: ignore[attr-defined]
    assert client.get("/api/v1/me").status_code in {401, 403}
    assert not signed_in(sign_in("mia", PASSWORDS["mia"]))


def test_failed_directory_sign_ins_are_throttled(
    directory: PrivateSlapd, settings: Settings
) -> None:
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    for n in range(3):
        sign_in("mia", f"guess-{n}")

    response = Client().post(LOGIN, {"username": "mia", "password": PASSWORDS["mia"]})

    assert response.status_code == 429
    assert not User.objects.filter(username="mia").exists()


def test_the_group_map_keeps_only_the_groups_it_names(
    directory: PrivateSlapd, settings: Settings
) -> None:
    settings.KB_LDAP_GROUP_MAP = {"engineering": "sales", "hr": "hr"}

    client = sign_in("mia", PASSWORDS["mia"])

    assert groups_of("mia") == {"sales"}
    assert readable(client) == {"Sales"}


def test_posix_groups_by_member_uid(directory: PrivateSlapd, settings: Settings) -> None:
    settings.KB_LDAP_GROUP_TYPE = "posixgroup"
    settings.KB_LDAP_GROUP_SEARCH_BASE = POSIX_GROUPS

    assert signed_in(sign_in("mia", PASSWORDS["mia"]))

    assert groups_of("mia") == {"eng-posix"}


def test_a_dn_template_binds_without_searching_for_the_person(
    directory: PrivateSlapd, settings: Settings
) -> None:
    settings.KB_LDAP_USER_DN_TEMPLATE = "uid=%(user)s," + person_dn("x").split(",", 1)[1]
    settings.KB_LDAP_USER_SEARCH_BASE = ""

    assert signed_in(sign_in("bob", PASSWORDS["bob"]))

    assert groups_of("bob") == {"hr"}


def test_a_directory_that_is_down_refuses_the_sign_in_without_an_error_page(
    directory: PrivateSlapd,
) -> None:
    directory.stop()

    response: Any = Client().post(LOGIN, {"username": "mia", "password": PASSWORDS["mia"]})

    assert response.status_code == 200
    assert "didn't match" in response.content.decode()
    assert not User.objects.filter(username="mia").exists()


def test_start_tls_with_the_ca_that_signed_the_directory(
    directory: PrivateSlapd, settings: Settings
) -> None:
    settings.KB_LDAP_START_TLS = True
    settings.KB_LDAP_CA_FILE = str(directory.ca_file)

    assert signed_in(sign_in("mia", PASSWORDS["mia"]))


def test_start_tls_refuses_a_directory_another_ca_signed(
    directory: PrivateSlapd, settings: Settings, tmp_path: Path
) -> None:
    """The password is never sent to a server that cannot prove it is the directory."""
    self_signed_certificate(tmp_path / "other-ca.pem", tmp_path / "other-ca.key")
    settings.KB_LDAP_START_TLS = True
    settings.KB_LDAP_CA_FILE = str(tmp_path / "other-ca.pem")

    assert not signed_in(sign_in("mia", PASSWORDS["mia"]))
    assert not User.objects.filter(username="mia").exists()
