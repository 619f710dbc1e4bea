"""`Authorization: Bearer <token>` for tools calling the REST API (the lookup and its refusals
are kb.bearer_tokens', shared with the MCP server). The signed-in session, which the API
accepts too, is kb.session_auth's (shared with the chat endpoints)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from kb.bearer_tokens import LEAKED, TokenRefused, bearer_credentials, token_authenticate
from kb.models import ApiToken


class TokenLeaked(exceptions.AuthenticationFailed):
    """401 for a token revoked because it was written into a question, answer or comment:
    its owner learns why, and how to get another, on their next call."""

    default_code = "token_leaked"
    default_detail = LEAKED


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, ApiToken] | None:
        try:
            raw = bearer_credentials(get_authorization_header(request))
            if raw is None:
                return None
            token = token_authenticate(token=raw)
        except TokenRefused as refused:
            if refused.code == TokenLeaked.default_code:
                raise TokenLeaked() from None
            raise exceptions.AuthenticationFailed(refused.message) from None
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
