"""The translations a question is also searched with (retrieval/translation.py): into which
languages, and what is asked of the model and kept. The model is stood in for."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from kb.llm.chat import LlmBusy, Message
from kb.text.script import CYRILLIC_SCRIPT, HAN_SCRIPT, LATIN_SCRIPT
from retrieval.translation import QuestionTranslator, translation_targets

pytestmark = pytest.mark.unit
# Callers of one access scope share remembered translations (retrieval.translation.Sharing).
SCOPE = ((1,), ("group:1",))


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


@pytest.mark.parametrize(
    ("question", "scripts", "targets"),
    [
        pytest.param("How long are backups kept?", {"latin"}, [], id="en-over-en"),
        pytest.param("How long are backups kept?", {"latin", "han"}, ["han"], id="en-over-zh"),
        pytest.param(
            "How long are backups kept?",
            {"han", "cyrillic", "latin", "other"},
            ["han", "cyrillic"],
            id="en-over-everything",
        ),
        pytest.param("备份保留多久？", {"latin", "han"}, ["latin"], id="zh-over-en"),
        pytest.param("备份保留多久？", {"han"}, [], id="zh-over-zh"),
        pytest.param("备份保留多久？", {"cyrillic"}, ["cyrillic"], id="zh-over-ru"),
        pytest.param("备份保留多久？", {""}, ["latin"], id="zh-over-unrecorded"),
        pytest.param("How long are backups kept?", {""}, [], id="en-over-unrecorded"),
        pytest.param("Сколько хранятся копии?", set(), [], id="nothing-readable"),
    ],
)
def test_a_question_is_translated_into_the_other_scripts_its_asker_can_read(
    question: str, scripts: set[str], targets: list[str]
) -> None:
    assert translation_targets(question, scripts) == targets


def test_a_chinese_question_is_translated_once_and_remembered() -> None:
    model = Model("How long are backups kept?\nNote: translated literally.")
    chinese = translator(model)

    first = chinese.translate("备份保留多久？", LATIN_SCRIPT, shared_by=SCOPE)
    again = chinese.translate("备份保留多久？", LATIN_SCRIPT, shared_by=SCOPE)

    assert first == again == "How long are backups kept?"  # the first line only
    assert len(model.asked) == 1
    assert model.asked[0][-1]["content"] == "Translate into English:\n备份保留多久？"


def test_a_busy_model_leaves_the_question_untranslated_and_asks_again_next_time() -> None:
    model = Model(LlmBusy("busy"), "How long are backups kept?")
    russian = translator(model)

    assert (
        russian.translate("Сколько хранятся резервные копии?", LATIN_SCRIPT, shared_by=SCOPE)
        is None
    )
    assert (
        russian.translate("Сколько хранятся резервные копии?", LATIN_SCRIPT, shared_by=SCOPE)
        == "How long are backups kept?"
    )


def test_a_reply_that_is_not_english_is_no_translation_and_not_asked_for_again() -> None:
    model = Model("备份保留多久？")
    chinese = translator(model)

    assert chinese.translate("备份保留多久？", LATIN_SCRIPT, shared_by=SCOPE) == ""
    assert (
        chinese.translate("备份保留多久？", LATIN_SCRIPT, shared_by=SCOPE) == ""
    )  # temperature 0: same reply
    assert len(model.asked) == 1


@pytest.mark.parametrize(
    ("question", "reply", "translated"),
    [
        pytest.param(
            "想把执行超过一秒的 SQL 记到日志里，应该改哪个参数？",
            "Чтобы записывать такие запросы, измените параметр long_query_time в MySQL.",
            "",
            id="answered-instead",
        ),
        pytest.param(
            "怎么记录慢查询？",
            "Как записывать медленные запросы？",
            "Как записывать медленные запросы？",
            id="full-width-mark",
        ),
        pytest.param(
            "怎么记录慢查询？",
            "Медленные запросы записывает параметр log_min_duration_statement!",
            "",
            id="answered-with-an-exclamation",
        ),
        pytest.param(
            "怎么记录慢查询？",
            "«Как записывать медленные запросы?»",
            "«Как записывать медленные запросы?»",
            id="quoted",
        ),
        pytest.param(
            "怎么记录慢查询？",
            "**Как записывать медленные запросы?!** 🙂",
            "**Как записывать медленные запросы?!** 🙂",
            id="emphasis-and-emoji",
        ),
        pytest.param(
            "怎么记录执行时间超过一秒的查询，并且把它们写进哪个日志文件里？",
            "Как записывать запросы, которые выполняются дольше секунды, и в какой",
            "Как записывать запросы, которые выполняются дольше секунды, и в какой",
            id="cut-at-the-token-limit",
        ),
        pytest.param(
            "请说明如何记录慢查询。",
            "Объясните, как записывать медленные запросы.",
            "Объясните, как записывать медленные запросы.",
            id="request-not-a-question",
        ),
    ],
)
def test_a_questions_translation_must_be_a_question(
    question: str, reply: str, translated: str
) -> None:
    """Given a question the small model answered instead of translating, when the reply does
    not end as a question, then it is no translation (its "MySQL" would be searched and found
    missing from the passages); a request that is no question may be translated as one."""
    model = Model(reply)

    assert translator(model).translate(question, CYRILLIC_SCRIPT, shared_by=SCOPE) == translated


def test_a_question_over_several_lines_is_translated_as_one() -> None:
    model = Model("We have two servers. How do we back them up?")

    translator(model).translate("我们有两台服务器。\n怎么备份？", LATIN_SCRIPT, shared_by=SCOPE)

    assert model.asked[0][-1]["content"].endswith("我们有两台服务器。 怎么备份？")


@pytest.mark.parametrize(
    ("into", "reply", "language"),
    [
        pytest.param(HAN_SCRIPT, "备份保留多久？", "Chinese", id="zh"),
        pytest.param(CYRILLIC_SCRIPT, "Сколько хранятся резервные копии?", "Russian", id="ru"),
    ],
)
def test_an_english_question_is_translated_into_the_language_asked_for(
    into: str, reply: str, language: str
) -> None:
    model = Model(reply)

    translated = translator(model).translate("How long are backups kept?", into, shared_by=SCOPE)

    assert translated == reply
    assert (
        model.asked[0][-1]["content"] == f"Translate into {language}:\nHow long are backups kept?"
    )
    assert language in model.asked[0][0]["content"]


def test_a_reply_in_another_language_than_asked_for_is_no_translation() -> None:
    model = Model("How long are backups kept?")

    assert (
        translator(model).translate("How long are backups kept?", CYRILLIC_SCRIPT, shared_by=SCOPE)
        == ""
    )


def test_translations_into_different_languages_are_remembered_apart() -> None:
    model = Model("备份保留多久？", "Сколько хранятся резервные копии?")
    both = translator(model)

    chinese = both.translate("How long are backups kept?", HAN_SCRIPT, shared_by=SCOPE)
    russian = both.translate("How long are backups kept?", CYRILLIC_SCRIPT, shared_by=SCOPE)

    assert (chinese, russian) == ("备份保留多久？", "Сколько хранятся резервные копии?")
    assert both.translate("How long are backups kept?", HAN_SCRIPT, shared_by=SCOPE) == chinese
    assert len(model.asked) == 2


def test_a_translation_is_remembered_only_for_callers_of_the_same_scope() -> None:
    """A remembered translation answers seconds sooner: served to a caller of another scope,
    it would tell them that someone asked those exact words."""
    model = Model("Is Smith on the layoff list?", "Is Smith on the layoff list?")
    chinese = translator(model)
    hr, engineering = ((1, 2), ("g:hr",)), ((3,), ("g:eng",))

    chinese.translate("史密斯在裁员名单上吗？", LATIN_SCRIPT, shared_by=hr)
    chinese.translate("史密斯在裁员名单上吗？", LATIN_SCRIPT, shared_by=hr)
    assert len(model.asked) == 1
    chinese.translate("史密斯在裁员名单上吗？", LATIN_SCRIPT, shared_by=engineering)
    assert len(model.asked) == 2
