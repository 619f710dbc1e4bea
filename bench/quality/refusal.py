"""Refusal calibration: how well the production `RefusalPolicy` tells answerable from
unanswerable questions on the Retriever's evidence, at the thresholds in settings and at the
thresholds that fit this run best (with leave-one-question-out estimates). A question searched
in translation too is refused, as in production, only when every form of it is
(`RefusalPolicy.refuses_all`)."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from bench.quality.search import Outcome

if TYPE_CHECKING:
    from retrieval.evidence import Evidence, RefusalPolicy

Json = dict[str, Any]
Form = tuple[float, float]  # dense, coverage of the question as asked or of a translation
Sample = tuple[tuple[Form, ...], bool]  # every form searched, answerable
Judged = tuple[tuple["Evidence", ...], bool]


def calibrate(outcomes: Sequence[Outcome], settings_policy: RefusalPolicy) -> Json:
    """Distributions of the two evidence signals, the thresholds that best separate answerable
    from unanswerable questions (one pair for every question; the smallest mean of
    false-refusal and false-answer rates, then the fewest false refusals), and the rates of the
    policy in settings (one pair per script)."""
    samples = _samples(outcomes)
    best = best_thresholds(samples)
    other = _other_script_thresholds(settings_policy)
    return {
        "distributions": {
            "answerable": _distribution([s for s in samples if s[1]]),
            "unanswerable": _distribution([s for s in samples if not s[1]]),
        },
        "best": {"dense": best[0], "coverage": best[1], **refusal_rates(samples, best)},
        "leave_one_out": _loo_rates(samples),
        "settings": {
            "dense": settings_policy.min_dense,
            "coverage": settings_policy.min_coverage,
            "other_script_dense": other[0],
            "other_script_coverage": other[1],
            **_rates(
                [(settings_policy.refuses_all(*_forms(o)), bool(o.question.gold)) for o in outcomes]
            ),
        },
        "dense_only": _single_best(samples, 0),
        "coverage_only": _single_best(samples, 1),
        "by_script": _by_script(outcomes),
        "errors_at_best": _errors(outcomes, _policy(best)),
        "errors_at_settings": _errors(outcomes, settings_policy),
    }


def _forms(outcome: Outcome) -> tuple[Evidence, ...]:
    return outcome.forms or (outcome.evidence,)


def _samples(outcomes: Iterable[Outcome]) -> list[Sample]:
    return [
        (tuple((e.dense, e.coverage) for e in _forms(o)), bool(o.question.gold)) for o in outcomes
    ]


def _values(samples: Iterable[Sample], which: int) -> list[float]:
    return [form[which] for forms, _ in samples for form in forms]


def _policy(thresholds: tuple[float, float]) -> RefusalPolicy:
    """One pair of thresholds for questions in every script."""
    from retrieval.evidence import RefusalPolicy

    return RefusalPolicy(min_dense=thresholds[0], min_coverage=thresholds[1])


def _other_script_thresholds(policy: RefusalPolicy) -> tuple[float, float]:
    from retrieval.evidence import Evidence

    return policy.thresholds(Evidence(dense=0.0, coverage=0.0, latin_script=False))


def _evidence(samples: Sequence[Sample]) -> list[Judged]:
    from retrieval.evidence import Evidence

    return [
        (tuple(Evidence(dense=dense, coverage=coverage) for dense, coverage in forms), answerable)
        for forms, answerable in samples
    ]


def _judge(judged: Sequence[Judged], thresholds: tuple[float, float]) -> list[tuple[bool, bool]]:
    """(refused, answerable) per question under one pair of thresholds."""
    policy = _policy(thresholds)
    return [(policy.refuses_all(*forms), answerable) for forms, answerable in judged]


def _rates(decisions: Sequence[tuple[bool, bool]]) -> Json:
    answerable = [refused for refused, wanted in decisions if wanted]
    unanswerable = [refused for refused, wanted in decisions if not wanted]
    false_refusal = sum(answerable) / len(answerable) if answerable else 0.0
    false_answer = (
        (len(unanswerable) - sum(unanswerable)) / len(unanswerable) if unanswerable else 0.0
    )
    return {
        "false_refusal_rate": round(false_refusal, 3),
        "false_answer_rate": round(false_answer, 3),
        "false_refusals": sum(answerable),
        "false_answers": len(unanswerable) - sum(unanswerable),
    }


def refusal_rates(samples: Sequence[Sample], thresholds: tuple[float, float]) -> Json:
    """False refusals and false answers when one pair of thresholds judges every sample."""
    return _rates(_judge(_evidence(samples), thresholds))


def candidate_thresholds(values: Iterable[float]) -> list[float]:
    """Midpoints between neighbouring observed values, and one below / above them all: a
    threshold halfway between two questions is the least fitted to either."""
    ordered = sorted(set(values))
    if not ordered:
        return [0.0]
    mids = [round((a + b) / 2, 4) for a, b in itertools.pairwise(ordered)]
    return [round(ordered[0] - 0.01, 4), *mids, round(ordered[-1] + 0.01, 4)]


def _best(judged: Sequence[Judged], pairs: Iterable[tuple[float, float]]) -> tuple[float, float]:
    """The pair with the smallest mean of the two error rates, then the fewest false refusals."""

    def cost(pair: tuple[float, float]) -> tuple[float, float]:
        rates = _rates(_judge(judged, pair))
        frr, far = rates["false_refusal_rate"], rates["false_answer_rate"]
        return ((frr + far) / 2, frr)

    return min(pairs, key=cost)


def best_thresholds(samples: Sequence[Sample]) -> tuple[float, float]:
    pairs = itertools.product(
        candidate_thresholds(_values(samples, 0)), candidate_thresholds(_values(samples, 1))
    )
    return _best(_evidence(samples), pairs)


def _loo_rates(samples: Sequence[Sample]) -> Json:
    """Each question judged by thresholds fitted without it."""
    decisions = []
    for i, sample in enumerate(samples):
        fitted = best_thresholds([s for j, s in enumerate(samples) if j != i])
        decisions += _judge(_evidence([sample]), fitted)
    rates = _rates(decisions)
    return {key: rates[key] for key in ("false_refusal_rate", "false_answer_rate")}


def _single_best(samples: Sequence[Sample], which: int) -> Json:
    """One signal alone (the other threshold out of play)."""
    values = candidate_thresholds(_values(samples, which))
    pairs = [(t, math.inf) if which == 0 else (math.inf, t) for t in values]
    pair = _best(_evidence(samples), pairs)
    return {"threshold": pair[which], **refusal_rates(samples, pair)}


def _by_script(outcomes: Sequence[Outcome]) -> Json:
    """Cosine similarities of an English-only model sit on another scale for Chinese and
    Russian questions: thresholds fitted per script, to show whether one pair fits both."""
    result = {}
    for name, latin in (("latin", True), ("other", False)):
        samples = _samples(o for o in outcomes if o.evidence.latin_script is latin)
        if samples:
            best = best_thresholds(samples)
            result[name] = {
                "questions": len(samples),
                "best": {"dense": best[0], "coverage": best[1], **refusal_rates(samples, best)},
                "leave_one_out": _loo_rates(samples),
            }
    return result


def _distribution(samples: Sequence[Sample]) -> Json:
    def quantiles(values: list[float]) -> Json:
        if not values:
            return {}
        cuts = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
        return {
            "min": round(min(values), 3),
            "q1": round(cuts[0], 3),
            "median": round(cuts[1], 3),
            "q3": round(cuts[2], 3),
            "max": round(max(values), 3),
        }

    return {  # of the question as asked
        "n": len(samples),
        "dense": quantiles([forms[0][0] for forms, _ in samples]),
        "coverage": quantiles([forms[0][1] for forms, _ in samples]),
    }


def _errors(outcomes: Sequence[Outcome], policy: RefusalPolicy) -> Json:
    """Question ids the policy judges wrongly."""
    refused = {o.question.id: policy.refuses_all(*_forms(o)) for o in outcomes}
    return {
        "false_refusals": [
            o.question.id for o in outcomes if o.question.gold and refused[o.question.id]
        ],
        "false_answers": [
            o.question.id for o in outcomes if not o.question.gold and not refused[o.question.id]
        ],
    }
