"""Start-up checks (`manage.py check`, and before every command): a prompt template or
experiment that cannot load stops the site at start, not at the first question."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError
from django.db.models import Count

from kb.directory import configuration_problems
from kb.install_keys import MIN_KEY_CHARS
from kb.llm.gguf import MODELS
from kb.selectors.documents import documents_embedded_with_other_model
from kb.session_auth import password_sign_in_enabled
from retrieval.experiments import parse_split
from retrieval.prompting import UnknownTemplate, load_template
from retrieval.translation import SUFFIXES


@register()
def prompt_templates(**_: Any) -> list[Error]:
    try:
        versions = [settings.KB_PROMPT_TEMPLATE, *parse_split(settings.KB_PROMPT_EXPERIMENT)]
    except ValueError as exc:
        return [Error(f"KB_PROMPT_EXPERIMENT: {exc}", id="kb.E001")]
    errors = []
    for version in versions:
        try:
            load_template(version)
        except UnknownTemplate as exc:
            errors.append(Error(str(exc), id="kb.E002"))
    return errors


@register()
def translation_scripts(**_: Any) -> list[Error]:
    """A misspelt script ("zh" for han) would silently translate into nothing."""
    unknown = sorted(set(settings.KB_TRANSLATE_INTO) - set(SUFFIXES))
    if not unknown:
        return []
    known = ", ".join(sorted(SUFFIXES))
    return [
        Error(f"KB_TRANSLATE_INTO: unknown {', '.join(unknown)} (known: {known})", id="kb.E003")
    ]


@register()
def translation_model_name(**_: Any) -> list[Error]:
    """A misspelt model would leave every question untranslated, with a warning per question."""
    name = settings.KB_TRANSLATE_MODEL_NAME
    if not name or name in MODELS:
        return []
    known = ", ".join(sorted(MODELS))
    return [
        Error(
            f"KB_TRANSLATE_MODEL_NAME: {name!r} is not a model kb_model can assemble "
            f"(known: {known}; empty: the answering model translates)",
            id="kb.E004",
        )
    ]


# An old default and the .env.example placeholder: both are in git for anyone to read.
PUBLISHED_PSEUDONYM_KEYS = frozenset({"dev-insecure-pseudonym-key", "change-me-32-random-bytes"})


@register()
def pseudonym_key(**_: Any) -> list[Error]:
    """A key anyone can read in the repository makes every pseudonym recomputable from the
    user's sequential id: refuse it as firmly as a missing key in production."""
    if settings.KB_LOG_PSEUDONYM_KEY in PUBLISHED_PSEUDONYM_KEYS:
        return [
            Error(
                "KB_LOG_PSEUDONYM_KEY is a published default; set a random secret "
                "or unset it to use this install's generated key",
                id="kb.E020",
            )
        ]
    return []


# The .env.example placeholder: a key in git encrypts nothing.
PUBLISHED_CONVERSATION_KEYS = frozenset({"change-me-32-random-bytes"})


@register()
def conversation_key(**_: Any) -> list[Error]:
    """A configured conversation key that is published or too short stops the site at start,
    not at the first page that shows a history. Unset, the install's generated key is used."""
    current = settings.KB_CONVERSATION_KEY
    if current in PUBLISHED_CONVERSATION_KEYS:
        return [
            Error(
                "KB_CONVERSATION_KEY is a published example; set a random secret "
                "(openssl rand -hex 32) or unset it to use this install's generated key",
                id="kb.E021",
            )
        ]
    configured = [("KB_CONVERSATION_KEY", current)] if current else []
    configured += [
        ("KB_CONVERSATION_KEY_PREVIOUS", k) for k in settings.KB_CONVERSATION_KEY_PREVIOUS
    ]
    return [
        Error(f"{name} holds a key of fewer than {MIN_KEY_CHARS} characters", id="kb.E022")
        for name, key in configured
        if len(key) < MIN_KEY_CHARS
    ]


@register()
def sign_in_methods(**_: Any) -> list[Error | Warning]:
    """Single sign-on half configured fails at start, not at someone's first sign-in; a site
    nobody can sign in to says so."""
    if settings.KB_OIDC_ISSUER:
        missing = [
            name
            for name in ("KB_OIDC_CLIENT_ID", "KB_OIDC_CLIENT_SECRET")
            if not getattr(settings, name)
        ]
        if missing:
            return [Error(f"KB_OIDC_ISSUER is set but {', '.join(missing)} is not", id="kb.E030")]
        if "openid" not in settings.KB_OIDC_SCOPES.split():
            return [
                Error("KB_OIDC_SCOPES must include openid (no ID token without it)", id="kb.E032")
            ]
    elif not password_sign_in_enabled():
        return [
            Warning(
                "KB_LOCAL_LOGIN is false and no single sign-on (KB_OIDC_ISSUER) or other "
                "password backend is configured: nobody can sign in to the pages",
                id="kb.W031",
            )
        ]
    return []


@register()
def ldap_settings(**_: Any) -> list[Error]:
    """With KB_LDAP_SERVER_URI set, the rest of the directory's description must be there: a
    sign-in that cannot find people or groups would fail only when someone tries."""
    return [Error(f"LDAP: {problem}", id="kb.E033") for problem in configuration_problems()]


@register(Tags.database)
def embedding_model(*, databases: Sequence[str] | None = None, **_: Any) -> list[Warning]:
    """Vectors another model made are compared with this model's question vectors: the scores
    mean nothing and nothing says so. A warning, not an error: the documents are still found by
    their words, and serving must start to re-embed them. Like Django's database checks it
    queries only when asked for databases: `migrate` (before every start) and `check
    --database default` ask, other commands do not."""
    if not databases:
        return []
    current = settings.KB_EMBED_MODEL
    try:
        per_model = list(
            documents_embedded_with_other_model(model=current)
            .values_list("embed_model")
            .annotate(count=Count("pk"))
            .order_by("embed_model")
        )
    except DatabaseError:  # not migrated yet (`migrate` checks before it applies)
        return []
    return [
        Warning(
            f"{count} documents were embedded with {model or 'an unknown model'}, but "
            f"KB_EMBED_MODEL is {current}: their passages are not found by meaning until "
            "`python manage.py kb_reindex` re-embeds them.",
            id="kb.W040",
        )
        for model, count in per_model
    ]
