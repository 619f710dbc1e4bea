"""`python -m bench claims`: the labelled set's shape (and, when the manuals are installed, that
its passages are their text), the halves, and the metric arithmetic against counts worked out by
hand."""

from __future__ import annotations

import html
import re
from collections import Counter

import pytest

from bench.claims import (
    CLAIMS,
    HALVES,
    LANGS,
    SOURCE_LANGS,
    InvalidSet,
    Scores,
    Source,
    answers,
    breakdown,
    choose_threshold,
    half_of,
    load_items,
    markers,
    parse_item,
    ratio,
    renumber,
    score,
)
from bench.common.corpus import SOURCES

pytestmark = pytest.mark.unit

ITEMS = load_items(CLAIMS)


def _row(**changes):
    row = {
        "id": "cl-x",
        "lang": "en",
        "sentence": "Backups are kept for 35 days [1].",
        "passages": [{"n": 1, "source": "postgresql-doc-15", "file": "a.html", "text": "t"}],
        "supported": True,
        "kind": "paraphrase",
    }
    return {**row, **changes}


def test_the_set_is_large_balanced_and_mixed():
    labels = Counter(item.supported for item in ITEMS)
    langs = Counter(item.lang for item in ITEMS)
    assert len(ITEMS) >= 100
    assert labels[True] >= 50 and labels[False] >= 50
    assert set(langs) == set(LANGS)
    assert langs["en"] / len(ITEMS) >= 0.5
    assert min(langs["zh"], langs["ru"]) / len(ITEMS) >= 0.15
    assert sum(item.cross_language for item in ITEMS) >= 15
    assert {item.passages[0].source for item in ITEMS} <= set(SOURCE_LANGS)


def test_every_label_holds_hard_cases_of_each_language():
    for lang in LANGS:
        own = [item for item in ITEMS if item.lang == lang]
        assert {item.supported for item in own} == {True, False}
    cross = [item for item in ITEMS if item.cross_language]
    assert {item.supported for item in cross} == {True, False}


def test_ids_are_unique_and_sentences_cite_their_passages():
    assert len({item.id for item in ITEMS}) == len(ITEMS)
    for item in ITEMS:
        assert set(markers(item.sentence)) <= {p.n for p in item.passages}, item.id


@pytest.mark.skipif(
    not all(folder.is_dir() for folder in SOURCES.values()), reason="manuals not installed"
)
def test_passages_are_the_manuals_text():
    pages: dict[tuple[str, str], str] = {}
    for item in ITEMS:
        for passage in item.passages:
            key = (passage.source, passage.file)
            if key not in pages:
                raw = (SOURCES[passage.source] / passage.file).read_text(errors="ignore")
                pages[key] = _collapse(html.unescape(re.sub(r"<[^>]+>", "", raw)))
            for line in passage.text.splitlines():
                assert _collapse(line) in pages[key], (item.id, line[:60])


def _collapse(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_halves_are_fixed_by_the_id_and_both_used():
    assert half_of("cl-001") == half_of("cl-001")
    assert {half_of(f"cl-{i:03d}") for i in range(1, 20)} == set(HALVES)
    counts = Counter(item.half for item in ITEMS)
    assert min(counts.values()) >= len(ITEMS) // 3
    for h in HALVES:
        assert {item.supported for item in ITEMS if item.half == h} == {True, False}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"lang": "de"}, "lang", id="unknown-language"),
        pytest.param({"supported": "yes"}, "supported", id="label-not-boolean"),
        pytest.param({"sentence": "Kept 35 days [2]."}, "cites", id="marker-names-no-passage"),
        pytest.param({"passages": []}, "numbered", id="no-passage"),
    ],
)
def test_parse_item_rejects(changes, message):
    with pytest.raises(ValueError, match=message):
        parse_item(_row(**changes))


def test_load_items_names_the_bad_line(tmp_path):
    path = tmp_path / "claims.jsonl"
    path.write_text('{"id": "a"}\n', encoding="utf-8")
    with pytest.raises(InvalidSet, match=r"claims\.jsonl:1"):
        load_items(path)


def test_cross_language_is_the_sentence_against_its_passages_language():
    english = parse_item(_row())
    chinese_on_english = parse_item(_row(lang="zh", sentence="备份保留 35 天 [1]。"))
    assert english.pairing == "same-language"
    assert chinese_on_english.pairing == "cross-language"


def test_score_counts_unsupported_as_the_positive_class():
    # (supported, flagged): 2 caught, 1 false alarm, 1 missed, 3 served correctly.
    pairs = [(False, True)] * 2 + [(True, True)] + [(False, False)] + [(True, False)] * 3
    scores = score(pairs)
    assert scores == Scores(tp=2, fp=1, fn=1, tn=3)
    result = scores.as_json()
    assert result["n"] == 7
    assert result["unsupported"] == 3 and result["supported"] == 4
    assert result["accuracy"] == round(5 / 7, 3)
    assert result["flag_precision"] == round(2 / 3, 3)
    assert result["flag_recall"] == round(2 / 3, 3)
    assert result["supported_precision"] == 0.75  # 3 of the 4 served
    assert result["supported_recall"] == 0.75  # 3 of the 4 supported


def test_a_checker_that_never_flags_has_no_flag_precision():
    result = score([(True, False), (False, False)]).as_json()
    assert result["accuracy"] == 0.5
    assert result["flag_precision"] is None
    assert result["flag_recall"] == 0.0
    assert ratio(0, 0) is None


def test_breakdown_groups_rows():
    rows = [
        {"half": "A", "lang": "en", "pairing": "same-language", "kind": "k", "supported": True},
        {"half": "B", "lang": "zh", "pairing": "cross-language", "kind": "k", "supported": False},
    ]
    result = breakdown(rows, lambda row: row["lang"] == "zh")
    assert result["all"]["accuracy"] == 1.0
    assert result["lang"]["zh"]["counts"] == {"tp": 1, "fp": 0, "fn": 0, "tn": 0}
    assert set(result["pairing"]) == {"same-language", "cross-language"}


def test_renumber_shifts_every_marker():
    assert renumber("A [1] and B [1, 2].", 3) == "A [4] and B [4, 5]."


def test_answers_join_sentences_and_renumber_passages():
    items = [parse_item(_row(id=f"cl-{i}", sentence=f"Fact {i} holds [1].")) for i in range(7)]
    groups = answers(items, size=5)
    assert [len(passages) for _text, passages in groups] == [5, 2]
    text, passages = groups[0]
    assert text.startswith("Fact 0 holds [1]. Fact 1 holds [2].")
    assert [p.n for p in passages] == [1, 2, 3, 4, 5]
    assert isinstance(passages[0], Source)


def test_choose_threshold_maximises_accuracy_lowest_on_ties():
    # Supported sentences overlap 0.9 and 0.8, unsupported 0.4 and 0.6: anything in (0.6, 0.8]
    # separates them; the lowest such threshold is 0.65.
    ratios = [(True, 0.9), (True, 0.8), (False, 0.4), (False, 0.6)]
    assert choose_threshold(ratios) == 0.65
