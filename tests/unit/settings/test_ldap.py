"""The KB_LDAP_* settings: off by default; set, they add the directory backend after the local
one with django-axes still first; the group map and group type are parsed strictly."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from kb.settings import env
from tests.support.environment import unconfigured_environ
from tests.support.paths import ROOT

pytestmark = pytest.mark.unit
AXES = "axes.backends.AxesStandaloneBackend"
LOCAL = "django.contrib.auth.backends.ModelBackend"
SESSION = "kb.session_auth.SessionBackend"  # keeps single sign-on sessions
DIRECTORY = "kb.web.directory_signin.DirectoryBackend"


def base_settings(**environ: str) -> dict[str, object]:
    code = (
        "import json; from kb.settings import base as s; "
        "print(json.dumps({'backends': s.AUTHENTICATION_BACKENDS, 'uri': s.KB_LDAP_SERVER_URI, "
        "'filter': s.KB_LDAP_USER_FILTER, 'type': s.KB_LDAP_GROUP_TYPE, "
        "'map': s.KB_LDAP_GROUP_MAP, 'tls': s.KB_LDAP_START_TLS, "
        "'timeout': s.KB_LDAP_TIMEOUT_SECONDS}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=unconfigured_environ(**environ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


def test_ldap_is_off_by_default() -> None:
    loaded = base_settings()

    assert loaded == {
        "backends": [AXES, LOCAL, SESSION],
        "uri": "",
        "filter": "(uid=%(user)s)",
        "type": "groupofnames",
        "map": None,
        "tls": False,
        "timeout": 10,
    }


def test_a_server_uri_adds_the_directory_backend_after_axes_and_the_local_accounts() -> None:
    loaded = base_settings(
        KB_LDAP_SERVER_URI="ldap://dc1.corp.example",
        KB_LDAP_START_TLS="true",
        KB_LDAP_USER_FILTER="(sAMAccountName=%(user)s)",
        KB_LDAP_GROUP_TYPE="nestedActiveDirectory",
        KB_LDAP_GROUP_MAP="Quarry HR=hr, Quarry Engineering = engineering",
    )

    assert loaded["backends"] == [AXES, LOCAL, SESSION, DIRECTORY]
    assert loaded["tls"] is True
    assert loaded["filter"] == "(sAMAccountName=%(user)s)"
    assert loaded["type"] == "nestedactivedirectory"
    assert loaded["map"] == {"Quarry HR": "hr", "Quarry Engineering": "engineering"}


def test_an_unknown_group_type_stops_start_up() -> None:
    code = "import kb.settings.base"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=unconfigured_environ(KB_LDAP_GROUP_TYPE="memberOf"),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "KB_LDAP_GROUP_TYPE must be one of" in result.stderr


def test_an_unset_mapping_is_none_not_an_empty_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KB_SOME_MAP", raising=False)
    assert env.env_mapping("KB_SOME_MAP") is None
    monkeypatch.setenv("KB_SOME_MAP", " eng-all = engineering ,Domain Users=everyone ")
    assert env.env_mapping("KB_SOME_MAP") == {"eng-all": "engineering", "Domain Users": "everyone"}


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("engineering", id="no equals sign"),
        pytest.param("=engineering", id="no source name"),
        pytest.param("eng-all=", id="no Quarry name"),
    ],
)
def test_a_malformed_mapping_stops_start_up(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("KB_SOME_MAP", f"hr=hr,{raw}")

    with pytest.raises(ImproperlyConfigured, match="KB_SOME_MAP takes source=quarry pairs"):
        env.env_mapping("KB_SOME_MAP")
