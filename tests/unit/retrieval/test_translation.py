"""The English translation a question not in Latin script is also searched with
(retrieval/translation.py). The model is stood in for: what is asked of it and what is kept."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from kb.llm.chat import LlmBusy, Message
from retrieval.translation import QuestionTranslator

pytestmark = pytest.mark.unit


class Model:
    """Replies with the next of `replies`, or raises it; records what it was asked."""

    name = "scripted"

    def __init__(self, *replies: str | Exception) -> None:
        self.replies = list(replies)
        self.asked: list[Sequence[Message]] = []

    def chat(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float = 0.0
    ) -> str:
        self.asked.append(messages)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


def translator(model: Model) -> QuestionTranslator:
    return QuestionTranslator(lambda: model)  # type: ignore[arg-type,return-value]


def test_a_latin_script_question_is_not_translated() -> None:
    model = Model()

    assert translator(model).english("How long are backups kept?") == ""
    assert model.asked == []


def test_a_chinese_question_is_translated_once_and_remembered() -> None:
    model = Model("How long are backups kept?\nNote: translated literally.")
    chinese = translator(model)

    first = chinese.english("备份保留多久？")
    again = chinese.english("备份保留多久？")

    assert first == again == "How long are backups kept?"  # the first line only
    assert len(model.asked) == 1
    assert model.asked[0][-1]["content"] == "Translate into English:\n备份保留多久？"


def test_a_busy_model_leaves_the_question_untranslated_and_asks_again_next_time() -> None:
    model = Model(LlmBusy("busy"), "How long are backups kept?")
    russian = translator(model)

    assert russian.english("Сколько хранятся резервные копии?") == ""
    assert russian.english("Сколько хранятся резервные копии?") == "How long are backups kept?"


def test_a_reply_that_is_not_english_is_no_translation() -> None:
    model = Model("备份保留多久？")

    assert translator(model).english("备份保留多久？") == ""


def test_a_question_over_several_lines_is_translated_as_one() -> None:
    model = Model("We have two servers. How do we back them up?")

    translator(model).english("我们有两台服务器。\n怎么备份？")

    assert model.asked[0][-1]["content"].endswith("我们有两台服务器。 怎么备份？")
