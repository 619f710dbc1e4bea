"""The one redaction applied to free text before it is stored or shown in the query log, the
feedback comments, the analytics page and the feedback export (issue 11, "the logs hold no
secrets").

Text is NFKC-normalised first, so full-width and compatibility forms ("ｊｏｈｎ＠example．com")
meet the same rules as ASCII; then, in an order where each step sees the placeholders of the
steps before: credentials (our API tokens always, other well-known keys, passwords written
into the text), identity numbers, contact and payment details, postal addresses, and names
(the asker's own, then other people's). Each kind leaves its placeholder, e.g. "[token]".
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # no model import at load: the log formatter imports this before the apps
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from kb.redaction.addresses import redact_addresses
from kb.redaction.contact import redact_contacts
from kb.redaction.identifiers import redact_credentials, redact_identity_numbers, token_candidates
from kb.redaction.people import redact_people

__all__ = ["leaked_tokens", "normalise", "redact", "scrub_secrets"]

# `?password=…&access_token=…` in a logged URL or form, `'password': '…'` in logged arguments:
# the value goes, the name stays.
_SECRET_PARAMETER = re.compile(
    r"(?P<name>\b(?:password|passwd|pwd|pass|token|access_token|api_key|apikey|secret"
    r"|authorization|sessionid|csrfmiddlewaretoken))(?P<sep>['\"]?\s*[=:]\s*['\"]?)"
    r"(?!\[)[^&\s'\"<>,;}]+",
    re.IGNORECASE,
)


def normalise(text: str) -> str:
    """NFKC, without what a database cannot store (NUL, lone surrogates): the result is always
    safe to write, so odd input never breaks logging."""
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return unicodedata.normalize("NFKC", text)


def redact(text: str, *, user: AbstractBaseUser | AnonymousUser | None = None) -> str:
    """`text` without secrets or personal data; see the module docstring for what goes."""
    if not text:
        return ""
    text = normalise(text)
    text = redact_credentials(text)
    text = redact_identity_numbers(text)
    text = redact_contacts(text)
    text = redact_addresses(text)
    return redact_people(text, user=user)


def leaked_tokens(text: str) -> list[str]:
    """Whole API tokens of our own format in `text`, for revocation (kb.services.api_tokens)."""
    return token_candidates(normalise(text)) if text else []


def scrub_secrets(text: str) -> str:
    """Credentials only (tokens, keys, passwords, `password=` style parameters), for every
    line the structured logs print: cheap enough for each record, unlike `redact`."""
    return _SECRET_PARAMETER.sub(r"\g<name>\g<sep>[secret]", redact_credentials(text))
