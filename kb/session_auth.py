"""The signed-in session: for calls made by the pages, with CSRF failures said as such (shared by
the REST API, settings: REST_FRAMEWORK, and the chat endpoints, kb.web.chat, so it belongs to
neither); and the authentication backend that keeps sessions opened by single sign-on."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest
from rest_framework import exceptions, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request


class CsrfFailed(exceptions.APIException):
    """A 403 that says what happened: DRF's own CSRF error is a PermissionDenied, which the
    API's error handler answers as 404 (right for objects, confusing for a stale page or a
    forged form)."""

    status_code = status.HTTP_403_FORBIDDEN
    default_code = "csrf_failed"
    default_detail = "The page is out of date (security token). Reload it and try again."


class SessionWithCsrf(SessionAuthentication):
    """A session request that fails CSRF is a 403 `csrf_failed`, never the 404 the API gives
    for objects the caller may not see."""

    def enforce_csrf(self, request: Request) -> None:
        try:
            super().enforce_csrf(request)
        except exceptions.PermissionDenied:
            raise CsrfFailed() from None


class SessionBackend(ModelBackend):
    """Checks no password: a person signed in by the identity provider keeps their session
    (and a staff member their admin permissions) while local passwords are off
    (KB_LOCAL_LOGIN=false removes ModelBackend). Inactive accounts lose their session at their
    next request, as with ModelBackend."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        return None


# Backends in AUTHENTICATION_BACKENDS that never check a password.
_NOT_PASSWORD_BACKENDS = frozenset(
    {"axes.backends.AxesStandaloneBackend", "kb.session_auth.SessionBackend"}
)


def password_sign_in_enabled() -> bool:
    """Whether any configured backend checks passwords (local accounts, a directory): the
    sign-in pages show their username and password form only then."""
    return any(path not in _NOT_PASSWORD_BACKENDS for path in settings.AUTHENTICATION_BACKENDS)
