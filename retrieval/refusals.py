"""Why a question was refused, and what the refusal tells the asker instead.

A refusal names the closest sources retrieval found (already post-checked: readable by the
asker), so the user can read them and the admin sees the gap on the analytics page, and the
words of the question those passages do not contain ("The closest passages do not mention
“Visio”."): the documents cover the topic, but not that. It is written in the question's
language (English, Chinese or Russian).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from enum import StrEnum

from kb.redaction import normalise, redact
from kb.text.script import (
    LATIN_SCRIPT,
    OTHER_SCRIPT,
    is_latin_script,
    language_of,
    script_of,
)
from kb.text.sparse import tokenize, words_and_terms
from retrieval.types import Passage

NOT_FOUND = "Not found in the knowledge base."
CLOSEST_SOURCES = 3
# A word that starts the question, one of its sentences, lines or list items, or follows a
# colon is capitalised for that alone; so are the days and months.
_SENTENCE_START = re.compile(r"(?:^|[.!?:。！？：]\s+|\n)[\W_]*?(\w+)")
_CALENDAR = frozenset(n.lower() for n in (*calendar.day_name, *calendar.month_name) if n)
MOST_MISSING = 4  # more of the question's words missing: the passages are barely on its topic


@dataclass(frozen=True)
class Wording:
    not_found: str
    missing: str  # the sentence naming the words the passages lack ({words})
    quote: str  # one word, quoted
    comma: str  # between words of several
    last: str  # before the last word of several
    found: str  # the sentence naming the closest sources ({items})
    item: str
    separator: str


_WORDING = {
    "en": Wording(
        NOT_FOUND,
        "The closest passages do not mention {words}.",
        "“{}”",
        ", ",
        " or ",
        "The closest sources found: {items}.",
        "“{section}” in {title}",
        "; ",
    ),
    "zh": Wording(
        "知识库中没有找到答案。",
        "最接近的段落没有提到{words}。",
        "“{}”",
        "、",
        "或",
        "最接近的资料：{items}。",
        "《{title}》中的“{section}”",
        "；",
    ),
    "ru": Wording(
        "В базе знаний ответа нет.",
        "В ближайших фрагментах нет упоминаний {words}.",
        "«{}»",
        ", ",
        " или ",
        "Ближайшие источники: {items}.",
        "«{section}» в {title}",
        "; ",
    ),
}


class RefusalReason(StrEnum):
    NONE = ""
    NO_EVIDENCE = "no_evidence"  # no readable passage close enough to the question
    NOT_ANSWERABLE = "not_answerable"  # the answerability check: the passages do not hold it
    DECLINED = "declined"  # the model said, in its own words, that it does not know
    UNSUPPORTED = "unsupported"  # no sentence of the answer is supported by its sources
    NOT_COVERED = "not_covered"  # it names something none of the passages found mentions


def closest_sources(passages: Sequence[Passage]) -> list[Passage]:
    """The best-ranked passages, one per document section."""
    closest: list[Passage] = []
    seen: set[tuple[int, str]] = set()
    for passage in passages:
        key = (passage.document_id, passage.section)
        if key not in seen:
            seen.add(key)
            closest.append(passage)
    return closest[:CLOSEST_SOURCES]


def missing_words(question: str, passages: Sequence[Passage]) -> list[str]:
    """The names in the question (products, services, identifiers) that none of the passages
    contains, compared as the sparse index compares words (stemmed, Chinese segmented), in the
    question's order: what a near miss asks about that the documents do not cover. Ordinary
    words are not named, since an answerable question paraphrases its page with words the
    page lacks; nor are numbers or words of scripts the index neither stems nor segments.

    A word is judged only against passages in its own script, Latin words also against
    passages in the question's (a Chinese question's "Visio" against English ones, "Slack"
    against Chinese ones).
    None are named when a question in the passages' script shares no word with them (nothing
    is contrasted) or when they lack more than MOST_MISSING names.
    Only words that survive redaction are named: the refusal is logged, and a word quoted on
    its own has lost the context ("my password is …") redaction needs to recognise it."""
    return _missing(question, passages) or []


def missing_names(
    question: str, translations: Sequence[str], passages: Sequence[Passage]
) -> list[str]:
    """`missing_words` of the question as asked, else of the first of its translations searched
    that lacks a name: a Russian question's "Рутокен" cannot be compared with English passages,
    its English translation's "Rutoken" can. A translation is read only where the question as
    asked named nothing without holding back (too many names lacking, nothing shared), only
    for names the question does not write itself (those were judged in their own words), and
    not at all for a question that redaction changes: the model's wording may have lost the
    context ("my password is …") that let redaction see a secret."""
    asked = _missing(question, passages)
    if asked is None or asked or redact(question) != normalise(question):
        return asked or []
    written = {term for _, term in words_and_terms(question)}
    for form in translations:
        if found := _missing(form, passages, already_judged=written, own=script_of(question)):
            return found
    return []


def _missing(
    question: str,
    passages: Sequence[Passage],
    *,
    already_judged: AbstractSet[str] = frozenset(),
    own: str = "",
) -> list[str] | None:
    """missing_words, or None when it holds back (nothing shared, too many names lacking);
    names whose term is in `already_judged` are not named, nor, in a translation, words in
    the script of the question it translates (`own`): those are the asker's words copied, or
    pieces of them ("unattended" came back as "无attended的 Debian 安装")."""
    if not passages:
        return []
    scripts = {script_of(p.text) for p in passages}
    present = {term for p in passages for term in tokenize(p.text)}
    latin_question = is_latin_script(question)
    own_script = script_of(question) in scripts
    judged: dict[str, str] = {}  # term -> the word as the question writes it
    for word, term in words_and_terms(question):
        script = script_of(word)
        if script == own:
            continue
        # A Chinese or Russian page writes a name in Latin letters as its readers ask it; an
        # English question's name may be translated on a Chinese page ("PTO"), so not judged.
        comparable = script in scripts or (script == LATIN_SCRIPT and own_script)
        if term and not term.isdigit() and script != OTHER_SCRIPT and comparable:
            judged.setdefault(term, word)
    lacking = [(term, word) for term, word in judged.items() if term not in present]
    if own_script and len(lacking) == len(judged):
        return None
    starts = set(_SENTENCE_START.findall(question))
    named = [(term, word) for term, word in lacking if _is_name(word, starts, latin=latin_question)]
    if len(named) > MOST_MISSING:
        return None
    safe = {term for _, term in words_and_terms(redact(question))}
    return [word for term, word in named if term in safe and term not in already_judged]


def _is_name(word: str, sentence_starts: set[str], *, latin: bool) -> bool:
    """A product, service or identifier: capitals inside it (YubiKey, SSH), a capital where a
    sentence does not start (Visio, Телеграм), digits or joiners (B2, x86_64), or Latin
    letters in a Chinese or Russian question."""
    if any(c.isupper() for c in word[1:]) or any(c.isdigit() or c == "_" for c in word):
        return True
    if word[:1].isupper() and word not in sentence_starts:
        return word.lower() not in _CALENDAR
    return not latin and is_latin_script(word)


def refusal_text(question: str, closest: Sequence[Passage], missing: Sequence[str] = ()) -> str:
    wording = _WORDING[language_of(question)]
    if not closest:
        return wording.not_found
    sentences = [wording.not_found]
    if missing:
        quoted = [wording.quote.format(word) for word in missing]
        words = quoted[0]
        if len(quoted) > 1:
            words = wording.comma.join(quoted[:-1]) + wording.last + quoted[-1]
        sentences.append(wording.missing.format(words=words))
    items = wording.separator.join(
        wording.item.format(section=p.section or p.title, title=p.title) if p.section else p.title
        for p in closest
    )
    sentences.append(wording.found.format(items=items))
    return " ".join(sentences)


def found_instead(text: str) -> str:
    """The sources a refusal's text names, read back with the wording that wrote it
    ("Not found in the knowledge base. The closest sources found: “Scheduling” in Handbook."
    gives "“Scheduling” in Handbook"); "" for a refusal that names none, or any other text."""
    for wording in _WORDING.values():
        lead, _, end = wording.found.partition("{items}")
        at = text.find(lead, len(wording.not_found)) if text.startswith(wording.not_found) else -1
        if at >= 0 and text.endswith(end) and len(text) > at + len(lead) + len(end):
            return text[at + len(lead) : len(text) - len(end)]
    return ""


def gap_sentence(text: str) -> str:
    """The sentence of a refusal's text that names the words its closest passages lack
    ("The closest passages do not mention “Visio”."), as written; "" when it names none."""
    wording, words = _missing_part(text)
    return wording.missing.format(words=words) if words else ""


def not_mentioned(text: str) -> str:
    """The words a refusal's text says the closest passages do not mention, as it quotes them
    ("“Visio” or “licence”"); "" when it names none."""
    return _missing_part(text)[1]


def _missing_part(text: str) -> tuple[Wording, str]:
    """The wording of the refusal sentence naming missing words, and those words as quoted."""
    for wording in _WORDING.values():
        lead, _, end = wording.missing.partition("{words}")
        start = f"{wording.not_found} {lead}"
        close = text.find(end, len(start)) if text.startswith(start) else -1
        if close > len(start):
            return wording, text[len(start) : close]
    return _WORDING["en"], ""


def is_stock_refusal(text: str) -> bool:
    """Refusal text that starts with one of the stock sentences (any language)."""
    return text.startswith(tuple(wording.not_found for wording in _WORDING.values()))
