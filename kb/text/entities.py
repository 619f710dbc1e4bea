"""Entity extraction for the knowledge graph, without an LLM or a neural NER model.

Every chunk of every document passes through here at ingestion, so it must be cheap (hundreds
of chunks a second on one core). It finds what a technical reader would link on: capitalised
names, acronyms, code identifiers, frequent words and word pairs, and Chinese keywords
(jieba's TF-IDF). Keys are normalised so that spelling, case and inflection variants of one
thing land on one graph node, and questions are linked through the same normalisation.
"""

from __future__ import annotations

import itertools
import re
import threading
import unicodedata
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache, lru_cache
from typing import NamedTuple, Protocol, cast

from kb.stores.types import GraphEntity, GraphRelation
from kb.text.script import HAN, has_cyrillic
from kb.text.sparse import (
    CHINESE_STOPWORDS,
    ENGLISH_STOPWORDS,
    HAN_RUN,
    RUSSIAN_STOPWORDS,
    load_jieba,
    stem_russian,
    word_set,
)

NAME = "name"
ACRONYM = "acronym"
IDENTIFIER = "identifier"
KEYPHRASE = "keyphrase"

RELATED_ENTITY_LIMIT = 8  # at most 8 * 7 / 2 = 28 edges per chunk

# Words too common in documentation to name anything, on top of the stopword lists.
_GENERIC = word_set(
    """
    able also am another available based caution could default different e.g etc even example
    examples false first following however i.e id important include included includes
    including instead like made make makes many may might must need needed needs new note
    number ok one order part pm possible provide provided provides run running runs second see
    set several since still thing things three time times tip true two type types use used uses
    using various via want warning way ways well whether within without would yes
    всё её ещё два например необходимо нужно один пример свои свой своя также три являются
    является который которые которая которое которых
    """
)
_NOISE = ENGLISH_STOPWORDS | RUSSIAN_STOPWORDS | _GENERIC
# Verbs that open imperative sentences in documentation ("Install PostgreSQL ...").
_IMPERATIVES = word_set(
    """
    add build call change check choose click configure copy create delete disable download edit
    enable ensure enter install move open read remove restart restore run select set start stop
    type update upgrade use verify
    """
)
_CONNECTORS = frozenset({"of", "de", "du", "la", "von", "van", "der"})
_CHINESE_NOISE = CHINESE_STOPWORDS | word_set("使用 进行 通过 需要 可能 方法 问题 时候 用于")

_W = f"[^\\W{HAN}]"
_URL = r"[A-Za-z][\w+.-]*://[^\s<>()\[\]\"'`]*"
_TOKEN = re.compile(f"{_URL}|(?:~?/)?{_W}(?:(?:{_W}|[-./+#])*(?:{_W}|[+#]))?")
_BOUNDARY = re.compile(r"[.!?;:\n]")
_NUMERIC = re.compile(r"[\d.,:/+#-]+(?:st|nd|rd|th|s|k|m|x|ms|kb|mb|gb|tb)?")
_EDGE_PUNCT = " \t\r\n\"'`.,;:!?()[]{}<>«»“”‘’„‟‹›…–—-*•·|"
_HEXLIKE = re.compile(r"(?=\D*\d)[0-9a-fA-F-]{8,}")

_SKIP, _WORD, _CAP, _ACRONYM, _CAMEL, _IDENT = range(6)
_MAX_NAME_WORDS = 4


class _Token(NamedTuple):
    text: str
    lower: str
    kind: int
    initial: bool  # first token of a sentence or line
    joined: bool  # only plain spaces separate it from the previous token


class _KeywordExtractor(Protocol):
    def extract_tags(
        self, sentence: str, topK: int = ..., withWeight: bool = ...
    ) -> list[tuple[str, float]]: ...


_ANALYSE_LOCK = threading.Lock()


@cache
def _keyword_extractor() -> _KeywordExtractor:
    """jieba.analyse loads a 6 MB IDF table on import: only when Chinese text shows up."""
    load_jieba()
    with _ANALYSE_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import jieba.analyse

    return cast(_KeywordExtractor, jieba.analyse.default_tfidf)


@lru_cache(maxsize=65_536)
def normalise_key(name: str) -> str:
    """Graph key of a surface form: NFKC, casefold, single spaces, no surrounding punctuation,
    Russian words stemmed (Russian inflects names and nouns heavily) and the last English word
    folded from plural ("Logs" -> "log"). Identifiers and other scripts are left as they are."""
    text = " ".join(unicodedata.normalize("NFKC", name).casefold().split()).strip(_EDGE_PUNCT)
    if not text:
        return ""
    words = [_stem_cyrillic(word) for word in text.split(" ")]
    words[-1] = _fold_plural(words[-1])
    return " ".join(words)


def _stem_cyrillic(word: str) -> str:
    if not has_cyrillic(word) or not word.isalpha():
        return word
    return stem_russian(word.replace("ё", "е"))


def _fold_plural(word: str) -> str:
    """Cheap English plural folding, conservative on the endings where names hide (Redis,
    macOS, pandas, status, class)."""
    if len(word) < 4 or word[-1] != "s" or not (word.isascii() and word.isalpha()):
        return word
    if word.endswith("ies") and len(word) >= 5:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes")):
        return word[:-2]
    if word.endswith(("ss", "us", "is", "os", "as")):
        return word
    return word[:-1]


def extract_entities(text: str, *, limit: int = 12) -> list[GraphEntity]:
    """The `limit` most salient entities of a chunk, best first, ties broken by key."""
    if limit <= 0 or not text:
        return []
    tally = _Tally()
    tokens = _scan(text)
    _collect_shapes(tokens, tally)
    _collect_keyphrases(tokens, tally)
    if HAN_RUN.search(text) is not None:
        _collect_chinese(text, tally, limit)
    return tally.top(limit)


def extract_query_entities(text: str, *, limit: int = 32) -> list[str]:
    """Candidate graph keys in a question: every 1-3 word window of significant words, in
    order of appearance. Questions are short and often lowercase, so case cannot be relied on;
    over-generating is harmless because only keys that exist in the graph will match."""
    keys: dict[str, None] = {}
    for run in _significant_runs(_scan(text)):
        for start in range(len(run)):
            for size in (3, 2, 1):
                window = run[start : start + size]
                if len(window) == size:
                    keys.setdefault(normalise_key(" ".join(window)))
    for word in _chinese_words(text):
        keys.setdefault(normalise_key(word))
    keys.pop("", None)
    return list(keys)[:limit]


def cooccurrence_relations(entities: Sequence[GraphEntity]) -> list[GraphRelation]:
    """Edges between the chunk's top entities, each pair once with its keys in sorted order, so
    a chunk adds at most 28 edges however many entities it names."""
    keys = sorted(dict.fromkeys(entity.key for entity in entities[:RELATED_ENTITY_LIMIT]))
    return [
        GraphRelation(source_key=source, target_key=target, weight=1.0)
        for source, target in itertools.combinations(keys, 2)
    ]


class _Tally:
    """Scores per key; the first surface form seen names the entity, the strongest type wins."""

    _RANK = {IDENTIFIER: 0, ACRONYM: 1, NAME: 2, KEYPHRASE: 3}

    def __init__(self) -> None:
        self.score: dict[str, float] = {}
        self.name: dict[str, str] = {}
        self.type: dict[str, str] = {}

    def add(self, surface: str, label: str, weight: float) -> None:
        key = normalise_key(surface)
        if not key or len(key) < 2:
            return
        self.score[key] = self.score.get(key, 0.0) + weight
        self.name.setdefault(key, surface)
        current = self.type.get(key)
        if current is None or self._RANK[label] < self._RANK[current]:
            self.type[key] = label

    def top(self, limit: int) -> list[GraphEntity]:
        ranked = sorted(self.score, key=lambda key: (-self.score[key], key))[:limit]
        return [GraphEntity(key=key, name=self.name[key], type=self.type[key]) for key in ranked]


def _scan(text: str) -> list[_Token]:
    """Tokens with the context the rules need: sentence starts (capitals mean nothing there)
    and whether only spaces separate a token from its predecessor (names and phrases never span
    punctuation)."""
    tokens: list[_Token] = []
    previous_end = 0
    for match in _TOKEN.finditer(text):
        start, end = match.span()
        gap = text[previous_end:start]
        previous_end = end
        if gap == " ":
            initial, joined = False, True
        else:
            initial = not tokens or _BOUNDARY.search(gap) is not None
            joined = not initial and gap.isspace()
        surface = match.group()
        kind = _kind(surface)
        if kind == _WORD and gap.endswith("`") and text.startswith("`", end):
            kind = _IDENT
        tokens.append(_Token(surface, surface.lower(), kind, initial, joined))
    return tokens


def _kind(token: str) -> int:
    if len(token) < 2 or _NUMERIC.fullmatch(token):
        return _SKIP
    core = token.replace("-", "")
    if not core.isalpha():
        return _SKIP if "://" in token or _HEXLIKE.fullmatch(token) else _IDENT
    if token.islower():
        return _WORD
    if token.isupper():
        return _ACRONYM if len(token) <= 6 and core == token else _CAP
    if len(token) >= 3 and token[-1] == "s" and token[:-1].isupper():
        return _ACRONYM
    if token.istitle() or (token[0].isupper() and core != token):
        return _CAP
    return _CAMEL


def _collect_shapes(tokens: Sequence[_Token], tally: _Tally) -> None:
    """Acronyms and identifiers count wherever they occur; capitalised runs become names, a
    lone capitalised word only when it does not open a sentence."""
    common = _IMPERATIVES | {token.lower for token in tokens if token.kind == _WORD}
    run: list[_Token] = []
    for token in tokens:
        if not token.joined:
            _flush_name(run, tally, common)
        if token.lower in _NOISE or token.kind == _SKIP:
            if run and token.lower in _CONNECTORS:
                run.append(token)
            else:
                _flush_name(run, tally, common)
            continue
        if token.kind in (_IDENT, _CAMEL):
            tally.add(token.text, IDENTIFIER, 2.0)
        elif token.kind == _ACRONYM:
            tally.add(token.text, ACRONYM, 2.0)
        if token.kind in (_CAP, _ACRONYM, _CAMEL):
            run.append(token)
        else:
            _flush_name(run, tally, common)
    _flush_name(run, tally, common)


def _flush_name(run: list[_Token], tally: _Tally, common: frozenset[str] | set[str]) -> None:
    """A run opening a sentence with a word that is also used in lower case (or a usual
    imperative) is that word plus a name, not one name."""
    if not run:
        return
    if len(run) >= 2 and run[0].initial and run[0].kind == _CAP and run[0].lower in common:
        del run[0]
    while run and run[-1].lower in _CONNECTORS:
        run.pop()
    if len(run) == 1 and run[0].kind == _CAP and not run[0].initial:
        tally.add(run[0].text, NAME, 1.5)
    elif 2 <= len(run) <= _MAX_NAME_WORDS:
        tally.add(" ".join(token.text for token in run), NAME, 3.0)
    run.clear()


def _collect_keyphrases(tokens: Sequence[_Token], tally: _Tally) -> None:
    """Content words and adjacent word pairs that recur in the chunk; recurrence stands in for
    the part-of-speech filter we cannot afford."""
    words: Counter[str] = Counter()
    pairs: Counter[str] = Counter()
    previous: str | None = None
    for token in tokens:
        content = _content_word(token)
        if content and previous and token.joined:
            pairs[f"{previous} {content}"] += 1
        if content:
            words[content] += 1
        previous = content
    _admit_recurring(words, tally, weight=0.5)
    _admit_recurring(pairs, tally, weight=1.0)


def _content_word(token: _Token) -> str | None:
    plain = token.kind == _WORD or (token.kind == _CAP and token.initial)
    if plain and len(token.lower) >= 3 and token.lower not in _NOISE:
        return token.lower
    return None


def _admit_recurring(counts: Counter[str], tally: _Tally, *, weight: float) -> None:
    """Merge inflected variants ("backup", "backups") before applying the threshold."""
    by_key: Counter[str] = Counter()
    first: dict[str, str] = {}
    for surface, count in counts.items():
        key = normalise_key(surface)
        by_key[key] += count
        first.setdefault(key, surface)
    for key, count in by_key.items():
        if count >= 2:
            tally.add(first[key], KEYPHRASE, weight * count)


def _collect_chinese(text: str, tally: _Tally, limit: int) -> None:
    """jieba's TF-IDF keywords, fed only the Chinese runs so Latin words are not counted twice."""
    chinese = "。".join(HAN_RUN.findall(text))
    for word, weight in _keyword_extractor().extract_tags(chinese, topK=limit, withWeight=True):
        if len(word) >= 2 and word not in _CHINESE_NOISE:
            tally.add(word, KEYPHRASE, 1.0 + weight)


def _significant_runs(tokens: Iterable[_Token]) -> list[list[str]]:
    runs: list[list[str]] = [[]]
    for token in tokens:
        significant = token.kind != _SKIP and token.lower not in _NOISE
        if not token.joined or not significant:
            runs.append([])
        if significant:
            runs[-1].append(token.lower)
    return [run for run in runs if run]


def _chinese_words(text: str) -> list[str]:
    if HAN_RUN.search(text) is None:
        return []
    segmenter = load_jieba()
    return [
        word
        for run in HAN_RUN.findall(text)
        for word in segmenter.cut(run)
        if len(word) >= 2 and word not in _CHINESE_NOISE
    ]
