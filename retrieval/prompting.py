"""Versioned prompt templates (retrieval/prompts/<version>.toml) and the messages built from
them. Passages are fenced as data: anything in them that looks like our own markup is
neutralised, so a document cannot close its passage and speak as the system."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from kb.llm.chat import Message
from kb.text.script import language_of
from retrieval.types import Passage

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
# What a template's {language} says: the question's language (kb.text.script.language_of), by
# name, since a small model told "the language of the question" still answers a Russian
# question about English-looking passages in English.
LANGUAGE_NAMES = {"en": "English", "zh": "Chinese", "ru": "Russian"}
# Turns of the conversation given to the condense step; older turns rarely matter.
HISTORY_TURNS = 6


class UnknownTemplate(ValueError):
    pass


@dataclass(frozen=True)
class PromptTemplate:
    version: str
    system: str
    user: str
    passage: str
    condense: str


@cache
def load_template(version: str) -> PromptTemplate:
    path = PROMPTS_DIR / f"{version}.toml"
    if not version.replace("-", "").replace("_", "").isalnum() or not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROMPTS_DIR.glob("*.toml")))
        raise UnknownTemplate(f"No prompt template {version!r} (known: {known}).")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    if data.get("version") != version:
        raise UnknownTemplate(f"{path.name} declares version {data.get('version')!r}.")
    return PromptTemplate(
        version=version,
        system=data["system"],
        user=data["user"],
        passage=data["passage"],
        condense=data["condense"],
    )


def answer_messages(
    template: PromptTemplate, question: str, passages: Sequence[Passage]
) -> list[Message]:
    blocks = "\n\n".join(_passage_block(template, p) for p in passages)
    user = template.user.format(
        passages=blocks,
        question=neutralise(question),
        language=LANGUAGE_NAMES[language_of(question)],
    )
    return [{"role": "system", "content": template.system}, {"role": "user", "content": user}]


def condense_messages(
    template: PromptTemplate, history: Sequence[Message], question: str
) -> list[Message]:
    lines = [f"{m['role']}: {neutralise(m['content'])}" for m in history[-HISTORY_TURNS:]]
    conversation = "\n".join(lines)
    user = f"Conversation:\n{conversation}\n\nLast question: {neutralise(question)}"
    return [{"role": "system", "content": template.condense}, {"role": "user", "content": user}]


def _passage_block(template: PromptTemplate, passage: Passage) -> str:
    page = f' page="{passage.page}"' if passage.page else ""
    return template.passage.format(
        n=passage.n,
        title=_attribute(passage.title),
        page=page,
        text=neutralise(passage.text),
    )


def neutralise(text: str) -> str:
    """Untrusted text may not contain our passage tags (it could close one and pretend to be
    outside the data). Braces are left alone: str.format does not re-read substituted text."""
    return text.replace("<passage", "‹passage").replace("</passage", "‹/passage")


def _attribute(text: str) -> str:
    return neutralise(text).replace('"', "'").replace("\n", " ")
