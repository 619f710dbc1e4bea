"""The sign-in pages (the site's and the admin's) offer what is configured: the password form
while a backend checks passwords (KB_LOCAL_LOGIN, a directory), the single sign-on button while
KB_OIDC_ISSUER is set; and how the provider's claims become a person."""

from __future__ import annotations

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from kb.models import IdentitySource
from kb.web.oidc import person_from_claims

pytestmark = [pytest.mark.unit, pytest.mark.django_db]

WITHOUT_PASSWORDS = ["axes.backends.AxesStandaloneBackend", "kb.session_auth.SessionBackend"]
PAGES = ["/accounts/login/", "/admin/login/"]


@pytest.fixture
def sso(settings: Settings) -> None:
    settings.KB_OIDC_ISSUER = "http://127.0.0.1:9"  # never contacted by these tests
    settings.KB_OIDC_CLIENT_ID = "quarry"
    settings.KB_OIDC_CLIENT_SECRET = "secret"
    settings.KB_OIDC_PROVIDER_NAME = "Acme Login"


@pytest.mark.parametrize("url", PAGES)
def test_by_default_there_is_the_password_form_and_no_sso_button(url: str) -> None:
    page = Client().get(url).content.decode()

    assert 'name="password"' in page
    assert "/accounts/oidc/login/" not in page


@pytest.mark.parametrize("url", PAGES)
def test_with_sso_both_are_offered(url: str, sso: None) -> None:
    page = Client().get(url).content.decode()

    assert 'name="password"' in page
    assert "Sign in with Acme Login" in page and "/accounts/oidc/login/" in page


@pytest.mark.parametrize("url", PAGES)
def test_without_local_passwords_only_the_sso_button_is_left(
    url: str, sso: None, settings: Settings
) -> None:
    settings.AUTHENTICATION_BACKENDS = WITHOUT_PASSWORDS

    page = Client().get(url).content.decode()

    assert 'name="password"' not in page
    assert "Sign in with Acme Login" in page


def test_another_password_backend_keeps_the_form_without_local_passwords(
    sso: None, settings: Settings
) -> None:
    settings.AUTHENTICATION_BACKENDS = [*WITHOUT_PASSWORDS, "django_auth_ldap.backend.LDAPBackend"]

    page = Client().get("/accounts/login/").content.decode()

    assert 'name="password"' in page


def test_the_sso_button_keeps_where_the_person_was_going(sso: None) -> None:
    page = Client().get("/accounts/login/?next=/manage/").content.decode()

    assert "/accounts/oidc/login/?next=/manage/" in page


def test_sso_urls_are_not_found_while_it_is_off() -> None:
    assert Client().get("/accounts/oidc/login/").status_code == 404
    assert Client().get("/accounts/oidc/callback/?code=x&state=y").status_code == 404


def test_the_person_is_named_by_issuer_and_sub_and_odd_claims_are_ignored() -> None:
    claims = {
        "sub": "248289761001",
        "preferred_username": "mia",
        "email": ["not", "a", "string"],
        "roles": ["eng-all", 7, None, "hr"],
    }

    person = person_from_claims(
        claims,
        issuer="https://idp.example",
        username_claim="preferred_username",
        groups_claim="roles",
    )

    assert person.source == IdentitySource.OIDC
    assert person.subject == "https://idp.example 248289761001"
    assert (person.username, person.email) == ("mia", "")
    assert person.groups == {"eng-all", "hr"}


def test_a_lone_group_sent_as_a_string_counts_and_a_missing_claim_is_no_group() -> None:
    def groups(claims: dict[str, object]) -> frozenset[str]:
        full = {"sub": "1", **claims}
        return person_from_claims(
            full, issuer="i", username_claim="name", groups_claim="groups"
        ).groups

    assert groups({"groups": "eng-all"}) == {"eng-all"}
    assert groups({}) == frozenset()
