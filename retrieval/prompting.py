"""Versioned prompt templates (retrieval/prompts/<version>.toml) and the messages built from
them. Passages are fenced as data: anything in them that looks like our own markup is
neutralised, so a document cannot close its passage and speak as the system."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from kb.llm.chat import Message
from kb.text.script import CYRILLIC_SCRIPT, HAN_SCRIPT, LATIN_SCRIPT, script_of
from retrieval.types import Passage

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
# A template's {language}: the question's language by name, since a small model told only
# "the language of the question" answers a Russian question about English-looking passages in
# English; named only where the script says which of the languages Quarry serves it is.
SAME_LANGUAGE = "the language of the question"
# Words of nearly every English question and of no other language written in Latin letters.
_ENGLISH = re.compile(
    r"\b(?:the|is|are|does|how|what|which|when|where|why|who|can|should|my|our|your|with|"
    r"and|of|to|for)\b",
    re.IGNORECASE,
)
# Cyrillic letters Russian does not use (Ukrainian, Belarusian, Serbian, Macedonian).
_NOT_RUSSIAN = re.compile("[іїєґўјљњћџѓќѕІЇЄҐЎЈЉЊЋЏЃЌЅ]")
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
    template: PromptTemplate, question: str, passages: Sequence[Passage], *, asked: str = ""
) -> list[Message]:
    """`asked`: the question as its asker wrote it, when `question` is the model's standalone
    rewrite of a follow-up (which may have changed its language): it decides the language the
    answer is asked for."""
    blocks = "\n\n".join(_passage_block(template, p) for p in passages)
    user = template.user.format(
        passages=blocks,
        question=neutralise(question),
        language=reply_language(asked or question),
    )
    return [{"role": "system", "content": template.system}, {"role": "user", "content": user}]


def reply_language(question: str) -> str:
    """The language the answer prompt asks for: Chinese for a question in Han script (kana
    make it Japanese: not named), Russian for one in Cyrillic without letters Russian lacks,
    English for a Latin-script one with English words, else SAME_LANGUAGE."""
    script = script_of(question)
    if script == HAN_SCRIPT:
        return "Chinese"
    if script == CYRILLIC_SCRIPT and not _NOT_RUSSIAN.search(question):
        return "Russian"
    if script == LATIN_SCRIPT and _ENGLISH.search(question):
        return "English"
    return SAME_LANGUAGE


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
