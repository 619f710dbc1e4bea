"""Passages that fit the prompt's token budget (KB_PROMPT_TOKEN_BUDGET), most relevant first.

On a CPU the model's time to first token is mostly reading the prompt, and five whole passages
are ~1,600 tokens of which the answer needs a few sentences. So each passage reaches the prompt
trimmed to the sentences that share a term with the question, each with its neighbours for
context, in their own order, gaps marked "…"; a passage none of whose sentences shares a term
is kept from its start, since nothing tells what matters.
Passages are then taken in relevance order, each within what is left of the budget after
a reserve of budget / (2 x passages) tokens for every passage still to come: one that does
not fit with its context keeps only its sentences that share terms (those sharing the most
first, while they fit), or the best one cut at a word. So a long passage ranked first cannot
crowd out the one below it that holds the answer, which ranking often puts third or fourth.
A question with CJK or Cyrillic letters gets every passage whole: trimmed, the passages
of Chinese and Russian questions made the default model decline or misanswer 8 of their 13
answerable questions in the answers benchmark against 3 whole (`python -m bench quality
--answers --prompt-budgets 0,500`), where English ones gained (fewer refusals, more gold pages
cited); terms shared with the question pick sentences less surely there, and the model reads
fragments of those languages worse. So does a question sharing no term with any passage (an
English question about Chinese pages): nothing would tell what to keep.
The passages that made it are numbered 1..n again, so the source cards, the model's [n] and
the citations agree; their full text stays for citations and the answer checks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from kb.text.instructions import sentences
from kb.text.script import CJK, CYRILLIC, has_cjk, has_cyrillic
from kb.text.sparse import tokenize
from retrieval.types import Passage

GAP = " … "
# Sentences kept on each side of one that shares a term with the question.
CONTEXT_SENTENCES = 1
# The least a passage below the first is left: passages beyond what the budget can leave
# this much are not shown.
MIN_TOKENS = 8
# Characters per token of the answering model's tokenizer (Qwen2.5's BPE, measured on 40
# Debian handbook pages per edition: estimates within 2 % in English, Chinese and Russian).
_CHARS_PER_TOKEN = 4.7
_CYRILLIC_CHARS_PER_TOKEN = 2.9
_CJK_CHARS_PER_TOKEN = 1.2
_CJK_CHAR = re.compile(f"[{CJK}]")
_CYRILLIC_CHAR = re.compile(f"[{CYRILLIC}]")


@dataclass(frozen=True)
class FittedPassages:
    passages: list[Passage]  # whole, renumbered 1..n: what the answer cites and is checked on
    prompt: list[Passage]  # the same passages as the prompt shows them, trimmed


def estimated_tokens(text: str) -> int:
    """About how many tokens the answering model reads for `text` (no tokenizer needed)."""
    cjk = len(_CJK_CHAR.findall(text))
    cyrillic = len(_CYRILLIC_CHAR.findall(text))
    other = len(text) - cjk - cyrillic
    return math.ceil(
        cjk / _CJK_CHARS_PER_TOKEN + cyrillic / _CYRILLIC_CHARS_PER_TOKEN + other / _CHARS_PER_TOKEN
    )


def fit_passages(question: str, passages: Sequence[Passage], *, budget: int) -> FittedPassages:
    """The passages within `budget` tokens, trimmed to what `question` needs. A budget of 0 or
    less, a question with CJK or Cyrillic letters in it, or one sharing no term with any
    passage (asked in another language than theirs) leaves them all whole."""
    terms = set(tokenize(question))
    if budget <= 0 or has_cjk(question) or has_cyrillic(question) or not _shares(terms, passages):
        return FittedPassages(list(passages), list(passages))
    # No more passages than leave each later one a reserve of MIN_TOKENS; the first always goes.
    taken = passages[: max(1, budget // (2 * MIN_TOKENS))]
    reserve = budget // (2 * max(len(taken), 1))
    kept: list[tuple[Passage, str]] = []
    left = budget
    for i, passage in enumerate(taken):
        text = _within(passage.text, terms, left - reserve * (len(taken) - i - 1))
        kept.append((passage, text))
        left -= estimated_tokens(text)
    whole = [replace(p, n=i) for i, (p, _) in enumerate(kept, start=1)]
    shown = [replace(p, text=text) for p, (_, text) in zip(whole, kept, strict=True)]
    return FittedPassages(whole, shown)


def trimmed(text: str, terms: set[str]) -> str:
    """`text`'s sentences that share a term with the question, with CONTEXT_SENTENCES on each
    side, in order; all of it when none does."""
    parts = list(sentences(text, as_written=True))
    matching = [i for i, s in enumerate(parts) if terms & set(tokenize(s))]
    if not matching:
        return text
    keep = {
        j
        for i in matching
        for j in range(i - CONTEXT_SENTENCES, i + CONTEXT_SENTENCES + 1)
        if 0 <= j < len(parts)
    }
    if len(keep) == len(parts):
        return text
    return _joined(parts, keep)


def _within(text: str, terms: set[str], allowance: int) -> str:
    """`text` trimmed to `terms` with context if that fits `allowance` tokens; else those of its
    sentences that share terms with the question, the ones sharing the most first, while they
    fit; else the best of them, or the passage's start, cut at a word."""
    context = trimmed(text, terms)
    if estimated_tokens(context) <= allowance:
        return context
    parts = list(sentences(text, as_written=True))
    shared = [len(terms & set(tokenize(s))) for s in parts]
    by_terms = sorted((i for i in range(len(parts)) if shared[i]), key=lambda i: (-shared[i], i))
    keep: set[int] = set()
    used = 1  # a gap mark before the first sentence kept
    for i in by_terms:
        # Each sentence with the space and the gap mark that may follow it: an upper bound.
        cost = estimated_tokens(parts[i] + GAP)
        if used + cost <= allowance:
            keep.add(i)
            used += cost
    if keep:
        return _joined(parts, keep)
    if not by_terms:
        return _cut(text, allowance)
    best = by_terms[0]
    return (GAP.lstrip() if best else "") + _cut(parts[best], allowance - (1 if best else 0))


def _shares(terms: set[str], passages: Sequence[Passage]) -> bool:
    return any(terms & set(tokenize(p.text)) for p in passages)


def _joined(parts: Sequence[str], keep: set[int]) -> str:
    """The sentences `keep` of `parts`, in order, with a gap mark wherever some are left out."""
    pieces: list[str] = []
    for i in sorted(keep):
        if pieces and i - 1 not in keep:
            pieces.append(GAP.strip())
        pieces.append(parts[i])
    lead = GAP.lstrip() if 0 not in keep else ""
    tail = GAP.rstrip() if len(parts) - 1 not in keep else ""
    return lead + " ".join(pieces) + tail


def _cut(text: str, budget: int) -> str:
    """The start of `text` within `budget` tokens (the gap mark that ends it included), ended
    at a word."""
    room = budget - estimated_tokens(GAP)
    end = len(text)
    while end > 0 and estimated_tokens(text[:end]) > room:
        end = int(end * max(room, 0) / estimated_tokens(text[:end])) - 1
    cut = text[: max(end, 0)]
    space = cut.rfind(" ")
    return (cut[:space] if space > len(cut) // 2 else cut).rstrip() + GAP.rstrip()
