"""Why a question was refused, and what the refusal tells the asker instead.

A refusal names the closest sources retrieval found (already post-checked: readable by the
asker), so the user can read them and the admin sees the gap on the analytics page. It is
written in the question's language (English, Chinese or Russian).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from kb.text.script import has_cjk, has_cyrillic, is_latin_script
from retrieval.types import Passage

NOT_FOUND = "Not found in the knowledge base."
CLOSEST_SOURCES = 3
_WORDING = {
    "en": (NOT_FOUND, "The closest sources found: {items}.", "“{section}” in {title}", "; "),
    "zh": ("知识库中没有找到答案。", "最接近的资料：{items}。", "《{title}》中的“{section}”", "；"),
    "ru": (
        "В базе знаний ответа нет.",
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


def refusal_text(question: str, closest: Sequence[Passage]) -> str:
    not_found, found, item, separator = _WORDING[_language(question)]
    if not closest:
        return not_found
    items = separator.join(
        item.format(section=p.section or p.title, title=p.title) if p.section else p.title
        for p in closest
    )
    return f"{not_found} {found.format(items=items)}"


def found_instead(text: str) -> str:
    """The sources a refusal's text names, read back with the wording that wrote it
    ("Not found in the knowledge base. The closest sources found: “Scheduling” in Handbook."
    gives "“Scheduling” in Handbook"); "" for a refusal that names none, or any other text."""
    for not_found, found, _, _ in _WORDING.values():
        lead, _, end = found.partition("{items}")
        start = f"{not_found} {lead}"
        if text.startswith(start) and text.endswith(end) and len(text) > len(start) + len(end):
            return text[len(start) : len(text) - len(end)]
    return ""


def is_stock_refusal(text: str) -> bool:
    """Refusal text that starts with one of the stock sentences (any language)."""
    return text.startswith(tuple(wording[0] for wording in _WORDING.values()))


def _language(question: str) -> str:
    if is_latin_script(question):
        return "en"
    if has_cjk(question):
        return "zh"
    return "ru" if has_cyrillic(question) else "en"
