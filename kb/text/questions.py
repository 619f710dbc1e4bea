"""What kind of question a text asks: one that asks for something its own words do not hold
("Which mount option lets the machine boot anyway?", "多久", "Сколько минут"), as opposed to
one answered yes or no ("Can each user have their own crontab?", "…吗？", "Можно ли…") or one
that offers its answers ("7 days or 14 days?").

An answer to an open question made only of the question's own words has not answered it
(retrieval.answer_checks); an answer to the other kinds may be exactly that ("Yes, each user
has their own crontab."). Checked on the question sentence: the last one ending with a question
mark, else the whole text, since users put context first ("Boot waits forever when … Which
mount option …?"). Also whether a text ends as a question or as a statement (`is_question`,
`is_statement`: a question's translation must not end as a statement).
"""

from __future__ import annotations

import re

from kb.text.instructions import normalise, sentences

# Within the first words of the question sentence: "For how long", "Roughly how many", "В
# каком файле".
_LEAD_WORDS = 3
_OPEN = (
    "what which how where when who whom whose why "
    "что какой какая какое какие каким какую какого каких каком как где когда сколько почему "
    "зачем кто чем куда откуда чего"
)
_OPEN_WORDS = frozenset(_OPEN.split())
# A question that starts with one of these is answered yes or no, whatever it asks after.
_YES_NO = (
    "can could do does did is are was were should will would may might must has have shall можно"
)
_YES_NO_OPENERS = frozenset(_YES_NO.split())
_ALTERNATIVES = re.compile(r"\bor\b|(?<![а-яё])(?:или|ли)(?![а-яё])|还是", re.IGNORECASE)
_CHINESE_OPEN = re.compile(r"什么|哪|多少|多久|多长|怎么|怎样|如何|为什么|几|谁")
_CHINESE_YES_NO = re.compile(r"吗\s*$|是不是|能不能|可不可以|有没有|会不会")
_WORD = re.compile(r"[a-zа-яё]+")


def is_open_question(text: str) -> bool:
    """Whether `text` asks for something its words do not hold (see the module docstring)."""
    asked = _question_sentence(normalise(text)).rstrip("?？ ").casefold()
    if _ALTERNATIVES.search(asked):
        return False
    if _CHINESE_OPEN.search(asked):
        return not _CHINESE_YES_NO.search(asked)
    words = _WORD.findall(asked)
    if not words or words[0] in _YES_NO_OPENERS:
        return False
    return any(word in _OPEN_WORDS for word in words[:_LEAD_WORDS])


def _question_sentence(text: str) -> str:
    asking = [s for s in sentences(text) if s.rstrip().endswith(("?", "？"))]
    return asking[-1] if asking else text


# What may close a sentence after its mark: quotes, brackets, emphasis, spaces.
_CLOSERS = " \t\"'”’»)]}*_`"


def is_question(text: str) -> bool:
    """Whether `text` ends with a question mark (before any closing quote or bracket)."""
    return text.rstrip(_CLOSERS).rstrip("!！").endswith(("?", "？"))


def is_statement(text: str) -> bool:
    """Whether `text` ends as a statement: a full stop or an exclamation mark, no question mark
    before it. A question's translation is a question too: one that ends as a statement is the
    model answering it ("… set `long_query_time` in MySQL's configuration.") or talking about
    it, and its words would be searched and read for names the question does not hold
    (retrieval.refusals.missing_names). A reply cut at its length limit ends mid-sentence and is
    not one (retrieval.translation)."""
    end = text.rstrip(_CLOSERS)
    return end.endswith((".", "。", "!", "！")) and not is_question(end)
