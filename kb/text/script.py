"""Writing systems: the one home for the character ranges of the scripts Quarry reads, and for
the tests of which script a text is in.

The ranges are fragments of a regex character class, to be placed inside `[...]` and combined
(`f"[0-9{LATIN}{CYRILLIC}]"`). Modules that need a narrower set than CJK take the named part
(HAN_BASIC for Chinese names, CJK_PUNCTUATION for OCR spacing) rather than spelling a range.
"""

from __future__ import annotations

import re

# ASCII letters, Latin-1 Supplement and Latin Extended-A/B (é, ñ, ß, ő, ș). The range also
# holds × and ÷: code that counts letters checks `isalpha()` first.
LATIN = r"A-Za-z\u00c0-\u024f"
GREEK = r"\u0370-\u03ff"
CYRILLIC = r"\u0400-\u04ff"
# Han ideographs: the basic block holds every common Chinese character (what OCR and the name
# rules look for); extension A and the compatibility block complete the set jieba segments.
HAN_BASIC = r"\u4e00-\u9fff"
HAN = rf"\u3400-\u4dbf{HAN_BASIC}\uf900-\ufaff"
KANA = r"\u3040-\u30ff"  # hiragana and katakana
HANGUL = r"\uac00-\ud7af"  # syllables
CJK = f"{KANA}{HAN}{HANGUL}"
# Also written without spaces, one character a token: radicals and ideographic description
# characters (U+2E80-2FFF); Bopomofo, Hangul compatibility jamo, kanbun, strokes and katakana
# phonetic extensions (U+3100-31FF).
CJK_EXTENDED = rf"\u2e80-\u2fff\u3100-\u31ff{CJK}"
CJK_PUNCTUATION = r"\u3000-\u303f"  # ideographic space and full stop, 「」, 、 ...
HALFWIDTH_FULLWIDTH = r"\uff00-\uffef"  # the whole block: ＡＢＣ, ！, ｶﾀｶﾅ, ￥ ...
FULLWIDTH_ASCII = r"\uff01-\uff5e"  # full-width forms of printable ASCII, ！ to ～

_HAN_CHAR = re.compile(f"[{HAN}]")
_CJK_CHAR = re.compile(f"[{CJK}]")
_CYRILLIC_CHAR = re.compile(f"[{CYRILLIC}]")
_KANA_CHAR = re.compile(f"[{KANA}]")
_LATIN_CHAR = re.compile(f"[{LATIN}]")
_LATIN_RUN = re.compile(f"[{LATIN}]+")


def has_cjk(text: str) -> bool:
    """Any Han, kana or Hangul character: text that runs into its neighbours without spaces."""
    return _CJK_CHAR.search(text) is not None


def has_cyrillic(text: str) -> bool:
    return _CYRILLIC_CHAR.search(text) is not None


def is_latin_script(text: str) -> bool:
    """At least as many Latin-script words as other words, each Han character counting as a word
    of its own: a Chinese question naming `MySQL` and `binlog` is still Chinese.

    Words are what whitespace separates, so `pg_dump` is one Latin word and `nginx-сервер` one
    word in another script (not all its letters are Latin). Kana and Hangul count by the word,
    full-width letters (ＡＰＴ) as another script: NFKC-normalise first to read them as Latin.
    """
    latin = other = 0
    for word in text.split():
        han = len(_HAN_CHAR.findall(word))
        letters = [ch for ch in _HAN_CHAR.sub("", word) if ch.isalpha()]
        if letters and all(_is_latin(ch) for ch in letters):
            latin += 1
        elif letters and not han:
            other += 1
        other += han
    return latin >= other


def language_of(question: str) -> str:
    """The language Quarry answers and refuses a question in: "en" for a question mostly in
    Latin script, else "zh" with CJK letters, "ru" with Cyrillic ones, else "en"."""
    if is_latin_script(question):
        return "en"
    if has_cjk(question):
        return "zh"
    return "ru" if has_cyrillic(question) else "en"


LATIN_SCRIPT = "latin"
HAN_SCRIPT = "han"
CYRILLIC_SCRIPT = "cyrillic"
OTHER_SCRIPT = "other"  # kana, Hangul, Greek, Arabic ...: read, but not translated into


def script_of(text: str) -> str:
    """The script a text is written in: Latin where `is_latin_script` says so (the one test of
    Latin for every caller), else the script of most of its other words, counted the same way
    (each Han character a word). Kana make a word Japanese, not Chinese, whatever Han it has.
    One of the *_SCRIPT names."""
    if is_latin_script(text):
        return LATIN_SCRIPT
    counts = {HAN_SCRIPT: 0, CYRILLIC_SCRIPT: 0, OTHER_SCRIPT: 0}
    for word in text.split():
        han = len(_HAN_CHAR.findall(word))
        letters = [ch for ch in _HAN_CHAR.sub("", word) if ch.isalpha()]
        if _KANA_CHAR.search(word):
            counts[OTHER_SCRIPT] += han + len(letters)
        elif han:
            counts[HAN_SCRIPT] += han
        elif letters and any(_CYRILLIC_CHAR.match(ch) for ch in letters):
            counts[CYRILLIC_SCRIPT] += 1
        elif letters and not all(_is_latin(ch) for ch in letters):
            counts[OTHER_SCRIPT] += 1
    best = max(counts.values())
    return next(script for script, count in counts.items() if count == best)


def other_script_share(text: str) -> float:
    """The share of letters outside LATIN; 0 for text without letters."""
    letters = sum(map(str.isalpha, text))
    if not letters:
        return 0.0
    return sum(map(str.isalpha, _LATIN_RUN.sub("", text))) / letters


def script_share(text: str, script: str) -> float:
    """The share of a text's letters written in `script` (HAN_SCRIPT or CYRILLIC_SCRIPT; each
    Han character a letter); 0 for text without letters."""
    letters = sum(map(str.isalpha, text))
    if not letters:
        return 0.0
    pattern = _HAN_CHAR if script == HAN_SCRIPT else _CYRILLIC_CHAR
    return len(pattern.findall(text)) / letters


def _is_latin(letter: str) -> bool:
    return _LATIN_CHAR.match(letter) is not None
