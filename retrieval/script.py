"""Which writing system a text is in, and ranking that prefers the question's own.

The corpora hold the same page in several languages (the Debian handbook's en-US, zh-CN and
ru-RU editions), and a translation often keeps commands and examples in English, so an English
question's terms also match the Chinese edition. A reader asking in English wants the English
page first: passages in another script than the question's are ranked lower, not dropped (the
only edition that holds the answer still reaches the prompt). Measured by `python -m bench
quality` (README, "Retrieval quality").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from retrieval.types import Fused

# A passage in another script keeps this share of its fused score: about ten ranks lower
# at the top of an RRF list (k = 60), so a same-script passage found by the same paths wins.
OTHER_SCRIPT_FACTOR = 0.85


def is_latin_script(text: str) -> bool:
    """Most words are Latin-script; each CJK character counts as a word of its own."""
    latin = other = 0
    for word in text.split():
        cjk = sum(1 for ch in word if _is_cjk(ch))
        other += cjk
        letters = [ch for ch in word if ch.isalpha() and not _is_cjk(ch)]
        if letters:
            if all(ch.isascii() or "\u00c0" <= ch <= "\u024f" for ch in letters):
                latin += 1
            elif not cjk:
                other += 1
    return latin >= other


def prefer_question_script(
    question: str, fused: Sequence[Fused], *, factor: float = OTHER_SCRIPT_FACTOR
) -> list[Fused]:
    """Scale down the passages whose text is in another script than the question, then
    re-rank. Candidates without text (graph hits before their payload is fetched) keep their
    score."""
    if factor == 1.0:
        return list(fused)
    latin = is_latin_script(question)
    rescored = [replace(c, score=c.score * factor) if _other_script(c, latin) else c for c in fused]
    return sorted(rescored, key=lambda c: (-c.score, c.chunk_id))


def _other_script(candidate: Fused, question_latin: bool) -> bool:
    text = candidate.payload.get("text")
    return isinstance(text, str) and bool(text) and is_latin_script(text) != question_latin


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"
