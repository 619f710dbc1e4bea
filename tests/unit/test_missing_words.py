"""A refusal names the question's words that its closest passages lack ("The closest passages
do not mention “Visio”."): what the documents cover, and what they do not."""

from __future__ import annotations

import pytest

from retrieval.refusals import (
    MOST_MISSING,
    gap_sentence,
    missing_names,
    missing_words,
    refusal_text,
)
from retrieval.types import Passage

pytestmark = pytest.mark.unit

GNUPLOT = "The plot can be exported to PNG, SVG or PDF files with the set terminal command."
CRON = "cron 守护进程按计划运行任务，每个用户的计划表由 crontab 命令编辑。"


def passage(text: str, n: int = 1) -> Passage:
    return Passage(n, f"c{n}", n, "gnuplot", 4, "Terminals", text, 0.4, ())


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("Can the plots be exported to Visio?", ["Visio"]),
        ("Does the terminal command export plots as Visio or Excel files?", ["Visio", "Excel"]),
        ("Exporting plots to VISIO?", ["VISIO"]),  # as written; stems compared
        ("Can plots be exported as PNG files?", []),  # every word is there
    ],
)
def test_the_words_no_passage_contains_are_named_in_question_order(
    question: str, missing: list[str]
) -> None:
    assert missing_words(question, [passage(GNUPLOT)]) == missing


def test_a_capital_that_only_starts_a_sentence_does_not_make_a_name() -> None:
    question = "Exported plots look blurry. Honestly, can they go to Visio instead?"

    assert missing_words(question, [passage(GNUPLOT)]) == ["Visio"]


def test_a_word_found_in_any_passage_is_not_missing() -> None:
    passages = [passage(GNUPLOT), passage("Visio drawings are not supported.", 2)]

    assert missing_words("Can the plots be exported to Visio?", passages) == []


def test_a_word_is_judged_only_against_passages_in_its_script() -> None:
    """A Chinese or Russian question about an English manual: its own words cannot be compared
    with English text, but a product name it writes in Latin letters can."""
    english = [passage(GNUPLOT)]

    assert missing_words("能把图导出到 Visio 吗？", english) == ["Visio"]
    assert missing_words("Можно ли экспортировать график в Visio?", english) == ["Visio"]
    assert missing_words("能把图导出成 PNG 吗？", english) == []
    assert missing_words("crontab 能把结果发到 Slack 吗？", [passage(CRON)]) == ["Slack"]


def test_secrets_and_names_are_never_named_even_where_the_passages_lack_them() -> None:
    """The refusal is logged: a word quoted alone would escape the redaction that its context
    ("my password is …", a card or identity number, a person's name) triggers."""
    passages = [passage(GNUPLOT)]

    with_password = missing_words("My password is Hunter2xyz, can plots be exported?", passages)
    with_name = missing_words("Can Jane Doe export plots to PDF files?", passages)
    with_number = missing_words("Export plots for SSN 123-45-6789 as PNG?", passages)

    assert with_password == []  # "Hunter2xyz" looks like a name, but redaction takes it
    assert "Jane" not in with_name
    assert with_number == ["SSN"]
    assert missing_words("Can plots be exported to Visio?", passages) == ["Visio"]  # control


def test_a_word_in_another_script_does_not_lift_the_guard_for_the_rest() -> None:
    assert missing_words("What does the licence cost in рублях?", [passage(GNUPLOT)]) == []


def test_words_the_index_neither_stems_nor_segments_are_not_judged() -> None:
    """Japanese kana runs and Korean words would be named whole, endings and all."""
    english = [passage(GNUPLOT)]

    assert missing_words("プロットを Visio にエクスポートできますか？", english) == ["Visio"]
    assert missing_words("플롯을 Visio로 내보낼 수 있습니까?", [passage("플롯 " + GNUPLOT)]) == []


def test_nothing_is_named_when_the_passages_are_barely_on_the_topic() -> None:
    off_topic = "What does the replication proxy licence cost per seat?"
    many = "Which terminal exports plots to Visio, Excel, Word, Keynote and Figma?"

    assert missing_words(off_topic, [passage(GNUPLOT)]) == []  # nothing shared
    assert len(missing_words(many, [passage(GNUPLOT)])) == 0  # more than MOST_MISSING lacking
    assert MOST_MISSING < 5
    assert missing_words("Can the plots be exported to Visio?", []) == []


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (
            "Can plots go to Visio or Excel?",
            "The closest passages do not mention “Visio” or “Excel”.",
        ),
        ("图能导出到 Visio 或 Excel 吗？", "最接近的段落没有提到“Visio”或“Excel”。"),
        (
            "Можно ли в Visio или Excel?",
            "В ближайших фрагментах нет упоминаний «Visio» или «Excel».",
        ),
    ],
    ids=["en", "zh", "ru"],
)
def test_the_refusal_says_what_the_closest_passages_lack_in_the_questions_language(
    question: str, expected: str
) -> None:
    text = refusal_text(question, [passage(GNUPLOT)], ["Visio", "Excel"])

    assert expected in text
    assert text.index(expected) < text.index("gnuplot")  # before the sources it names
    assert expected not in refusal_text(question, [passage(GNUPLOT)])


def test_the_gap_sentence_is_read_back_from_the_refusal_text() -> None:
    """The API's `gap` and the chat's line under "Not found" come from the text, so a cached
    refusal has it too."""
    named = refusal_text("图能导出到 Visio 吗？", [passage(GNUPLOT)], ["Visio"])

    assert gap_sentence(named) == "最接近的段落没有提到“Visio”。"
    assert gap_sentence(refusal_text("图能导出到 Visio 吗？", [passage(GNUPLOT)])) == ""
    assert gap_sentence("Visio is supported [1].") == ""


def test_an_english_name_is_not_judged_against_a_chinese_page_that_may_translate_it() -> None:
    """ "PTO" may be 带薪休假 on a Chinese page: an English question over it is left to the
    model; a Chinese question's "Slack" is written as such on a Chinese page, and is judged."""
    leave = passage("员工每年有十五天带薪休假，新员工入职满三个月后可以申请。")

    assert missing_words("What is the PTO policy for new employees?", [leave]) == []
    assert missing_words("新员工的带薪休假能用 Slack 申请吗？", [leave]) == ["Slack"]


def test_days_months_and_words_after_a_colon_or_line_break_are_not_names() -> None:
    reset = passage("Reset your password on the self-service page; the VPN client asks for it.")

    assert missing_words("Can I reset my password on Monday?", [reset]) == []
    assert missing_words("Reset the password: Afterwards the VPN client asks again?", [reset]) == []
    assert missing_words("I reset my password\nAfterwards the VPN client asks?", [reset]) == []
    assert missing_words("Can I reset my password through Okta?", [reset]) == ["Okta"]


def test_a_name_in_another_script_is_judged_in_the_translation_searched() -> None:
    """The name "Рутокен" cannot be compared with English passages as asked; the English
    translation the question was searched in writes it "Rutoken", which they lack."""
    login = passage("Users log in with their password or with a smart card and its PIN.")
    question = "Можно ли входить по Рутокену вместо пароля?"
    translation = "Can I log in with a Rutoken instead of a password?"

    assert missing_words(question, [login]) == []
    assert missing_names(question, [translation], [login]) == ["Rutoken"]
    assert missing_names(question, ["Can I log in with a smart card instead?"], [login]) == []
    assert missing_names("Can I log in with a Rutoken?", [], [login]) == ["Rutoken"]


def test_a_translation_never_names_what_the_question_hid_or_already_judged() -> None:
    """A secret redaction sees in the question ("пароль X") may lose that context in the
    model's translation: a question redaction changes is judged as asked only. A word the
    question writes itself was judged there, in its own words."""
    login = passage("Users log in with their password or with a smart card and its PIN.")
    secret = "Мой пароль Vq7Plk93Wzr не подходит: можно ли войти по Рутокену?"
    leaked = "My Vq7Plk93Wzr password does not work: can I log in with a Rutoken?"
    backups = passage("Backups are copied to the nas every night and kept for 35 days.")
    english = "Are the backups copied to the nas every night?"

    assert missing_words(leaked, [login]) == ["Vq7Plk93Wzr", "Rutoken"]  # what it would say
    assert missing_names(secret, [leaked], [login]) == []
    assert missing_names(english, ["备份每天晚上复制到 nas 吗？"], [backups]) == []


def test_a_question_held_back_as_asked_is_not_judged_in_translation() -> None:
    """Sharing no word with the passages in its own script, the question is not contrasted
    with them as asked: its translation does not overturn that."""
    canteen = passage("员工食堂每天中午十二点开放，下午两点关闭。", n=1)
    login = passage("Users log in with their password or with a smart card and its PIN.", n=2)
    question = "瑞托肯令牌能否替代密码？"
    translation = "Can a Rutoken replace the password?"

    assert missing_words(question, [canteen, login]) == []
    assert missing_words(translation, [canteen, login]) == ["Rutoken"]
    assert missing_names(question, [translation], [canteen, login]) == []


def test_a_translations_words_in_the_questions_own_script_are_not_new_names() -> None:
    """Given an English question about Chinese pages whose Chinese translation kept a piece of
    one of its English words ("unattended" as "无attended的"), when names are judged in the
    translation, then the piece is the asker's own word, not a name the pages lack; a Chinese
    question's translation still names what the pages lack in English words."""
    preseed = passage("自动安装时，安装程序可以从网络、U 盘或 initrd 中读取预置文件。")
    question = "For an unattended Debian install, where can the installer read the answers file?"
    translation = "对于无attended的Debian安装，安装程序可以从哪里读取答案文件？"

    assert missing_words(translation, [preseed]) == ["attended", "Debian"]
    assert missing_names(question, [translation], [preseed]) == []
    login = passage("Users log in with their password or with a smart card and its PIN.")
    assert missing_names("能用瑞托肯登录吗？", ["Can I log in with a Rutoken?"], [login]) == [
        "Rutoken"
    ]
