"""The directory sync (kb.services.directory) against a real OpenLDAP slapd: groups changed in
the directory are replaced without anyone signing in; a person deleted from the directory, or no
longer matching the user filter, is deactivated and their API token refused; a directory that
cannot be asked changes nothing; the hourly task is scheduled and runs the same sync."""

from __future__ import annotations

from typing import Any

import ldap
import pytest
from celery.schedules import crontab
from django.conf import settings as django_settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings

from kb.celery import app
from kb.directory import DirectoryUnavailable
from kb.models import IdentitySource
from kb.services.api_tokens import api_token_create
from kb.services.directory import GroupChange, directory_sync
from kb.services.identities import SourcePerson, identity_sign_in
from kb.tasks import directory_sync_task
from tests.support.clients import bearer_client
from tests.support.factories import GroupFactory, UserFactory
from tests.support.ldap import PASSWORDS, PrivateSlapd, group_dn, person_dn

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def signed_in_once(username: str) -> Any:
    """An account made the way every directory account is: by signing in once."""
    user = authenticate(None, username=username, password=PASSWORDS[username])
    assert user is not None
    return user


def groups_of(user: Any) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def me_status(token: str) -> int:
    return bearer_client(token).get("/api/v1/me").status_code


def test_groups_changed_in_the_directory_are_replaced_without_a_sign_in(
    directory: PrivateSlapd,
) -> None:
    mia, bob = signed_in_once("mia"), signed_in_once("bob")
    mia.groups.add(GroupFactory.create(name="added-by-hand"))
    directory.admin().modify_s(
        group_dn("hr"), [(ldap.MOD_ADD, "member", [person_dn("mia").encode()])]
    )

    report = directory_sync()

    assert groups_of(mia) == {"engineering", "sales", "hr"}
    assert groups_of(bob) == {"hr"}
    assert report.checked == 2 and report.deactivated == []
    assert report.changed == [
        GroupChange(
            "mia",
            frozenset({"engineering", "sales", "added-by-hand"}),
            frozenset({"engineering", "sales", "hr"}),
        )
    ]


def test_a_person_deleted_from_the_directory_is_deactivated_and_their_token_refused(
    directory: PrivateSlapd,
) -> None:
    bob = signed_in_once("bob")
    _row, token = api_token_create(user=bob, name="laptop")
    assert me_status(token) == 200
    admin = directory.admin()
    admin.modify_s(group_dn("hr"), [(ldap.MOD_DELETE, "member", [person_dn("bob").encode()])])
    admin.delete_s(person_dn("bob"))

    report = directory_sync()

    bob.refresh_from_db()
    assert not bob.is_active
    assert report.deactivated == ["bob"]
    assert me_status(token) == 401


def test_a_person_the_user_filter_no_longer_matches_is_deactivated(
    directory: PrivateSlapd, settings: Settings
) -> None:
    """How Active Directory's disabled accounts are left out: a filter on an attribute."""
    settings.KB_LDAP_USER_FILTER = "(&(uid=%(user)s)(!(description=disabled)))"
    mia, bob = signed_in_once("mia"), signed_in_once("bob")
    directory.admin().modify_s(person_dn("bob"), [(ldap.MOD_ADD, "description", [b"disabled"])])

    report = directory_sync()

    mia.refresh_from_db()
    bob.refresh_from_db()
    assert (mia.is_active, bob.is_active) == (True, False)
    assert report.deactivated == ["bob"]
    assert authenticate(None, username="bob", password=PASSWORDS["bob"]) is None


def test_a_directory_that_is_down_changes_nothing(directory: PrivateSlapd) -> None:
    mia = signed_in_once("mia")
    directory.stop()

    with pytest.raises(DirectoryUnavailable, match="Can't contact LDAP server"):
        directory_sync()

    mia.refresh_from_db()
    assert mia.is_active and groups_of(mia) == {"engineering", "sales"}


@pytest.mark.parametrize(
    ("bind_dn", "password"),
    [
        pytest.param(None, "wrong-password", id="search bind refused"),
        pytest.param(person_dn("bob"), PASSWORDS["bob"], id="search bind that reads nothing"),
    ],
)
def test_a_search_bind_that_sees_no_one_deactivates_no_one(
    directory: PrivateSlapd, settings: Settings, bind_dn: str | None, password: str
) -> None:
    mia = signed_in_once("mia")
    if bind_dn is not None:
        settings.KB_LDAP_BIND_DN = bind_dn
    settings.KB_LDAP_BIND_PASSWORD = password

    with pytest.raises(DirectoryUnavailable):
        directory_sync()

    mia.refresh_from_db()
    assert mia.is_active and groups_of(mia) == {"engineering", "sales"}


def test_only_active_directory_accounts_are_touched(directory: PrivateSlapd) -> None:
    local = UserFactory.create(username="lou", groups=[GroupFactory.create(name="finance")])
    from_sso = identity_sign_in(
        person=SourcePerson(
            source=IdentitySource.OIDC,
            subject="https://idp.example sub-9",
            username="sso",
            email="",
            groups=frozenset({"legal"}),
        ),
        mapping=None,
    )
    mia = signed_in_once("mia")
    User.objects.filter(pk=mia.pk).update(is_active=False)

    report = directory_sync()

    assert report.checked == 0
    assert groups_of(local) == {"finance"} and groups_of(from_sso) == {"legal"}
    assert local.is_active and User.objects.get(pk=from_sso.pk).is_active


def test_the_sync_applies_the_group_map(directory: PrivateSlapd, settings: Settings) -> None:
    mia = signed_in_once("mia")
    settings.KB_LDAP_GROUP_MAP = {"sales": "customers"}

    directory_sync()

    assert groups_of(mia) == {"customers"}


def test_the_hourly_task_is_scheduled_and_runs_the_sync(directory: PrivateSlapd) -> None:
    bob = signed_in_once("bob")
    directory.admin().modify_s(
        group_dn("sales"), [(ldap.MOD_ADD, "member", [person_dn("bob").encode()])]
    )
    schedule = {
        entry["task"]: entry["schedule"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()
    }

    result = directory_sync_task.apply().get()

    assert schedule["kb.directory_sync"] == crontab(minute=45)  # hourly
    assert django_settings.CELERY_TASK_ROUTES["kb.directory_sync"] == {"queue": "maintenance"}
    assert "kb.directory_sync" in app.tasks
    assert result == {"checked": 1, "changed": 1, "deactivated": 0}
    assert groups_of(bob) == {"hr", "sales"}


def test_the_task_does_nothing_when_ldap_is_off(settings: Settings) -> None:
    settings.KB_LDAP_SERVER_URI = ""

    assert directory_sync_task.apply().get() == {}
