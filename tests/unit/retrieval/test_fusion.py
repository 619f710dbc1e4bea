"""Reciprocal rank fusion: agreement between paths wins, weights tilt, order is stable."""

from __future__ import annotations

import pytest

from kb.stores.payload import ChunkPayload
from retrieval.fusion import RRF_K, rrf_fuse
from retrieval.script_preference import OTHER_SCRIPT_FACTOR, prefer_question_script
from retrieval.types import Candidate, Fused

pytestmark = pytest.mark.unit


def _payload(chunk_id: str, text: str) -> ChunkPayload:
    return ChunkPayload(chunk_id=chunk_id, document_id=1, collection_id=1, acl=(), text=text)


def _path(*chunk_ids: str, payload: bool = True) -> list[Candidate]:
    return [
        Candidate(
            cid, document_id=1, score=1.0 / n, payload=_payload(cid, cid) if payload else None
        )
        for n, cid in enumerate(chunk_ids, start=1)
    ]


def test_a_chunk_found_by_two_paths_outranks_a_single_top_hit() -> None:
    fused = rrf_fuse({"dense": _path("top-dense", "both"), "sparse": _path("top-sparse", "both")})

    assert fused[0].chunk_id == "both"
    assert fused[0].ranks == {"dense": 2, "sparse": 2}
    assert fused[0].score == pytest.approx(2 / (RRF_K + 2))


def test_weights_tilt_the_order_between_paths() -> None:
    paths = {"dense": _path("d"), "sparse": _path("s")}

    assert rrf_fuse(paths, weights={"dense": 2.0})[0].chunk_id == "d"
    assert rrf_fuse(paths, weights={"sparse": 2.0})[0].chunk_id == "s"


def test_duplicates_within_a_path_count_once_at_their_best_rank() -> None:
    fused = rrf_fuse({"dense": _path("a", "b", "a")})

    assert [f.chunk_id for f in fused] == ["a", "b"]
    assert fused[0].ranks == {"dense": 1}


def test_the_text_payload_is_kept_when_the_graph_found_the_chunk_first() -> None:
    fused = rrf_fuse({"graph": _path("c", payload=False), "dense": _path("c")})

    assert fused[0].payload == _payload("c", "c")


def test_ties_are_broken_by_chunk_id_and_limit_applies() -> None:
    fused = rrf_fuse({"dense": _path("b"), "sparse": _path("a")}, limit=1)

    assert [f.chunk_id for f in fused] == ["a"]


def test_no_paths_no_results() -> None:
    assert rrf_fuse({}) == [] and rrf_fuse({"dense": []}) == []


PIN_EN = "Pin the perl version on Debian: apt-mark hold perl"
PIN_ZH = "在 Debian 上固定 perl 版本：apt-mark hold perl"


def _fused(chunk_id: str, score: float, text: str) -> Fused:
    return Fused(chunk_id, 1, score, {"sparse": 1}, _payload(chunk_id, text) if text else None)


def test_english_passages_come_first_for_an_english_question() -> None:
    zh = _fused("zh", 2 / 61, "在 Debian 上固定 perl 版本：apt-mark hold perl")
    en = _fused("en", 2 / 63, "Pin the perl version on Debian: apt-mark hold perl")

    ranked = prefer_question_script("How do I keep perl from being upgraded?", [zh, en])

    assert [c.chunk_id for c in ranked] == ["en", "zh"]


def test_questions_in_another_script_keep_the_fused_order() -> None:
    """Their editions keep English passages that answer them."""
    en = _fused("en", 2 / 61, "Pin the perl version on Debian: apt-mark hold perl")
    zh = _fused("zh", 2 / 63, "在 Debian 上固定 perl 版本")

    assert prefer_question_script("如何固定 perl 版本？", [en, zh]) == [en, zh]


def test_a_question_searched_in_translation_too_prefers_its_own_script() -> None:
    """The English edition has the translation's votes on top of its own."""
    en = _fused("en", 2.5 / 61, "Pin the perl version on Debian: apt-mark hold perl")
    zh = _fused("zh", 2 / 61, "在 Debian 上固定 perl 版本：apt-mark hold perl")
    ru = _fused("ru", 2 / 61, "Закрепите версию perl: apt-mark hold perl")

    chinese = prefer_question_script("如何固定 perl 版本？", [en, zh], translated=True)
    russian = prefer_question_script("Как закрепить версию perl?", [en, zh, ru], translated=True)

    assert [c.chunk_id for c in chinese] == ["zh", "en"]
    assert [c.chunk_id for c in russian] == ["ru", "en", "zh"]  # Han is another script too


def test_with_a_multilingual_model_only_the_edition_a_translation_found_is_preferred() -> None:
    """A Chinese page the question's own words found, and its English translation did not,
    is another topic: it no longer outranks the English page the translation found. The
    Chinese edition the translation's search also found still comes first."""
    en = Fused("en", 1, 2.5 / 61, {"dense@en": 1, "sparse@en": 1}, _payload("en", PIN_EN))
    other = Fused("other", 1, 2 / 61, {"sparse": 1}, _payload("other", "在 Debian 上配置打印机"))
    edition = Fused(
        "edition", 1, 1.9 / 61, {"sparse": 2, "dense@en": 2}, _payload("edition", PIN_ZH)
    )
    graph_hit = Fused("graph", 1, 1.95 / 61, {"graph": 1})  # no text yet, not in translation
    question = "如何固定 perl 版本？"

    english_only = prefer_question_script(question, [en, other, graph_hit], translated=True)
    multilingual = prefer_question_script(
        question, [en, other, edition, graph_hit], translated=True, multilingual=True
    )

    # the English-only dense model's search of the translation finds English pages only
    assert [c.chunk_id for c in english_only] == ["other", "graph", "en"]
    assert [c.chunk_id for c in multilingual] == ["edition", "en", "other", "graph"]
    assert multilingual[2].score == pytest.approx(2 / 61 * OTHER_SCRIPT_FACTOR)


def test_an_english_question_keeps_english_passages_first_with_a_multilingual_model() -> None:
    """The edition test is for Chinese and Russian questions: an English passage found only by
    the English question's own words keeps its score."""
    en = Fused("en", 1, 2 / 61, {"sparse": 1}, _payload("en", PIN_EN))
    zh = Fused("zh", 1, 2.5 / 61, {"dense@zh": 1, "sparse": 2}, _payload("zh", PIN_ZH))

    ranked = prefer_question_script(
        "How do I pin perl?", [zh, en], translated=True, multilingual=True
    )

    assert [c.chunk_id for c in ranked] == ["en", "zh"]
    assert ranked[0].score == pytest.approx(2 / 61)


def test_a_much_better_passage_in_another_script_is_ranked_lower_but_kept() -> None:
    ru = _fused("ru", 2 / 61, "Закрепите версию perl: apt-mark hold perl")
    en = _fused("en", 1 / 90, "Debian packages")
    graph_hit = _fused("g", 1 / 80, "")  # no text yet: its score stands

    ranked = prefer_question_script("How do I pin perl?", [ru, en, graph_hit])

    assert [c.chunk_id for c in ranked] == ["ru", "g", "en"]
    assert ranked[0].score == pytest.approx(2 / 61 * OTHER_SCRIPT_FACTOR)
    assert prefer_question_script("How do I pin perl?", [en, ru], factor=1.0)[0].chunk_id == "en"
