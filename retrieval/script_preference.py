"""Ranking that prefers English passages for English questions; kb.text.script tells which
script a text is in.

The corpora hold the same page in several languages (the Debian handbook's en-US, zh-CN and
ru-RU editions), and a translation often keeps commands and examples in English, so an English
question's terms also match the Chinese edition. A reader asking in Latin script wants the page
in their script first: a passage with a real share of letters in another script is ranked
lower, not dropped (the only edition that holds the answer still reaches the prompt). Questions
in another script are left alone: their editions keep English passages that answer them, and
demoting those lost a Chinese question. Measured by `python -m bench quality` (README,
"Retrieval quality").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from kb.text.script import is_latin_script, other_script_share
from retrieval.types import Fused

# A passage in another script keeps this share of its fused score: several ranks lower at the
# top of an RRF list (k = 60), so the same passage's English edition wins.
OTHER_SCRIPT_FACTOR = 0.7
# English text has no letters outside Latin; a translated page that is mostly commands still
# has more than this share of Chinese or Cyrillic letters (8 % in the dev set's worst case).
OTHER_SCRIPT_MIN_SHARE = 0.05


def prefer_question_script(
    question: str, fused: Sequence[Fused], *, factor: float = OTHER_SCRIPT_FACTOR
) -> list[Fused]:
    """For a question in Latin script, scale down the passages written partly in another
    script, then re-rank. Candidates without text (graph hits before their payload is
    fetched) keep their score."""
    if factor == 1.0 or not is_latin_script(question):
        return list(fused)
    rescored = [replace(c, score=c.score * factor) if _other_script(c) else c for c in fused]
    return sorted(rescored, key=lambda c: (-c.score, c.chunk_id))


def _other_script(candidate: Fused) -> bool:
    payload = candidate.payload
    return payload is not None and other_script_share(payload.text) >= OTHER_SCRIPT_MIN_SHARE
