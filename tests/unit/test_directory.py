"""kb/directory.py: the KB_LDAP_* settings as django-auth-ldap's configuration, and what
`manage.py check` says about incomplete ones. (Against a real directory:
tests/integration/web/test_directory_signin.py and tests/integration/services/test_directory.py.)"""

from __future__ import annotations

import ldap
import pytest
from django_auth_ldap.config import (
    GroupOfNamesType,
    NestedActiveDirectoryGroupType,
    PosixGroupType,
)
from pytest_django.fixtures import Settings

from kb.checks import ldap_settings
from kb.directory import GROUP_TYPES, auth_ldap_settings, configuration_problems, describe
from kb.settings import base

pytestmark = pytest.mark.unit


@pytest.fixture
def configured(settings: Settings) -> Settings:
    settings.KB_LDAP_SERVER_URI = "ldap://dc1.corp.example"
    settings.KB_LDAP_START_TLS = False
    settings.KB_LDAP_CA_FILE = ""
    settings.KB_LDAP_TIMEOUT_SECONDS = 7
    settings.KB_LDAP_BIND_DN = "cn=quarry,ou=services,dc=example"
    settings.KB_LDAP_BIND_PASSWORD = "s3cret"
    settings.KB_LDAP_USER_SEARCH_BASE = "ou=people,dc=example"
    settings.KB_LDAP_USER_FILTER = "(uid=%(user)s)"
    settings.KB_LDAP_USER_DN_TEMPLATE = ""
    settings.KB_LDAP_GROUP_SEARCH_BASE = "ou=groups,dc=example"
    settings.KB_LDAP_GROUP_TYPE = "groupofnames"
    return settings


def test_a_search_configuration(configured: Settings) -> None:
    config = auth_ldap_settings()

    assert config.SERVER_URI == "ldap://dc1.corp.example" and config.START_TLS is False
    assert (config.BIND_DN, config.BIND_PASSWORD) == ("cn=quarry,ou=services,dc=example", "s3cret")
    search = config.USER_SEARCH
    assert (search.base_dn, search.scope, search.filterstr) == (
        "ou=people,dc=example",
        ldap.SCOPE_SUBTREE,
        "(uid=%(user)s)",
    )
    assert config.USER_DN_TEMPLATE is None
    assert isinstance(config.GROUP_TYPE, GroupOfNamesType)
    assert config.GROUP_SEARCH.base_dn == "ou=groups,dc=example"
    assert config.GROUP_SEARCH.filterstr == "(objectClass=groupOfNames)"


def test_the_backend_creates_copies_and_mirrors_nothing_itself(configured: Settings) -> None:
    """Accounts and groups are the identity service's job; an empty password is never sent."""
    config = auth_ldap_settings()

    assert config.ALWAYS_UPDATE_USER is False and config.MIRROR_GROUPS is None
    assert config.USER_ATTR_MAP == {} and config.FIND_GROUP_PERMS is False
    assert config.PERMIT_EMPTY_PASSWORD is False and config.CACHE_TIMEOUT == 0


def test_nothing_is_read_from_auth_ldap_settings_by_accident(configured: Settings) -> None:
    configured.AUTH_LDAP_SERVER_URI = "ldap://somewhere-else"

    assert auth_ldap_settings().SERVER_URI == "ldap://dc1.corp.example"


def test_a_dn_template_replaces_the_search(configured: Settings) -> None:
    configured.KB_LDAP_USER_DN_TEMPLATE = "uid=%(user)s,ou=people,dc=example"

    config = auth_ldap_settings()

    assert config.USER_SEARCH is None
    assert config.USER_DN_TEMPLATE == "uid=%(user)s,ou=people,dc=example"


@pytest.mark.parametrize(
    ("kind", "group_type", "filterstr"),
    [
        pytest.param("posixgroup", PosixGroupType, "(objectClass=posixGroup)", id="posixGroup"),
        pytest.param(
            "nestedactivedirectory",
            NestedActiveDirectoryGroupType,
            "(objectClass=group)",
            id="nested AD",
        ),
    ],
)
def test_group_types(configured: Settings, kind: str, group_type: type, filterstr: str) -> None:
    configured.KB_LDAP_GROUP_TYPE = kind

    config = auth_ldap_settings()

    assert type(config.GROUP_TYPE) is group_type
    assert config.GROUP_SEARCH.filterstr == filterstr


def test_every_group_type_the_settings_accept_is_known() -> None:
    assert set(GROUP_TYPES) == set(base.LDAP_GROUP_TYPE_CHOICES)


def test_timeouts_and_no_referrals_always(configured: Settings) -> None:
    options = auth_ldap_settings().CONNECTION_OPTIONS

    assert options[ldap.OPT_NETWORK_TIMEOUT] == 7 and options[ldap.OPT_TIMEOUT] == 7
    assert options[ldap.OPT_REFERRALS] == 0
    assert ldap.OPT_X_TLS_CACERTFILE not in options


def test_a_ca_file_is_demanded_and_applied_last(configured: Settings) -> None:
    configured.KB_LDAP_START_TLS = True
    configured.KB_LDAP_CA_FILE = "/etc/ssl/certs/corp-root-ca.pem"

    config = auth_ldap_settings()

    assert config.START_TLS is True
    options = config.CONNECTION_OPTIONS
    assert options[ldap.OPT_X_TLS_CACERTFILE] == "/etc/ssl/certs/corp-root-ca.pem"
    assert options[ldap.OPT_X_TLS_REQUIRE_CERT] == ldap.OPT_X_TLS_DEMAND
    assert list(options)[-1] == ldap.OPT_X_TLS_NEWCTX


def test_a_complete_configuration_passes_the_check(configured: Settings) -> None:
    assert configuration_problems() == []
    assert ldap_settings() == []


def test_ldap_off_is_never_a_problem(settings: Settings) -> None:
    settings.KB_LDAP_SERVER_URI = ""
    settings.KB_LDAP_GROUP_SEARCH_BASE = ""

    assert ldap_settings() == []


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        pytest.param(
            {"KB_LDAP_USER_SEARCH_BASE": ""}, "set KB_LDAP_USER_SEARCH_BASE", id="no people"
        ),
        pytest.param(
            {"KB_LDAP_GROUP_SEARCH_BASE": ""}, "set KB_LDAP_GROUP_SEARCH_BASE", id="no groups"
        ),
        pytest.param(
            {"KB_LDAP_USER_FILTER": "(uid=mia)"},
            "KB_LDAP_USER_FILTER must contain %(user)s",
            id="filter without the user",
        ),
        pytest.param(
            {"KB_LDAP_USER_DN_TEMPLATE": "uid=mia,ou=people"},
            "KB_LDAP_USER_DN_TEMPLATE must contain %(user)s",
            id="template without the user",
        ),
    ],
)
def test_what_the_check_names(configured: Settings, changes: dict[str, str], problem: str) -> None:
    for name, value in changes.items():
        setattr(configured, name, value)

    errors = ldap_settings()

    assert [error.id for error in errors] == ["kb.E033"]
    assert problem in errors[0].msg


def test_errors_are_described_in_one_line() -> None:
    error = ldap.SERVER_DOWN({"desc": "Can't contact LDAP server", "info": "Connection refused"})

    assert describe(error) == "Can't contact LDAP server: Connection refused"
