"""What the OpenAPI document says about authentication: every endpoint takes the bearer tokens
of `kb_user --token` (drf-spectacular cannot see that from our authentication class), and
the signed-in session of the pages."""

from __future__ import annotations

from typing import Any

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]  # drf-spectacular's base class is untyped
    target_class = "kb.bearer_auth.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token: `python manage.py kb_user NAME --token` prints one.",
        }


class SessionWithCsrfScheme(SessionScheme):  # type: ignore[no-untyped-call]  # drf-spectacular's base class is untyped
    """The signed-in session, as drf-spectacular describes Django's own (cookieAuth)."""

    target_class = "kb.session_auth.SessionWithCsrf"
