"""`Authorization: Bearer <token>` for tools calling the REST API. The signed-in session, which
the API accepts too, is kb.session_auth's (shared with the chat endpoints)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from kb.models import ApiToken
from kb.selectors.api_tokens import api_token_get_active, api_token_revoked_as_leaked
from kb.services.api_tokens import api_token_touch


class TokenLeaked(exceptions.AuthenticationFailed):
    """401 for a token revoked because it was written into a question, answer or comment:
    its owner learns why, and how to get another, on their next call."""

    default_code = "token_leaked"
    default_detail = (
        "This token was revoked automatically because it appeared in a logged question, "
        "answer or feedback comment, where others could read it. Ask an administrator for a "
        "new one (`manage.py kb_user USERNAME --token`), and never paste tokens into questions."
    )


class BearerTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        token = api_token_get_active(token=parts[1].decode("latin-1"))
        if token is None:
            if api_token_revoked_as_leaked(token=parts[1].decode("latin-1")):
                raise TokenLeaked()  # only its holder can ask: the token is the proof
            # One message for unknown, revoked and deactivated: nothing to probe.
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        api_token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
