"""Citations for an answer the model wrote without any `[n]` marker.

The small default model often answers from its passages without citing them (on the answers
dev set, 4 of 42 answers carried a marker): the answer then named no source, and the chat could
only list every passage it was given. Each sentence the claim check found supported
(retrieval.answer_checks) is given the one passage that shares most of its content terms, as a
marker before its closing punctuation, as the prompt asks the model to write it. A sentence
the check did not find supported gets none: a citation would lend it an authority its sources
do not give. Neither does one that shares no term with any passage (a sentence in another
script than its passages).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from kb.text.instructions import normalise
from kb.text.script import has_cjk
from kb.text.sparse import tokenize
from retrieval.answer_checks import AnswerCheck, Claim, claim_spans
from retrieval.types import Passage

_CLOSING = ".!?。！？"
_CJK_CLOSING = "。！？"


@dataclass(frozen=True)
class Attributed:
    text: str
    cited: list[int]  # passage numbers in order of first use
    check: AnswerCheck  # its claims' texts and passages as they now stand


def attribute(text: str, check: AnswerCheck, passages: Sequence[Passage]) -> Attributed:
    """`text` with a marker after each supported claim (the check of `text`, which cites
    nothing), naming the passage of `passages` that shares most of its terms."""
    terms = {p.n: set(tokenize(normalise(p.text))) for p in passages}
    spans = claim_spans(text, check.claims)
    edits: list[tuple[int, int, str]] = []
    claims = list(check.claims)
    numbers: list[int] = []
    for index, (claim, span) in enumerate(zip(check.claims, spans, strict=True)):
        best = _best_passage(claim, terms)
        if span is None or best is None:
            continue
        start, end = span
        marked = with_marker(text[start:end], best)
        edits.append((start, end, marked))
        claims[index] = replace(claim, text=marked, passages=(best,))
        numbers.append(best)
    for start, end, marked in reversed(edits):
        text = text[:start] + marked + text[end:]
    return Attributed(text, list(dict.fromkeys(numbers)), replace(check, claims=tuple(claims)))


def with_marker(sentence: str, n: int) -> str:
    """`sentence` citing passage `n`: "Kept 35 days [2]." ("保留35天[2]。")."""
    body = sentence.rstrip(_CLOSING)
    closing = sentence[len(body) :]
    space = "" if has_cjk(body[-1:]) or closing.startswith(tuple(_CJK_CLOSING)) else " "
    return f"{body}{space}[{n}]{closing}"


def _best_passage(claim: Claim, terms: dict[int, set[str]]) -> int | None:
    if not claim.supported:
        return None
    own = set(tokenize(normalise(claim.text)))
    shared = {n: len(own & terms[n]) for n in claim.passages if n in terms}
    best = max(shared, key=lambda n: (shared[n], -n), default=None)
    return best if best is not None and shared[best] > 0 else None
