"""Script detection: the character ranges and the tests of which script a text is in."""

from __future__ import annotations

import re
import unicodedata

import pytest

from kb.text import script
from kb.text.script import (
    has_cjk,
    has_cyrillic,
    is_latin_script,
    language_of,
    other_script_share,
)

pytestmark = pytest.mark.unit

RANGES = (
    "LATIN",
    "GREEK",
    "CYRILLIC",
    "HAN_BASIC",
    "HAN",
    "KANA",
    "HANGUL",
    "CJK",
    "CJK_EXTENDED",
    "CJK_PUNCTUATION",
    "HALFWIDTH_FULLWIDTH",
    "FULLWIDTH_ASCII",
)
CJK_ALL = {"HAN", "CJK", "CJK_EXTENDED"}


@pytest.mark.parametrize(
    ("char", "ranges"),
    [
        pytest.param("a", {"LATIN"}, id="ascii-letter"),
        pytest.param("é", {"LATIN"}, id="latin-1"),
        pytest.param("ș", {"LATIN"}, id="latin-extended-b"),
        pytest.param("λ", {"GREEK"}, id="greek"),
        pytest.param("ж", {"CYRILLIC"}, id="cyrillic"),
        pytest.param("Ё", {"CYRILLIC"}, id="cyrillic-yo"),
        pytest.param("中", {"HAN_BASIC"} | CJK_ALL, id="han-basic"),
        pytest.param("㐀", CJK_ALL, id="han-extension-a"),
        # escaped: an editor's NFC would write U+8C48, a basic-block character
        pytest.param("\uf900", CJK_ALL, id="han-compatibility"),
        pytest.param("か", {"KANA", "CJK", "CJK_EXTENDED"}, id="hiragana"),
        pytest.param("カ", {"KANA", "CJK", "CJK_EXTENDED"}, id="katakana"),
        pytest.param("한", {"HANGUL", "CJK", "CJK_EXTENDED"}, id="hangul"),
        pytest.param("⺀", {"CJK_EXTENDED"}, id="radical"),
        pytest.param("ㄅ", {"CJK_EXTENDED"}, id="bopomofo"),
        pytest.param("。", {"CJK_PUNCTUATION"}, id="ideographic-full-stop"),
        pytest.param("Ａ", {"HALFWIDTH_FULLWIDTH", "FULLWIDTH_ASCII"}, id="full-width-letter"),
        pytest.param("ｶ", {"HALFWIDTH_FULLWIDTH"}, id="half-width-katakana"),
        pytest.param("1", set(), id="digit"),
        pytest.param("-", set(), id="hyphen"),
    ],
)
def test_each_range_holds_what_its_name_says(char: str, ranges: set[str]) -> None:
    # given a character, when each range is used as a regex class
    matched = {name for name in RANGES if re.fullmatch(f"[{getattr(script, name)}]", char)}

    # then exactly the named ranges hold it
    assert matched == ranges


@pytest.mark.parametrize(
    ("text", "latin"),
    [
        pytest.param("How do I restore a PostgreSQL backup?", True, id="english"),
        pytest.param("Où est la sauvegarde ?", True, id="french"),
        pytest.param("Why does pg_dump skip this?", True, id="identifier"),
        pytest.param("Как восстановить резервную копию?", False, id="russian"),
        pytest.param("Как настроить APT?", False, id="russian-quoting-latin"),
        pytest.param("Как настроить pg_dump и cron?", False, id="russian-with-names"),
        pytest.param("Где лежит pg_hba.conf для PostgreSQL 15?", False, id="russian-file-name"),
        pytest.param("Restart the nginx-сервер now", True, id="english-with-mixed-word"),
        pytest.param("Перезапусти nginx-сервер", False, id="russian-with-mixed-word"),
        pytest.param("How do I translate резервная копия?", True, id="english-quoting-russian"),
        pytest.param("如何恢复 PostgreSQL 备份？", False, id="chinese-with-name"),
        pytest.param("怎么用 SSH 建一条加密隧道？", False, id="chinese-quoting-latin"),
        pytest.param(
            "MySQL 的 binlog 格式 ROW 和 STATEMENT 有什么区别？", False, id="chinese-many-latin"
        ),
        pytest.param("MySQL的binlog怎么看", False, id="chinese-unspaced-latin"),
        pytest.param("バックアップ を 復元 する 方法", False, id="japanese"),
        pytest.param("백업을 복원하는 방법", False, id="korean"),
        pytest.param("ＨＯＷ ＴＯ ＰＩＮ ＡＰＴ", False, id="full-width-latin"),
        pytest.param("", True, id="empty"),
        pytest.param("42 ?", True, id="no-letters"),
    ],
)
def test_is_latin_script_goes_by_the_majority_of_words(text: str, latin: bool) -> None:
    assert is_latin_script(text) is latin


def test_full_width_latin_reads_as_latin_once_normalised() -> None:
    # given a question typed in full-width letters, when NFKC-normalised first
    # then it is Latin script
    assert is_latin_script(unicodedata.normalize("NFKC", "ＨＯＷ ＴＯ ＰＩＮ ＡＰＴ"))


@pytest.mark.parametrize(
    ("text", "share"),
    [
        pytest.param("apt-get install perl", 0.0, id="english"),
        pytest.param("Ñandú über café", 0.0, id="accented-latin"),
        pytest.param("perl 版本", 1 / 3, id="han"),
        pytest.param("perl версия", 6 / 10, id="cyrillic"),
        pytest.param("ＡＢ cd", 2 / 4, id="full-width"),
        pytest.param("", 0.0, id="empty"),
        pytest.param("× ÷ 42", 0.0, id="no-letters"),
    ],
)
def test_other_script_share_counts_letters(text: str, share: float) -> None:
    assert other_script_share(text) == pytest.approx(share)


@pytest.mark.parametrize(
    ("text", "cjk", "cyrillic"),
    [
        pytest.param("pg_dump", False, False, id="latin"),
        pytest.param("ёлка", False, True, id="cyrillic"),
        pytest.param("nginx-сервер", False, True, id="mixed-cyrillic-latin"),
        pytest.param("请联系alice", True, False, id="han"),
        pytest.param("かな", True, False, id="kana"),
        pytest.param("한글", True, False, id="hangul"),
        pytest.param("ＡＢＣ。", False, False, id="full-width-and-punctuation"),
        pytest.param("", False, False, id="empty"),
    ],
)
def test_has_cjk_and_has_cyrillic(text: str, cjk: bool, cyrillic: bool) -> None:
    assert has_cjk(text) is cjk
    assert has_cyrillic(text) is cyrillic


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("How long are backups kept?", "latin", id="english"),
        pytest.param("如何用 pg_dump 备份 PostgreSQL 数据库？", "han", id="chinese-with-names"),
        pytest.param("Как настроить nginx-сервер для apt?", "cyrillic", id="russian-with-names"),
        pytest.param("Η βάση δεδομένων", "other", id="greek"),
        pytest.param("バックアップ の ほぞん", "other", id="japanese-kana"),
        pytest.param("東京の会議室を予約する", "other", id="japanese-kanji-and-kana"),
        pytest.param("What does 预订 mean пароль сеть сервер", "cyrillic", id="mixed-not-latin"),
        pytest.param("apt 备", "latin", id="tie-goes-to-latin"),
        pytest.param("", "latin", id="empty"),
    ],
)
def test_script_of_names_the_script_of_most_words(text: str, expected: str) -> None:
    assert script.script_of(text) == expected


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("How long are backups kept?", "en"),
        ("备份保留多久？", "zh"),
        ("用 pg_dump 和 pg_restore 怎么迁移？", "zh"),
        ("Сколько хранятся резервные копии?", "ru"),
        ("Как настроить pg_hba.conf?", "ru"),
        ("", "en"),
        ("Πόσο διατηρούνται τα αντίγραφα;", "en"),  # no wording in Greek: English
    ],
)
def test_the_language_answers_and_refusals_are_written_in(question: str, language: str) -> None:
    assert language_of(question) == language
