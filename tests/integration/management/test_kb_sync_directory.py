"""`manage.py kb_sync_directory` against a real OpenLDAP slapd: prints what changed; a directory
that cannot be asked, or LDAP turned off, is a clear error and changes nothing."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import ldap
import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings

from tests.support.ldap import (
    PASSWORDS,
    PrivateSlapd,
    group_dn,
    person_dn,
    self_signed_certificate,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def sync() -> str:
    out = StringIO()
    call_command("kb_sync_directory", stdout=out)
    return out.getvalue()


def test_it_prints_the_group_changes_and_the_deactivations(directory: PrivateSlapd) -> None:
    for name in ("mia", "bob"):
        assert authenticate(None, username=name, password=PASSWORDS[name]) is not None
    admin = directory.admin()
    admin.modify_s(group_dn("hr"), [(ldap.MOD_ADD, "member", [person_dn("mia").encode()])])
    admin.delete_s(person_dn("bob"))

    printed = sync()

    assert printed.splitlines() == [
        "Checked 2 directory accounts: 1 with new groups, 1 deactivated.",
        "  mia: engineering, sales -> engineering, hr, sales",
        "  bob: deactivated (gone from the directory)",
    ]
    assert sync().splitlines() == ["Checked 1 directory account: 0 with new groups, 0 deactivated."]


def test_an_unreachable_directory_is_an_error_and_deactivates_no_one(
    directory: PrivateSlapd,
) -> None:
    assert authenticate(None, username="mia", password=PASSWORDS["mia"]) is not None
    directory.stop()

    with pytest.raises(
        CommandError,
        match=r"Directory unavailable, nothing changed: ldap://127\.0\.0\.1:\d+: Can't contact",
    ):
        sync()

    assert User.objects.get(username="mia").is_active


def test_start_tls_with_the_directorys_ca_and_with_another(
    directory: PrivateSlapd, settings: Settings, tmp_path: Path
) -> None:
    assert authenticate(None, username="mia", password=PASSWORDS["mia"]) is not None
    settings.KB_LDAP_START_TLS = True
    settings.KB_LDAP_CA_FILE = str(directory.ca_file)
    assert sync().startswith("Checked 1 directory account: 0 with new groups")

    self_signed_certificate(tmp_path / "other-ca.pem", tmp_path / "other-ca.key")
    settings.KB_LDAP_CA_FILE = str(tmp_path / "other-ca.pem")
    with pytest.raises(CommandError, match="StartTLS"):
        sync()


def test_it_says_so_when_ldap_is_off(settings: Settings) -> None:
    settings.KB_LDAP_SERVER_URI = ""

    with pytest.raises(CommandError, match="KB_LDAP_SERVER_URI"):
        sync()
