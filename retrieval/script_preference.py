"""Ranking that prefers passages in the question's script; kb.text.script tells which script a
text is in.

The corpora hold the same page in several languages (the Debian handbook's en-US, zh-CN and
ru-RU editions), and a translation often keeps commands and examples in English, so an English
question's terms also match the Chinese edition. A reader asking in Latin script wants the page
in their script first: a passage with a real share of letters in another script is ranked
lower, not dropped (the only edition that holds the answer still reaches the prompt). A Chinese
or Russian question searched as asked is left alone: its editions keep English passages that
answer it, and demoting those lost a Chinese question. Searched in English translation too,
the English edition gets the translation's votes on top, so there the question's own script
comes first in the same way. Measured by `python -m bench quality` (README, "Retrieval
quality").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from kb.text.script import (
    CYRILLIC_SCRIPT,
    HAN_SCRIPT,
    LATIN_SCRIPT,
    other_script_share,
    script_of,
    script_share,
)
from retrieval.types import Fused

# A passage in another script keeps this share of its fused score: several ranks lower at the
# top of an RRF list (k = 60), so the same passage's English edition wins.
OTHER_SCRIPT_FACTOR = 0.7
# English text has no letters outside Latin; a translated page that is mostly commands still
# has more than this share of Chinese or Cyrillic letters (8 % in the dev set's worst case).
OTHER_SCRIPT_MIN_SHARE = 0.05


def prefer_question_script(
    question: str,
    fused: Sequence[Fused],
    *,
    factor: float = OTHER_SCRIPT_FACTOR,
    translated: bool = False,
) -> list[Fused]:
    """Scale down the passages not written in the question's script, then re-rank: for a
    question in Latin script, those partly in another script; for a Chinese or Russian
    question that was also searched in translation (`translated`), those without a real share
    of its script, which the translation's hits would otherwise put ahead of the question's own
    edition. Candidates without text (graph hits before their payload is fetched) keep their
    score."""
    if factor == 1.0:
        return list(fused)
    asked = script_of(question)
    if asked != LATIN_SCRIPT and not (translated and asked in (HAN_SCRIPT, CYRILLIC_SCRIPT)):
        return list(fused)
    rescored = [replace(c, score=c.score * factor) if _foreign(c, asked) else c for c in fused]
    return sorted(rescored, key=lambda c: (-c.score, c.chunk_id))


def in_another_script(text: str, script: str) -> bool:
    """Whether a passage is written in another script than a question in `script`: for Latin,
    a real share of its letters in another script; for Han or Cyrillic, too few in that one.
    A question in a script we do not tell apart (OTHER_SCRIPT) finds nothing foreign."""
    if script == LATIN_SCRIPT:
        return other_script_share(text) >= OTHER_SCRIPT_MIN_SHARE
    if script in (HAN_SCRIPT, CYRILLIC_SCRIPT):
        return script_share(text, script) < OTHER_SCRIPT_MIN_SHARE
    return False


def _foreign(candidate: Fused, script: str) -> bool:
    payload = candidate.payload
    return payload is not None and in_another_script(payload.text, script)
