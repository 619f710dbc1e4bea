"""When the Retriever ranks a question by the dense path alone (Retrieval.other_language): a
question in Latin script, searched as asked only, whose words did not find its topic and whose
multilingual dense model's best readable passages are mostly in another script. The
searchers and the store are stood in for; tests/integration/retrieval has the real thing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import pytest

from kb.llm.chat import ChatModel, Message
from kb.stores.payload import ChunkPayload
from kb.stores.protocols import VectorIndex
from kb.stores.types import AccessScope
from retrieval.fusion import RRF_K
from retrieval.retriever import Retrieval, Retriever
from retrieval.translation import QuestionTranslator
from retrieval.types import Candidate

pytestmark = pytest.mark.unit

QUESTION = "When does the staff canteen open for lunch?"
CHINESE = "员工食堂几点开门吃午饭？"  # the model's translation of it
TEXTS = {
    "hours-zh": "员工食堂每天中午十二点开放，下午两点关闭。",
    "menu-zh": "员工食堂每周五提供素食午餐。",
    "parking-en": "Staff parking permits come from human resources every January.",
    "canteen-en": "The staff canteen opens for lunch at noon and closes at two.",
}


DOCUMENTS = {name: n for n, name in enumerate(TEXTS, start=1)}  # one page a document


def _found(*names: str) -> list[Candidate]:
    return [
        Candidate(
            name,
            document_id=DOCUMENTS[name],
            score=1.0 / rank,
            payload=ChunkPayload(
                chunk_id=name,
                document_id=DOCUMENTS[name],
                collection_id=1,
                acl=(),
                text=TEXTS[name],
            ),
        )
        for rank, name in enumerate(names, start=1)
    ]


class Path:
    """A search path that finds the same passages, in this order, for every question."""

    def __init__(self, name: str, *found: str) -> None:
        self.name = name
        self.found = _found(*found)

    def search(self, question: str, *, scope: AccessScope, limit: int) -> list[Candidate]:
        return self.found


class NoStore:
    def fetch(self, *, ids: Sequence[str], scope: AccessScope) -> list[object]:
        return []


class Writes:
    """The model, writing every question as `reply` (its translation into any language)."""

    name = "scripted"

    def __init__(self, reply: str) -> None:
        self.reply = reply

    def chat(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float = 0.0
    ) -> str:
        return self.reply


def _retrieve(
    question: str = QUESTION,
    *,
    dense: Sequence[str] = ("hours-zh", "menu-zh", "parking-en"),
    sparse: Sequence[str] = ("parking-en",),
    multilingual: bool = True,
    unreadable: frozenset[int] = frozenset(),
    translated: bool = False,
) -> Retrieval:
    retriever = Retriever(
        searchers=[Path("dense", *dense), Path("sparse", *sparse)],
        index=cast(VectorIndex, NoStore()),
        weights={"dense": 1.0, "sparse": 1.0, "graph": 0.0},
        path_limit=10,
        dense_every_script=multilingual,
        translator=QuestionTranslator(lambda: cast(ChatModel, Writes(CHINESE)))
        if translated
        else None,
        translate_below=0.5,
    )
    return retriever.retrieve(
        question,
        scope=AccessScope(collection_ids=(1,), acl=("group:1",)),
        allowed=lambda ids: ids - unreadable,
        top_k=3,
        document_scripts=frozenset({"latin", "han"}),
    )


def _first(found: Retrieval) -> str:
    return found.passages[0].chunk_id


def test_an_english_question_whose_answer_is_chinese_is_ranked_by_the_dense_path() -> None:
    found = _retrieve()

    assert found.other_language
    assert [(p.chunk_id, p.paths) for p in found.passages] == [
        ("hours-zh", ("dense",)),
        ("menu-zh", ("dense",)),
        ("parking-en", ("dense",)),  # its sparse hit no longer counts
    ]


def test_a_translated_question_is_ranked_as_usual() -> None:
    """Its translation's paths vote, and its own script is preferred (measured: no script
    preferred for translated questions cost a same-language one its page)."""
    found = _retrieve(translated=True)

    assert found.translations and not found.other_language
    scores = {p.chunk_id: p.score for p in found.passages}
    assert scores["parking-en"] == pytest.approx(2 / (RRF_K + 3) + 2 / (RRF_K + 1))  # sparse too
    assert scores["hours-zh"] == pytest.approx(0.7 * 2 / (RRF_K + 1))  # scaled down


def test_one_passage_in_another_script_of_two_is_not_enough() -> None:
    found = _retrieve(dense=("hours-zh", "parking-en"))

    assert not found.other_language
    assert _first(found) == "parking-en"


def test_an_english_only_dense_model_is_never_followed_across_languages() -> None:
    found = _retrieve(multilingual=False)

    assert not found.other_language
    assert _first(found) == "parking-en"  # its sparse and dense votes together


def test_a_question_whose_words_found_its_topic_is_ranked_as_usual() -> None:
    found = _retrieve(sparse=("canteen-en",), dense=("hours-zh", "menu-zh", "canteen-en"))

    assert found.evidence.coverage >= 0.5
    assert not found.other_language
    assert _first(found) == "canteen-en"


def test_only_the_passages_the_caller_may_read_decide() -> None:
    """The Chinese pages are in the store's scope but fail the database post-check: they
    neither show nor tip the ranking (their script would tell of them)."""
    found = _retrieve(unreadable=frozenset({DOCUMENTS["hours-zh"], DOCUMENTS["menu-zh"]}))

    assert not found.other_language
    assert [p.chunk_id for p in found.passages] == ["parking-en"]


def test_a_chinese_question_searched_as_asked_is_left_to_the_usual_ranking() -> None:
    """Its words find nothing and its dense passages are mostly English: only its script
    keeps it from the rule."""
    found = _retrieve("访客在哪里停车？", dense=("parking-en", "canteen-en", "hours-zh"), sparse=())

    assert found.evidence.coverage < 0.5
    assert not found.other_language


class ByQuestion:
    """A search path that finds, for each question, its own passages."""

    def __init__(self, name: str, found: dict[str, Sequence[str]]) -> None:
        self.name = name
        self.found = {question: _found(*names) for question, names in found.items()}

    def search(self, question: str, *, scope: AccessScope, limit: int) -> list[Candidate]:
        return self.found.get(question, [])


def test_a_translated_chinese_question_prefers_only_chinese_pages_its_translation_found() -> None:
    """With a multilingual model the English translation's search also finds the Chinese
    edition of its answer (hours-zh); a Chinese page only the question's own words found
    (menu-zh) is another topic and is scaled down like the English ones. Fused as before,
    menu-zh would come first of the two."""
    asked = "员工食堂几点开门？"
    retriever = Retriever(
        searchers=[
            ByQuestion(
                "dense", {asked: ("menu-zh", "canteen-en"), QUESTION: ("hours-zh", "canteen-en")}
            ),
            ByQuestion(
                "sparse",
                {asked: ("menu-zh",), QUESTION: ("canteen-en", "parking-en", "hours-zh")},
            ),
        ],
        index=cast(VectorIndex, NoStore()),
        weights={"dense": 1.0, "sparse": 1.0, "graph": 0.0},
        path_limit=10,
        dense_every_script=True,
        translator=QuestionTranslator(lambda: cast(ChatModel, Writes(QUESTION))),
        translate_below=None,  # always translated
    )

    found = retriever.retrieve(
        asked,
        scope=AccessScope(collection_ids=(1,), acl=("group:1",)),
        allowed=lambda ids: ids,
        top_k=3,
        document_scripts=frozenset({"latin", "han"}),
    )

    assert found.translations == (QUESTION,)  # precondition: searched in English too
    scores = {p.chunk_id: p.score for p in found.passages}
    assert list(scores) == ["canteen-en", "hours-zh", "menu-zh"]
    assert scores["hours-zh"] == pytest.approx(1 / (RRF_K + 1) + 1 / (RRF_K + 3))  # kept
    assert scores["menu-zh"] == pytest.approx(0.7 * 2 / (RRF_K + 1))  # its own words only
