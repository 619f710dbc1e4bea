"""`--translate`: how recall moves when a question is translated only if its best passage as
asked holds less than a share of its terms (KB_TRANSLATE_BELOW_COVERAGE), at several shares.

Each question is searched as asked (no translation) and always translated, through the
production Retriever with the candidate's fusion set-up (the default one); at share t its
ranking is the untranslated one when that search's evidence coverage reaches t, else the
translated one, which is exactly what the Retriever's gate picks. The rankings join the run's
paths as `gate@t`, so recall per language direction comes with them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.quality.search import Asker, Outcome

Json = dict[str, Any]
SHARES = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def gate_sweep(outcomes: Sequence[Outcome], ask: Asker, setup: Mapping[str, Any]) -> Json:
    """Adds `gate@t` rankings to each outcome; returns the share of questions translated at
    each t among those the shipped settings would translate, and each one's coverage."""
    from retrieval.translation import translation_targets

    as_asked = ask.retriever(translate=False, **setup)
    always = ask.retriever(always_translate=True, **setup)
    coverage: dict[str, float] = {}
    wanted: list[str] = []
    for outcome in outcomes:
        question = outcome.question
        plain, translated = ask(question, as_asked), ask(question, always)
        coverage[question.id] = round(plain.evidence.coverage, 4)
        targets = translation_targets(question.text, ask.document_scripts)
        if set(targets) & always.translate_into:
            wanted.append(question.id)
        for share in SHARES:
            found_as_asked = plain.evidence.coverage >= share
            outcome.rankings[f"gate@{share}"] = (
                plain.rankings["fused"] if found_as_asked else translated.rankings["fused"]
            )
    return {
        "fusion": dict(setup),
        "questions_translatable": len(wanted),
        "translated_share": {
            str(share): round(sum(coverage[q] < share for q in wanted) / len(wanted), 3)
            if wanted
            else None
            for share in SHARES
        },
        "as_asked_coverage": {q: coverage[q] for q in wanted},
    }
