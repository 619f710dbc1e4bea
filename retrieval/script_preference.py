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
comes first in the same way. But with a multilingual dense model, the only pages in the
question's script to prefer are those the translation's search found too, the question's own
edition of what it finds: a Chinese page that only the question's own words found is another
topic, and preferring it pushed the English page that answers a Chinese question out of the
first five (cross-lingual document recall@5 with multilingual-use-v3 0.795 -> 0.818 when the
0.5B model translates, 0.818 -> 0.841 with the 1.5B one; same-language 0.982 either way). With
the English-only default the translation's dense search finds English pages only, so the
question's own edition would seldom pass that test: there every page in its script is
preferred. Measured by `python -m bench quality [--crosslingual]` (bench/README.md,
"Cross-lingual questions").
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
from retrieval.translation import is_translation_path
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
    multilingual: bool = False,
) -> list[Fused]:
    """Scale down the passages not written in the question's script, then re-rank: for a
    question in Latin script, those partly in another script; for a Chinese or Russian
    question that was also searched in translation (`translated`), those without a real share
    of its script, which the translation's hits would otherwise put ahead of the question's own
    edition. With a `multilingual` dense model such a question's own-script passages are
    scaled down too unless a translation's search also found them: the translation finds the
    question's own edition of what it finds, while a page in the question's script found only
    by the question's words is another topic, not the edition to prefer. Candidates without
    text (graph hits before their payload is fetched) keep their score, unless that test
    applies: then they need a translation's hit as well."""
    if factor == 1.0:
        return list(fused)
    asked = script_of(question)
    if asked != LATIN_SCRIPT and not (translated and asked in (HAN_SCRIPT, CYRILLIC_SCRIPT)):
        return list(fused)
    needs_translation_hit = multilingual and asked != LATIN_SCRIPT
    rescored = [
        c
        if _preferred(c, asked, needs_translation_hit=needs_translation_hit)
        else replace(c, score=c.score * factor)
        for c in fused
    ]
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


def _preferred(candidate: Fused, script: str, *, needs_translation_hit: bool) -> bool:
    """Whether a candidate keeps its score: one in the question's script, or without text;
    with `needs_translation_hit`, only if a translation's search found it too."""
    payload = candidate.payload
    if payload is not None and in_another_script(payload.text, script):
        return False
    return not needs_translation_hit or any(is_translation_path(p) for p in candidate.ranks)
