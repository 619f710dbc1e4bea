"""Start-up checks (`manage.py check`, and before every command): a prompt template or
experiment that cannot load stops the site at start, not at the first question."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from retrieval.experiments import parse_split
from retrieval.prompting import UnknownTemplate, load_template


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
