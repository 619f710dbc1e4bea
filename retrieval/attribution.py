"""Citations for an answer the model wrote without any `[n]` marker, and for sentences it cited
to a passage that does not hold them.

The small default model often answers from its passages without citing them (on the answers
dev set, 4 of 42 answers carried a marker): the answer then named no source, and the chat could
only list every passage it was given. Each sentence the claim check found supported
(retrieval.answer_checks) is given a marker before its closing punctuation, as the prompt asks
the model to write it, for the passage that shares most of its content terms among those that
support it on their own: its numbers, names, links and terms are in that one passage, read
without the sentences that address the assistant (retrieval.claim_support), and it is written
in a script that passage holds text in. A Chinese or Russian sentence about an English
passage cannot be compared word by word (the check counts it supported), but it keeps in Latin
script the commands, options and names it took from its source: it cites the passage that
holds those not taken from the question (`_anchoring_passage`). Before, an answer in the question's
language about an English manual mostly named no source (on the PDF manuals' Chinese and
Russian questions, 12 of 34 answers cited one; 22 now, a gold page 9 against 6). A
sentence with no such passage gets none, nor does one the check did not find supported: a
citation would lend it an authority its sources do not give. A supported line of a fenced
code block is cited after the block's closing fence, on a line of its own, never inside it,
where the marker would break a command that is copied.

A small model also cites a neighbour of its source: "Partial indexes cover only the rows a
WHERE clause selects [2]." when passage 1 says so and passage 2 is about expression indexes.
The claim check reads a sentence against the passages it cites; such a sentence is recited
(`recite`): its markers are replaced by the one other passage of the prompt that supports it on
its own, by the same rules and choice as above, and it counts as supported. One that no single
passage supports keeps its markers and stays unsupported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from kb.text.script import has_cjk, is_latin_script
from kb.text.sparse import tokenize
from retrieval.answer_checks import (
    AnswerCheck,
    Claim,
    claim_spans,
    marker_numbers,
    statement,
    unsupported_items,
    without_markers,
)
from retrieval.citations import MARKER, cited_in
from retrieval.claim_support import (
    DEFAULT_RULES,
    ClaimRules,
    Evidence,
    sources_read,
    unsupported_reason,
)
from retrieval.types import Passage

# A sentence in another script than a passage cites it for no fewer of the Latin-script words
# they share (besides the question's, such as the product's name, in every page of its manual).
MIN_ANCHORS = 2
# A Latin-script word as `_latin_words` reads it: letters, digits and the characters of paths,
# options and commands, so `/etc/logrotate.conf`, `pdfstartview=FitV` or `-e` stay whole.
_LATIN_WORD = re.compile(r"[A-Za-z0-9_./:=+-]*[A-Za-z][A-Za-z0-9_./:=+-]*")
_CLOSING = ".!?。！？"
_CJK_CLOSING = "。！？"
_TRAILING_PUNCTUATION = ".,;:!?。，；：！？"
# A fenced code block's fence line (CommonMark): up to three spaces, three or more backticks
# or tildes, then an info string (only an opening fence may have one).
_FENCE_LINE = re.compile(r" {0,3}(?P<fence>`{3,}|~{3,})(?P<info>.*?)[ \t]*")
_LINE = re.compile(r"(?P<content>[^\r\n]*)(?:\r?\n|$)")
_MARKER = re.compile(r" ?\[\d+\]")
_MARKERS_AFTER = re.compile(rf"(?P<before>\s*)(?:{MARKER.pattern}\s*?)+(?P<after>[ \t]*)")


@dataclass(frozen=True)
class Attributed:
    text: str
    cited: list[int]  # passage numbers in order of first use
    check: AnswerCheck  # its claims' texts and passages as they now stand


def attribute(
    text: str, check: AnswerCheck, passages: Sequence[Passage], *, question: str = ""
) -> Attributed:
    """`text` with a marker after each supported claim (the check of `text`, which cites
    nothing) that one passage of `passages` supports on its own. `question`, as asked: the
    words a sentence in another script repeats from it tie it to no passage
    (`_anchoring_passage`)."""
    evidence = sources_read(passages)
    asked = _latin_words(question)
    spans = claim_spans(text, check.claims)
    edits: list[tuple[int, int, str]] = []
    claims = list(check.claims)
    numbers: list[int] = []
    blocks = code_blocks(text)
    after_blocks: dict[int, list[int]] = {}  # end of a code block's closing fence: passages
    for index, (claim, span) in enumerate(zip(check.claims, spans, strict=True)):
        if span is None or not claim.supported:
            continue
        block = _block_at(blocks, span[0])
        if block is not None and not block.closed:
            continue  # a block the answer never closes: a marker would be part of its code
        best = _best_passage(claim, claim.passages, evidence)
        if best is None:
            best = _anchoring_passage(claim, claim.passages, evidence, asked=asked)
        if best is None:
            continue
        numbers.append(best)
        if block is not None:
            after_blocks.setdefault(block.end, []).append(best)
            claims[index] = replace(claim, passages=(best,))
            continue
        marked = with_marker(text[span[0] : span[1]], best)
        edits.append((span[0], span[1], marked))
        claims[index] = replace(claim, text=marked, passages=(best,))
    newline = "\r\n" if "\r\n" in text else "\n"
    for end, cited in after_blocks.items():
        markers = " ".join(f"[{n}]" for n in dict.fromkeys(cited))
        edits.append((end, end, newline + markers))
    for start, end, marked in sorted(edits, reverse=True):
        text = text[:start] + marked + text[end:]
    return Attributed(text, list(dict.fromkeys(numbers)), replace(check, claims=tuple(claims)))


def recite(
    text: str,
    check: AnswerCheck,
    passages: Sequence[Passage],
    *,
    rules: ClaimRules = DEFAULT_RULES,
) -> Attributed:
    """`text` with each unsupported claim of its check that another passage of `passages`
    supports on its own citing that passage instead (the check's verdict follows). `cited`
    keeps every passage a claim still rests on: a sentence without markers was checked, links
    included, against all the answer cited (none for an answer without markers: it is
    retrieval.attribution's to cite)."""
    evidence = sources_read(passages)
    spans = claim_spans(text, check.claims)
    edits: list[tuple[int, int, str]] = []
    claims = list(check.claims)
    for index, (claim, span) in enumerate(zip(check.claims, spans, strict=True)):
        if span is None or claim.supported or claim.restates:
            continue
        region, gap = _with_markers_after(text, span)
        if not _recitable(text, region):
            continue
        others = tuple(n for n in evidence if n not in claim.passages)
        best = _best_passage(claim, others, evidence, rules=rules)
        if best is None:
            continue
        sentence = text[region[0] : region[1]]
        marked = with_marker(without_markers(sentence[: span[1] - span[0]]), best)
        edits.append((region[0], region[1], marked + gap))
        written = tuple(marker_numbers(sentence))
        claims[index] = replace(
            claim, text=marked, supported=True, passages=(best,), recited_from=written
        )
    for start, end, marked in sorted(edits, reverse=True):
        text = text[:start] + marked + text[end:]
    markers = cited_in(text, set(evidence))
    resting = [n for claim in claims for n in claim.passages] if markers else []
    cited = list(dict.fromkeys([*markers, *resting]))
    return Attributed(text, cited, check.with_claims(claims))


def _with_markers_after(text: str, span: tuple[int, int]) -> tuple[tuple[int, int], str]:
    """A claim's span with the markers that open the next sentence, which are its own ("… 12
    minutes. [3] Backups …": the splitter gave [3] to the next sentence), and the white space
    to leave in their place: what stood before them (a paragraph break stays one), else what
    followed them, none at the end."""
    after = _MARKERS_AFTER.match(text, span[1])
    if after is None:
        return span, ""
    gap = after.group("before") or after.group("after")
    return (span[0], after.end()), gap if after.end() < len(text) else ""


def _recitable(text: str, region: tuple[int, int]) -> bool:
    """Whether a claim's markers can be rewritten in place: not in code (a command that is
    copied, `deny[1]`), not in a table row (a marker after its last cell is dropped), not
    before punctuation ("days. [1]. Old"), and written as the citation filter reads them
    (not full-width)."""
    sentence = text[region[0] : region[1]]
    return not (
        _in_code(text, region[0])
        or "`" in sentence
        or "|" in sentence
        or text[region[1] : region[1] + 1] in tuple(_TRAILING_PUNCTUATION)
        or marker_numbers(without_markers(sentence))
    )


def with_marker(sentence: str, n: int) -> str:
    """`sentence` citing passage `n`: "Kept 35 days [2]." ("保留35天[2]。")."""
    body = sentence.rstrip(_CLOSING)
    closing = sentence[len(body) :]
    body = body.rstrip()
    space = "" if has_cjk(body[-1:]) or closing.startswith(tuple(_CJK_CLOSING)) else " "
    return f"{body}{space}[{n}]{closing}"


def unmarked(sentence: str) -> str:
    """`sentence` without the markers `with_marker` gave it."""
    return _MARKER.sub("", sentence)


def as_written(claim: Claim) -> str:
    """A recited claim's sentence with the markers it was written with (one after the other:
    "[1, 2]" comes back as "[1] [2]")."""
    if claim.recited_from is None:
        return claim.text
    sentence = unmarked(claim.text)
    for n in claim.recited_from:
        sentence = with_marker(sentence, n)
    return sentence


def _best_passage(
    claim: Claim,
    candidates: Sequence[int],
    evidence: dict[int, Evidence],
    *,
    rules: ClaimRules = DEFAULT_RULES,
) -> int | None:
    """Of the candidate passages that support the claim alone, the one sharing most of its
    terms (the first of equals)."""
    folded = statement(claim.text)
    terms = set(tokenize(folded))
    latin = is_latin_script(folded)
    shared = {n: len(terms & evidence[n].terms) for n in candidates if n in evidence}
    for n in sorted(shared, key=lambda n: (-shared[n], n)):
        if shared[n] == 0 or latin not in evidence[n].scripts:
            continue
        alone = [evidence[n]]
        if not unsupported_reason(folded, terms, alone, rules=rules) and not unsupported_items(
            without_markers(claim.text), [evidence[n].text]
        ):
            return n
    return None


def _anchoring_passage(
    claim: Claim,
    candidates: Sequence[int],
    evidence: dict[int, Evidence],
    *,
    asked: frozenset[str],
    rules: ClaimRules = DEFAULT_RULES,
) -> int | None:
    """For a Chinese or Russian claim no passage in its script supports alone (`_best_passage`
    found none), the English passage that holds most of its anchors: the Latin-script words it
    wrote (a command, an option, a path: `/etc/logrotate.conf` is one word) other than those
    of the question (`asked`) and those every candidate holds (a product's name is on every
    page of its manual). At least MIN_ANCHORS of them, as large a share as the terms rule asks
    of a sentence, every number and code-like name of the claim there too, and no other
    passage holding as many: a tie names no source. Only for a claim the check already found
    supported (it cannot compare scripts), never to overturn a verdict, as `recite` does."""
    folded = statement(claim.text)
    if is_latin_script(folded):
        return None
    words = _latin_words(folded)
    english = [n for n in candidates if n in evidence and evidence[n].scripts == {True}]
    held = {n: {w for w in words if w in evidence[n].folded} for n in english}
    common = set.intersection(*held.values()) if len(held) > 1 else set()
    anchors = words - asked - common
    counts = {n: len(held[n] & anchors) for n in held}
    if len(anchors) < MIN_ANCHORS or not counts:
        return None
    best = max(counts.values())
    winners = [n for n, count in counts.items() if count == best]
    if len(winners) != 1 or best < max(MIN_ANCHORS, rules.min_terms * len(anchors)):
        return None
    (n,) = winners
    terms = set(tokenize(folded))
    if unsupported_reason(folded, terms, [evidence[n]], rules=rules) or unsupported_items(
        without_markers(claim.text), [evidence[n].text]
    ):
        return None
    return n


def _latin_words(text: str) -> frozenset[str]:
    """The words of `text` written in Latin script with at least two letters, casefolded: a
    command, an option, a path (`/etc/logrotate.conf`, one word), a product name."""
    words = (m.group().strip("./:=+-_") for m in _LATIN_WORD.finditer(text))
    return frozenset(w.casefold() for w in words if sum(ch.isalpha() for ch in w) >= 2)


def _in_code(text: str, at: int) -> bool:
    """Whether offset `at` lies inside a fenced code block, closed or not."""
    return _block_at(code_blocks(text), at) is not None


def _block_at(blocks: Sequence[CodeBlock], at: int) -> CodeBlock | None:
    """The code block offset `at` lies in, if any."""
    return next((block for block in blocks if block.start <= at < block.end), None)


@dataclass(frozen=True)
class CodeBlock:
    start: int  # the opening fence line's first character
    end: int  # after the closing fence (before its line break); the text's end when unclosed
    closed: bool


def code_blocks(text: str) -> list[CodeBlock]:
    """The fenced code blocks of `text` as Markdown reads them: a fence is a line of three or
    more backticks or tildes after at most three spaces, and only a line of the same
    character, at least as long and with nothing after it, closes it."""
    blocks: list[CodeBlock] = []
    opened: tuple[int, str] | None = None  # start offset, fence characters
    for line in _LINE.finditer(text):
        fence = _FENCE_LINE.fullmatch(line.group("content"))
        if fence is None:
            continue
        ticks = fence.group("fence")
        if opened is None:
            opened = (line.start(), ticks)
        elif ticks[0] == opened[1][0] and len(ticks) >= len(opened[1]) and not fence["info"]:
            blocks.append(CodeBlock(opened[0], line.end("content"), closed=True))
            opened = None
    if opened is not None:
        blocks.append(CodeBlock(opened[0], len(text), closed=False))
    return blocks
