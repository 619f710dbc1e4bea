"""`Authorization: Bearer <token>`: who a Quarry API token belongs to, and the refusals its
caller hears. One lookup and one wording for every interface that takes the tokens (the REST
and OpenAI-compatible APIs' kb.bearer_auth, the MCP server's kb.mcp_server.auth), so none can
be probed for something another does not reveal."""

from __future__ import annotations

from dataclasses import dataclass

from kb.models import ApiToken
from kb.selectors.api_tokens import api_token_get_active, api_token_revoked_as_leaked
from kb.services.api_tokens import api_token_touch

NOT_PROVIDED = "Authentication credentials were not provided."
MALFORMED = "Malformed Authorization header."
# One message for unknown, revoked and deactivated: nothing to probe.
INVALID = "Invalid or revoked token."
LEAKED = (
    "This token was revoked automatically because it appeared in a logged question, "
    "answer or feedback comment, where others could read it. Ask an administrator for a "
    "new one (`manage.py kb_user USERNAME --token`), and never paste tokens into questions."
)


@dataclass(frozen=True)
class TokenRefused(Exception):
    """Authentication failed: `code` and `message` as the caller is told (HTTP 401)."""

    code: str
    message: str


def bearer_credentials(header: bytes) -> str | None:
    """The token of an Authorization header; None when it is absent or not a bearer one."""
    parts = header.split()
    if not parts or parts[0].lower() != b"bearer":
        return None
    if len(parts) != 2:
        raise TokenRefused("authentication_failed", MALFORMED)
    return parts[1].decode("latin-1")


def token_authenticate(*, token: str) -> ApiToken:
    """The live token (its user active), its use recorded; TokenRefused otherwise."""
    found = api_token_get_active(token=token)
    if found is None:
        if api_token_revoked_as_leaked(token=token):
            # Only its holder can ask (the token is the proof), so its holder learns why.
            raise TokenRefused("token_leaked", LEAKED)
        raise TokenRefused("authentication_failed", INVALID)
    api_token_touch(token=found)
    return found
