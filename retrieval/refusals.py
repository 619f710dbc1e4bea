"""Why a question was refused, and what the refusal tells the asker instead.

A refusal names the closest sources retrieval found (already post-checked: readable by the
asker), so the user can read them and the admin sees the gap on the analytics page, and the
words of the question those passages do not contain ("The closest passages do not mention
“Visio”."): the documents cover the topic, but not that. It is written in the question's
language (English, Chinese or Russian).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from kb.text.script import has_cjk, has_cyrillic, is_latin_script, script_of
from kb.text.sparse import tokenize, words_and_terms
from retrieval.types import Passage

NOT_FOUND = "Not found in the knowledge base."
CLOSEST_SOURCES = 3
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
        "В ближайших фрагментах не упоминается {words}.",
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
    """The question's words that none of the passages contains, compared as the sparse index
    compares them (stemmed, Chinese segmented), in the question's order. A word is judged only
    against passages in its own script (a Chinese question's "Visio" against English ones);
    none are named when the passages share no word with a question in their script (nothing
    is contrasted) or lack more than MOST_MISSING (they are barely on its topic)."""
    scripts = {script_of(p.text) for p in passages}
    present = {term for p in passages for term in tokenize(p.text)}
    judged: dict[str, str] = {}  # term -> the word as the question writes it
    unjudged = False
    for word, term in words_and_terms(question):
        if not term:
            continue
        if script_of(word) in scripts:
            judged.setdefault(term, word)
        else:
            unjudged = True
    missing = [word for term, word in judged.items() if term not in present]
    if (len(missing) == len(judged) and not unjudged) or len(missing) > MOST_MISSING:
        return []
    return missing


def refusal_text(question: str, closest: Sequence[Passage], missing: Sequence[str] = ()) -> str:
    wording = _WORDING[_language(question)]
    if not closest:
        return wording.not_found
    sentences = [wording.not_found]
    if missing:
        quoted = [wording.quote.format(word) for word in missing]
        words = wording.comma.join(quoted[:-1]) + wording.last if len(quoted) > 1 else ""
        sentences.append(wording.missing.format(words=words + quoted[-1]))
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


def not_mentioned(text: str) -> str:
    """The words a refusal's text says the closest passages do not mention, as it quotes them
    ("“Visio” or “licence”"); "" when it names none."""
    for wording in _WORDING.values():
        lead, _, end = wording.missing.partition("{words}")
        at = text.find(lead, len(wording.not_found)) if text.startswith(wording.not_found) else -1
        close = text.find(end, at + len(lead)) if at >= 0 else -1
        if close > at + len(lead):
            return text[at + len(lead) : close]
    return ""


def is_stock_refusal(text: str) -> bool:
    """Refusal text that starts with one of the stock sentences (any language)."""
    return text.startswith(tuple(wording.not_found for wording in _WORDING.values()))


def _language(question: str) -> str:
    if is_latin_script(question):
        return "en"
    if has_cjk(question):
        return "zh"
    return "ru" if has_cyrillic(question) else "en"
