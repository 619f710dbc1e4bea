"""Template context every page gets: what the navigation shows, and how one may sign in."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest

from kb import access
from kb.session_auth import password_sign_in_enabled
from kb.web.http import is_analyst
from kb.web.oidc import oidc_enabled


def navigation(request: HttpRequest) -> dict[str, Callable[[], bool]]:
    """A callable, so the query runs only on pages that render the navigation."""
    return {
        "nav_may_manage": lambda: access.may_manage(request.user),
        "nav_may_analyse": lambda: is_analyst(request.user),
    }


def sign_in(request: HttpRequest) -> dict[str, object]:
    """For the sign-in pages (the site's and the admin's): the password form only while a
    backend checks passwords, the single sign-on button only while it is configured."""
    return {
        "password_sign_in": password_sign_in_enabled(),
        "sso_name": settings.KB_OIDC_PROVIDER_NAME if oidc_enabled() else "",
    }
