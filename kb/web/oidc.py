"""Single sign-on with OpenID Connect: the authorization code flow with PKCE (S256), state and
nonce, the provider found by discovery from KB_OIDC_ISSUER (Authlib's Django client).

The ID token is verified (signature with the provider's published keys, issuer, audience,
nonce, expiry) before anything of it is used; the profile and groups come from it and the
userinfo endpoint. Then `kb.services.identities.identity_sign_in` owns every decision: which
account, which groups, whom to refuse.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.django_client import DjangoOAuth2App, OAuth
from django.conf import settings
from django.contrib.auth import login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET
from joserfc.errors import JoseError

from kb.models import IdentitySource
from kb.services.identities import SignInRefused, SourcePerson, identity_sign_in

log = logging.getLogger(__name__)

SESSION_BACKEND = "kb.session_auth.SessionBackend"
_NEXT_KEY = "oidc_next"
# What can go wrong between the redirect and the verified token: the provider refused or is
# unreachable, the state or PKCE verifier does not match, the ID token does not verify.
_FLOW_ERRORS = (AuthlibBaseError, JoseError, requests.RequestException, KeyError, ValueError)


def oidc_enabled() -> bool:
    return bool(settings.KB_OIDC_ISSUER)


def oidc_client() -> DjangoOAuth2App:
    """The client for the configured provider; one per configuration, so that its discovery
    document and keys are fetched once per process, not at every sign-in."""
    return _client(
        settings.KB_OIDC_ISSUER,
        settings.KB_OIDC_CLIENT_ID,
        settings.KB_OIDC_CLIENT_SECRET,
        settings.KB_OIDC_SCOPES,
    )


@functools.lru_cache(maxsize=4)
def _client(issuer: str, client_id: str, client_secret: str, scopes: str) -> DjangoOAuth2App:
    client: DjangoOAuth2App = OAuth().register(
        name="quarry",
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=f"{issuer.rstrip('/')}/.well-known/openid-configuration",
        client_kwargs={"scope": scopes, "code_challenge_method": "S256", "default_timeout": 10},
    )
    return client


def person_from_claims(
    claims: Mapping[str, Any], *, issuer: str, username_claim: str, groups_claim: str
) -> SourcePerson:
    """The person the provider vouched for, in the terms of kb.services.identities. `sub` is
    unique only within its issuer, so the subject names both."""
    groups = claims.get(groups_claim)
    if isinstance(groups, str):  # some providers send a lone group as a string
        groups = [groups]
    elif not isinstance(groups, list):  # an object's keys are not groups; a number is none
        groups = []
    username = claims.get(username_claim)
    email = claims.get("email")
    return SourcePerson(
        source=IdentitySource.OIDC,
        subject=f"{issuer} {claims['sub']}",
        username=username if isinstance(username, str) else "",
        email=email if isinstance(email, str) else "",
        groups=frozenset(name for name in groups if isinstance(name, str)),
    )


@require_GET
def oidc_login(request: HttpRequest) -> HttpResponse:
    """Off to the provider, remembering where the person was going."""
    if not oidc_enabled():
        raise Http404
    wanted = request.GET.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    request.session[_NEXT_KEY] = wanted if safe else ""
    callback = request.build_absolute_uri(reverse("oidc-callback"))
    try:
        response: HttpResponse = oidc_client().authorize_redirect(request, callback)
    except _FLOW_ERRORS as exc:
        log.warning("single sign-on: the provider's discovery failed: %s", type(exc).__name__)
        return _refused(request, _unreachable(), status=502)
    return response


@require_GET
def oidc_callback(request: HttpRequest) -> HttpResponse:
    """Back from the provider: verify, then sign in (or refuse) through the identities service."""
    if not oidc_enabled():
        raise Http404
    try:
        claims = _verified_claims(request)
    except _FLOW_ERRORS as exc:
        log.warning("single sign-on did not complete: %s: %s", type(exc).__name__, exc)
        return _refused(request, _incomplete(), status=400)
    person = person_from_claims(
        claims,
        issuer=settings.KB_OIDC_ISSUER,
        username_claim=settings.KB_OIDC_USERNAME_CLAIM,
        groups_claim=settings.KB_OIDC_GROUPS_CLAIM,
    )
    wanted = request.session.pop(_NEXT_KEY, "")
    try:
        user = identity_sign_in(person=person, mapping=settings.KB_OIDC_GROUP_MAP)
    except SignInRefused as refused:
        log.info("single sign-on refused: %s", refused)  # the message names no account
        return _refused(request, str(refused), status=403)
    login(request, user, backend=SESSION_BACKEND)
    return redirect(wanted or settings.LOGIN_REDIRECT_URL)


def _verified_claims(request: HttpRequest) -> dict[str, Any]:
    """The ID token's claims, verified, completed by the userinfo endpoint's (many providers
    send groups only there; where both name a claim, the signed token's wins). Authlib checks
    state, PKCE, signature, nonce and expiry; issuer and audience are pinned here to the
    configured ones, not to what discovery said."""
    client = oidc_client()
    token = client.authorize_access_token(
        request,
        claims_options={
            "iss": {"essential": True, "value": settings.KB_OIDC_ISSUER},
            "aud": {"essential": True, "value": settings.KB_OIDC_CLIENT_ID},
        },
    )
    if not token.get("userinfo"):
        raise ValueError("no ID token in the provider's answer (is `openid` in the scopes?)")
    claims = dict(token["userinfo"])
    if client.load_server_metadata().get("userinfo_endpoint"):
        extra = dict(client.userinfo(token=token))
        if extra.get("sub") != claims["sub"]:
            raise ValueError("userinfo is about someone else than the ID token")
        claims = {**extra, **claims}
    return claims


def _refused(request: HttpRequest, message: str, *, status: int) -> HttpResponse:
    context = {"message": message, "sso_name": settings.KB_OIDC_PROVIDER_NAME}
    return render(request, "registration/sso_refused.html", context, status=status)


def _unreachable() -> str:
    name = settings.KB_OIDC_PROVIDER_NAME
    return f"{name[:1].upper()}{name[1:]} cannot be reached. Try again later."


def _incomplete() -> str:
    return (
        f"Signing in with {settings.KB_OIDC_PROVIDER_NAME} did not complete "
        "(it was refused, took too long, or was opened twice). Try again."
    )
