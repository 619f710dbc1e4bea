"""BM25-style sparse vectors for the `sparse` named vector in Qdrant.

Documents store only BM25's saturated term-frequency part and queries 1.0 per term; the vector
index multiplies each query term by its inverse document frequency among the chunks the caller
may read (`kb.stores.qdrant_common.scoped_query`), never among all chunks, so ranking reveals
nothing about chunks outside the caller's scope. Ingestion and retrieval must tokenize
identically, which is why the stemmers are the pure-Python Snowball classes imported directly
(never PyStemmer, whose Snowball version may differ) and term ids are a stable hash rather than
Python's salted `hash()`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
import unicodedata
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping
from functools import cache, lru_cache
from pathlib import Path
from typing import Protocol, cast

from snowballstemmer.english_stemmer import EnglishStemmer
from snowballstemmer.russian_stemmer import RussianStemmer

from kb.stores.types import SparseVector
from kb.text.script import HAN, has_cyrillic


def word_set(words: str) -> frozenset[str]:
    """Word lists are kept as wrapped prose in the source: easier to read and diff."""
    return frozenset(words.split())


ENGLISH_STOPWORDS = word_set(
    """
    a about above after again against ain all am an and any are aren as at be because been
    before being below between both but by can couldn d did didn do does doesn doing don down
    during each few for from further had hadn has hasn have haven having he her here hers
    herself him himself his how i if in into is isn it its itself just ll m ma me mightn more
    most mustn my myself needn no nor not now o of off on once only or other our ours
    ourselves out over own re s same shan she should shouldn so some such t than that the
    their theirs them themselves then there these they this those through to too under until
    up ve very was wasn we were weren what when where which while who whom why will with won
    wouldn y you your yours yourself yourselves
    """
)

RUSSIAN_STOPWORDS = word_set(
    """
    а без более больше будет будто бы был была были было быть в вам вас ведь во вот впрочем
    все всегда всего всех всю вы где да даже для до другой его ее ей ему если есть еще ж же
    за зачем здесь и из или им иногда их к как какая какой когда конечно кто куда ли либо
    лучше между меня мне много может можно мой моя мы на над надо наконец нас не него нее ней
    нельзя нет ни нибудь никогда ним них ничего но ну о об один он она они опять от перед по
    под после потом потому почти при про раз разве с сам свою себе себя сейчас со совсем
    так также такой там тебя тем теперь то тогда того тоже только том тот три тут ты у уж уже
    хорошо хоть чего чем через что чтоб чтобы чуть эта эти это этого этой этом этот эту я
    """
)

CHINESE_STOPWORDS = word_set(
    """
    的 了 和 是 在 与 及 或 等 也 就 都 而 其 这 那 之 为 对 以 于 中 个 我 你 他 她 它 们
    我们 你们 他们 它们 有 没有 不 很 被 把 从 到 如何 怎么 怎样 什么 哪 哪些 吗 呢 吧 啊
    一个 可以 会 要 能 将 并 但 但是 如果 因为 所以 这个 那个 这些 那些 上 下 里 着 过 给
    让 还 又 或者 以及 时 得 地
    """
)

# Han runs are segmented by jieba.
HAN_RUN = re.compile(f"[{HAN}]+")
_HAN_SPLIT = re.compile(f"([{HAN}]+)")
_WORD = re.compile(r"\w+")

_MEMO_LIMIT = 200_000
_HASH_MASK = 0x7FFFFFFF


class Segmenter(Protocol):
    """The part of `jieba.Tokenizer` we use; jieba ships no type hints."""

    def cut(self, sentence: str, cut_all: bool = ..., HMM: bool = ...) -> Iterator[str]: ...


_STEM_LOCK = threading.Lock()
_ENGLISH = EnglishStemmer()
_RUSSIAN = RussianStemmer()
_JIEBA_LOCK = threading.Lock()


@lru_cache(maxsize=65_536)
def stem_english(word: str) -> str:
    """Snowball English stem of a lowercase word; the stemmer object is stateful, hence the lock
    (taken only on a cache miss)."""
    with _STEM_LOCK:
        return str(_ENGLISH.stemWord(word))


@lru_cache(maxsize=65_536)
def stem_russian(word: str) -> str:
    """Snowball Russian stem of a lowercase word (ё is folded to е by the stemmer)."""
    with _STEM_LOCK:
        return str(_RUSSIAN.stemWord(word))


@cache
def load_jieba() -> Segmenter:
    """Import and initialise jieba once per process, quietly.

    jieba logs at DEBUG to stderr by default and pickles its prefix dictionary into the system
    temp dir; we silence it and give it a private cache folder so another user cannot plant a
    cache file for us to load.
    """
    with _JIEBA_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import jieba

        jieba.setLogLevel(logging.WARNING)
        jieba.dt.tmp_dir = _private_cache_dir()
        jieba.dt.initialize()
    return cast(Segmenter, jieba.dt)


def _private_cache_dir() -> str:
    path = Path(tempfile.gettempdir()) / f"quarry-jieba-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    if path.stat().st_uid != os.getuid():
        return tempfile.mkdtemp(prefix="quarry-jieba-")
    return str(path)


def tokenize(text: str) -> list[str]:
    """Index terms of `text`: stemmed Latin and Cyrillic words, identifiers kept whole (split
    only on non-word characters, so `pg_dump` and `x86_64` survive), Chinese segmented."""
    if not text:
        return []
    lowered = unicodedata.normalize("NFKC", text).lower()
    if HAN_RUN.search(lowered) is None:
        return _word_tokens(lowered)
    tokens: list[str] = []
    for position, part in enumerate(_HAN_SPLIT.split(lowered)):
        tokens.extend(_chinese_tokens(part) if position % 2 else _word_tokens(part))
    return tokens


def words_and_terms(text: str) -> list[tuple[str, str]]:
    """Each word of `text` as written (NFKC), with the index term `tokenize` makes of it, ""
    for a word it drops (a stopword): to name in a reply the words a comparison of terms
    found."""
    normal = unicodedata.normalize("NFKC", text)
    pairs: list[tuple[str, str]] = []
    for position, part in enumerate(_HAN_SPLIT.split(normal)):
        if position % 2:
            pairs.extend(
                (word, word if word not in CHINESE_STOPWORDS else "")
                for word in load_jieba().cut(part)
            )
        else:
            pairs.extend((word, _analyse_word(word.lower())) for word in _WORD.findall(part))
    return pairs


_WORD_MEMO: dict[str, str] = {}


def _word_tokens(lowered: str) -> list[str]:
    """Vocabularies are Zipfian, so memoising word -> term (or "" when dropped) makes the
    pure-Python stemmer nearly free after warm-up."""
    memo = _WORD_MEMO
    if len(memo) > _MEMO_LIMIT:
        memo.clear()
    out: list[str] = []
    for word in _WORD.findall(lowered):
        term = memo.get(word)
        if term is None:
            term = memo[word] = _analyse_word(word)
        if term:
            out.append(term)
    return out


def _analyse_word(word: str) -> str:
    if not word.strip("_"):
        return ""
    if has_cyrillic(word):
        word = word.replace("ё", "е")
        if word in RUSSIAN_STOPWORDS:
            return ""
        return stem_russian(word) if word.isalpha() else word
    if word in ENGLISH_STOPWORDS:
        return ""
    return stem_english(word) if word.isascii() and word.isalpha() else word


def _chinese_tokens(run: str) -> list[str]:
    return [word for word in load_jieba().cut(run) if word not in CHINESE_STOPWORDS]


_INDEX_MEMO: dict[str, int] = {}


def term_index(term: str) -> int:
    """Stable 31-bit id of a term: the same in every process and release, unlike `hash()`."""
    index = _INDEX_MEMO.get(term)
    if index is None:
        if len(_INDEX_MEMO) > _MEMO_LIMIT:
            _INDEX_MEMO.clear()
        digest = hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest()
        index = _INDEX_MEMO[term] = int.from_bytes(digest, "big") & _HASH_MASK
    return index


class SparseEncoder:
    """Turns text into sparse vectors; documents get BM25 TF weights, queries unit weights."""

    def __init__(self, *, avgdl: float = 256.0, k1: float = 1.2, b: float = 0.75) -> None:
        if avgdl <= 0 or k1 < 0 or not 0 <= b <= 1:
            raise ValueError("need avgdl > 0, k1 >= 0 and 0 <= b <= 1")
        self.avgdl = avgdl
        self.k1 = k1
        self.b = b

    def encode_document(self, text: str) -> SparseVector:
        """BM25 saturation tf*(k1+1)/(tf + k1*(1-b+b*dl/avgdl)); the IDF is the scope's, at
        query time."""
        counts = Counter(tokenize(text))
        length = sum(counts.values())
        norm = self.k1 * (1.0 - self.b + self.b * length / self.avgdl)
        scale = self.k1 + 1.0
        return _to_vector({term: tf * scale / (tf + norm) for term, tf in counts.items()})

    def encode_query(self, text: str) -> SparseVector:
        """One unit weight per distinct term: repeats in a short question carry no signal."""
        return _to_vector(dict.fromkeys(tokenize(text), 1.0))


def _to_vector(weights: Mapping[str, float]) -> SparseVector:
    """Sorted, unique indices as Qdrant requires; two terms colliding on one id add up."""
    by_index: dict[int, float] = {}
    for term, weight in weights.items():
        index = term_index(term)
        by_index[index] = by_index.get(index, 0.0) + weight
    indices = sorted(by_index)
    return SparseVector(indices=indices, values=[by_index[index] for index in indices])
