"""Single sign-on against a real OpenID Connect provider (tests/support/oidc_provider.py) on
loopback: the whole redirect flow with PKCE, as a browser walks it, against the live site.
People are created at their first sign-in, their groups follow the provider at every sign-in,
deactivated people and names of local accounts are refused with a page that says why."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from kb.models import ExternalIdentity
from kb.services.identities import identity_deactivate
from tests.support.environment import unconfigured_environ
from tests.support.factories import CollectionFactory, GroupFactory, UserFactory
from tests.support.oidc_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    PASSWORD,
    OidcProvider,
    oidc_provider,
    sign_in,
)
from tests.support.paths import ROOT
from tests.support.ports import free_port
from tests.support.processes import manage, wait_until_serving

pytestmark = pytest.mark.integration

GROUP_MAP = {"eng-all": "engineering", "hr-staff": "hr"}


@pytest.fixture(scope="module")
def provider(
    live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OidcProvider]:
    callback = f"{live_server.url}/accounts/oidc/callback/"
    with oidc_provider(tmp_path_factory.mktemp("oidc"), redirect_uri=callback) as running:
        yield running


@pytest.fixture
def site(live_server: LiveServer, provider: OidcProvider, settings: Settings) -> str:
    """The live site with single sign-on through the provider, and two collections: one for
    engineering, one for HR."""
    settings.KB_OIDC_ISSUER = provider.issuer
    settings.KB_OIDC_CLIENT_ID = CLIENT_ID
    settings.KB_OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.KB_OIDC_GROUP_MAP = GROUP_MAP
    settings.KB_OIDC_PROVIDER_NAME = "Test IdP"
    settings.AXES_ENABLED = True  # as in production: throttling sees every sign-in
    provider.people.clear()
    CollectionFactory.create(name="Engineering", reader_groups=[GroupFactory(name="engineering")])
    CollectionFactory.create(name="HR", reader_groups=[GroupFactory(name="hr")])
    return str(live_server.url)


def readable(browser: requests.Session, site: str) -> set[str]:
    """What the signed-in session may read, as the pages' API calls see it."""
    response = browser.get(f"{site}/api/v1/collections", timeout=10)
    assert response.status_code == 200, response.text
    return {collection["name"] for collection in response.json()["results"]}


def signed_in_as(browser: requests.Session, site: str) -> str | None:
    response = browser.get(f"{site}/api/v1/me", timeout=10)
    return response.json()["username"] if response.status_code == 200 else None


def test_first_sign_in_creates_the_account_with_the_mapped_groups(
    site: str, provider: OidcProvider
) -> None:
    provider.set_person("mia", sub="u-1001", groups=["eng-all", "Domain Users"])
    browser = requests.Session()

    landed = sign_in(site, "mia", browser=browser)

    assert landed.status_code == 200 and landed.url == f"{site}/"
    assert signed_in_as(browser, site) == "mia"
    assert readable(browser, site) == {"Engineering"}
    user = User.objects.get(username="mia")
    assert set(user.groups.values_list("name", flat=True)) == {"engineering"}
    assert not user.has_usable_password() and not user.is_staff
    assert user.external_identity.subject == f"{provider.issuer} u-1001"


def test_a_group_changed_at_the_provider_changes_access_at_the_next_sign_in(
    site: str, provider: OidcProvider
) -> None:
    provider.set_person("mia", sub="u-1001", groups=["eng-all"])
    first = requests.Session()
    sign_in(site, "mia", browser=first)
    assert readable(first, site) == {"Engineering"}

    provider.set_person("mia", sub="u-1001", groups=["hr-staff"])  # moved to HR at the IdP
    second = requests.Session()
    sign_in(site, "mia", browser=second)

    assert readable(second, site) == {"HR"}
    assert readable(first, site) == {"HR"}  # groups belong to the account, not the session
    assert User.objects.filter(username="mia").count() == 1


def test_signing_in_again_in_the_same_browser_reads_the_groups_again(
    site: str, provider: OidcProvider
) -> None:
    """The provider remembers the person (no form the second time); the groups are still its
    current ones."""
    provider.set_person("mia", sub="u-1001", groups=["eng-all", "hr-staff"])
    browser = requests.Session()
    sign_in(site, "mia", browser=browser)
    provider.set_person("mia", sub="u-1001", groups=[])  # removed from every group

    again = sign_in(site, "mia", browser=browser)

    assert again.status_code == 200 and signed_in_as(browser, site) == "mia"
    assert readable(browser, site) == set()


def test_a_deactivated_account_is_refused_with_a_page_that_says_so(
    site: str, provider: OidcProvider
) -> None:
    provider.set_person("mia", sub="u-1001", groups=["eng-all"])
    sign_in(site, "mia")
    identity_deactivate(user=User.objects.get(username="mia"))
    browser = requests.Session()

    refused = sign_in(site, "mia", browser=browser)

    assert refused.status_code == 403
    assert "This account is deactivated." in refused.text
    assert signed_in_as(browser, site) is None


def test_a_local_account_with_the_same_name_is_never_linked(
    site: str, provider: OidcProvider
) -> None:
    local = UserFactory.create(username="admin", is_staff=True, is_superuser=True)
    local.set_password("local-password")
    local.save()
    provider.set_person("admin", sub="u-666", groups=["eng-all"])  # anyone may pick a name there
    browser = requests.Session()

    refused = sign_in(site, "admin", browser=browser)

    assert refused.status_code == 403
    assert "already exists here and is not linked" in refused.text
    assert signed_in_as(browser, site) is None
    assert not ExternalIdentity.objects.exists()
    local.refresh_from_db()
    assert local.has_usable_password() and local.groups.count() == 0


def test_a_wrong_password_at_the_provider_signs_no_one_in(
    site: str, provider: OidcProvider
) -> None:
    provider.set_person("mia", sub="u-1001", groups=["eng-all"])
    browser = requests.Session()

    page = sign_in(site, "mia", "guess", browser=browser)

    assert "Wrong login or password." in page.text
    assert signed_in_as(browser, site) is None
    assert not User.objects.filter(username="mia").exists()


def test_quarry_sends_pkce_and_the_provider_refuses_a_request_without_it(
    site: str, provider: OidcProvider
) -> None:
    browser = requests.Session()
    to_provider = browser.get(f"{site}/accounts/oidc/login/", allow_redirects=False, timeout=10)
    url = urlsplit(to_provider.headers["Location"])
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["state"] and query["nonce"]

    del query["code_challenge"], query["code_challenge_method"]
    stripped = browser.get(url._replace(query=urlencode(query)).geturl(), timeout=10)

    assert stripped.status_code == 400  # back at Quarry with the provider's error
    assert "did not complete" in stripped.text
    assert signed_in_as(browser, site) is None


def test_a_code_taken_on_its_way_back_is_useless_without_the_pkce_verifier(
    site: str, provider: OidcProvider
) -> None:
    provider.set_person("mia", sub="u-1001", groups=["eng-all"])
    browser = requests.Session()
    form = browser.get(f"{site}/accounts/oidc/login/", timeout=10)
    step = browser.post(
        f"{form.url}/login",  # the provider's sign-in form posts there
        data={"login": "mia", "password": PASSWORD},
        allow_redirects=False,
        timeout=10,
    )
    while not step.headers["Location"].startswith(site):  # the provider's own redirects
        step = browser.get(urljoin(step.url, step.headers["Location"]), allow_redirects=False)
    code = parse_qs(urlsplit(step.headers["Location"]).query)["code"][0]
    token_endpoint = requests.get(
        f"{provider.issuer}/.well-known/openid-configuration", timeout=10
    ).json()["token_endpoint"]

    stolen = requests.post(
        token_endpoint,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": f"{site}/accounts/oidc/callback/",
            "code_verifier": "a-guess-" + "x" * 40,
        },
        auth=(CLIENT_ID, CLIENT_SECRET),  # even with the client's own secret
        timeout=10,
    )

    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    # The same code, brought back to Quarry, which holds the verifier: it works.
    browser.get(step.headers["Location"], timeout=10)
    assert signed_in_as(browser, site) == "mia"


def test_a_callback_that_no_sign_in_started_is_refused(site: str) -> None:
    browser = requests.Session()

    forged = browser.get(f"{site}/accounts/oidc/callback/?code=stolen&state=guessed", timeout=10)

    assert forged.status_code == 400 and "did not complete" in forged.text
    assert signed_in_as(browser, site) is None


def test_where_the_person_was_going_is_kept_but_only_on_this_site(
    site: str, provider: OidcProvider
) -> None:
    provider.set_person("mia", sub="u-1001", groups=["eng-all"])

    kept = sign_in(site, "mia", next_url="/api/v1/me")
    elsewhere = sign_in(site, "mia", next_url="https://evil.example/")

    assert kept.url == f"{site}/api/v1/me" and kept.json()["username"] == "mia"
    assert elsewhere.url == f"{site}/"


def test_an_unreachable_provider_gets_a_page_not_an_error(
    live_server: LiveServer, settings: Settings
) -> None:
    settings.KB_OIDC_ISSUER = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings.KB_OIDC_PROVIDER_NAME = "Acme Login"

    response = requests.get(f"{live_server.url}/accounts/oidc/login/", timeout=10)

    assert response.status_code == 502
    assert "Acme Login cannot be reached" in response.text


def test_without_local_passwords_a_password_is_refused_and_single_sign_on_works(
    site: str, provider: OidcProvider, settings: Settings
) -> None:
    """KB_LOCAL_LOGIN=false (tests/unit/settings: it drops ModelBackend) as it is configured."""
    settings.AUTHENTICATION_BACKENDS = [
        "axes.backends.AxesStandaloneBackend",
        "kb.session_auth.SessionBackend",
    ]
    local = UserFactory.create(username="olga", is_staff=True)
    local.set_password("right-password")
    local.save()
    provider.set_person("mia", sub="u-1001", groups=["eng-all"])
    browser = requests.Session()
    page = browser.get(f"{site}/accounts/login/", timeout=10)
    assert 'name="password"' not in page.text and "Sign in with Test IdP" in page.text

    for url in (f"{site}/accounts/login/", f"{site}/admin/login/"):
        form = browser.get(url, timeout=10)
        token = browser.cookies.get("csrftoken")
        refused = browser.post(
            url,
            data={"username": "olga", "password": "right-password", "csrfmiddlewaretoken": token},
            headers={"Referer": form.url},
            timeout=10,
        )
        assert refused.status_code == 200 and signed_in_as(browser, site) is None, url

    sign_in(site, "mia", browser=browser)
    assert signed_in_as(browser, site) == "mia"


@pytest.mark.slow
def test_configured_from_the_environment_as_an_operator_runs_it(tmp_path: Path) -> None:
    """`kb_serve` (what `make run` starts) with KB_OIDC_* and KB_LOCAL_LOGIN=false in its
    environment: single sign-on works, a password does not."""
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    with oidc_provider(tmp_path, redirect_uri=f"{site}/accounts/oidc/callback/") as idp:
        idp.set_person("mia", sub="u-1001", groups=["eng-all", "unmapped"])
        env = unconfigured_environ(
            KB_DATA_DIR=str(tmp_path / "data"),
            PORT=str(port),
            DJANGO_SETTINGS_MODULE="kb.settings.base",
            KB_LOCAL_LOGIN="false",
            KB_OIDC_ISSUER=idp.issuer,
            KB_OIDC_CLIENT_ID=CLIENT_ID,
            KB_OIDC_CLIENT_SECRET=CLIENT_SECRET,
            KB_OIDC_GROUP_MAP="eng-all=engineering",
            KB_OIDC_PROVIDER_NAME="Test IdP",
        )
        manage(env, "migrate", "--noinput")
        manage(env, "kb_user", "olga", "--password", "right-password")
        with (tmp_path / "kb_serve.log").open("wb") as log:
            server = subprocess.Popen(
                [sys.executable, "manage.py", "kb_serve"], cwd=ROOT, env=env, stdout=log, stderr=log
            )
        try:
            wait_until_serving(
                site, server, timeout=120, output=(tmp_path / "kb_serve.log").read_text
            )
            browser = requests.Session()
            form = browser.get(f"{site}/accounts/login/", timeout=10)
            refused = browser.post(
                form.url,
                data={
                    "username": "olga",
                    "password": "right-password",
                    "csrfmiddlewaretoken": browser.cookies["csrftoken"],
                },
                timeout=10,
            )
            assert refused.status_code == 200 and signed_in_as(browser, site) is None

            sign_in(site, "mia", browser=browser)
            me = browser.get(f"{site}/api/v1/me", timeout=10).json()
            assert (me["username"], me["groups"]) == ("mia", ["engineering"])
        finally:
            server.terminate()
            server.wait(timeout=30)
