"""How the Retriever weighs a question's translations: in ranking (`Retriever.rank`), a
translation votes at least as much as the question's own words; as refusal evidence, a
translation's dense cosine counts only where the dense model reads its script. The model and
the searchers are stood in for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import pytest

from kb.llm.chat import ChatModel, Message
from kb.stores.payload import ChunkPayload
from kb.stores.protocols import VectorIndex
from kb.stores.types import AccessScope
from retrieval.retriever import Retriever
from retrieval.translation import QuestionTranslator, Translating
from retrieval.types import Candidate

pytestmark = pytest.mark.unit

ENGLISH_QUESTION = "Where do background services record their errors?"
TEXTS = {
    "english": "Services record their errors in the journal; read it with journalctl.",
    "other-english": "Background workers record progress in a status file.",
    # A Chinese page that keeps the command in English, as the handbook's translations do.
    "chinese": "服务的错误记录在日志中，用 journalctl 查看。",
}


def _path(*chunk_ids: str) -> list[Candidate]:
    return [
        Candidate(
            cid,
            document_id=n,
            score=1.0 / n,
            payload=ChunkPayload(
                chunk_id=cid, document_id=n, collection_id=1, acl=(), text=TEXTS[cid]
            ),
        )
        for n, cid in enumerate(chunk_ids, start=1)
    ]


def _retriever(
    *, dense_every_script: bool = False, graph: float = 0.0, sparse: float = 1.0
) -> Retriever:
    return Retriever(
        searchers=[],
        index=cast(VectorIndex, None),  # ranking reads no store
        weights={"dense": 1.0, "sparse": sparse, "graph": graph},
        path_limit=10,
        dense_every_script=dense_every_script,
    )


def _first(retriever: Retriever, per_path: dict[str, list[Candidate]]) -> str:
    return retriever.rank(ENGLISH_QUESTION, per_path)[0].chunk_id


def test_the_chinese_translation_of_an_english_question_outvotes_english_word_matches() -> None:
    """Dense matches the English command the Chinese page keeps, sparse an English page that
    shares the question's words; the Chinese translation finds the Chinese page first. With
    one sparse vote against the question's two it would come second."""
    per_path = {
        "dense": _path("chinese", "english"),
        "sparse": _path("english"),
        "sparse@zh": _path("chinese"),
    }

    assert _first(_retriever(), per_path) == "chinese"
    unraised = _retriever()
    unraised._fusion_weights = lambda question: {  # type: ignore[method-assign]
        "dense": 1.0,
        "sparse": 1.0,
        "dense@zh": 0.0,
        "sparse@zh": 1.0,
    }
    assert _first(unraised, per_path) == "english"  # the control


def test_a_page_both_of_an_english_questions_paths_rank_first_stays_first() -> None:
    """The question's own edition, where it exists, still leads its translation's."""
    per_path = {
        "dense": _path("english", "other-english"),
        "sparse": _path("english"),
        "sparse@zh": _path("chinese"),
    }

    assert _first(_retriever(), per_path) == "english"


def test_translation_weights_are_raised_only_where_the_dense_path_cannot_read_them() -> None:
    english = _retriever()._fusion_weights(ENGLISH_QUESTION)
    chinese = _retriever()._fusion_weights("后台服务的错误记录在哪里？")
    multilingual = _retriever(dense_every_script=True)._fusion_weights(ENGLISH_QUESTION)

    assert (english["dense@zh"], english["sparse@zh"], english["sparse@ru"]) == (0.0, 2.0, 2.0)
    # A Chinese question has no dense vote as asked: its translations already vote as much.
    assert (chinese["dense@en"], chinese["sparse@en"], chinese["sparse@ru"]) == (1.0, 1.0, 1.0)
    assert (multilingual["dense@zh"], multilingual["sparse@zh"]) == (1.0, 1.0)


def test_with_the_sparse_path_off_no_translation_weight_is_raised() -> None:
    """The sparse path carries the missing weight; off, it is not searched at all."""
    weights = _retriever(sparse=0.0, graph=0.5)._fusion_weights(ENGLISH_QUESTION)

    assert (weights["sparse@zh"], weights["graph@zh"], weights["dense@en"]) == (0.0, 0.5, 1.0)


def test_the_graph_weight_counts_in_what_a_translation_must_match() -> None:
    weights = _retriever(graph=0.5)._fusion_weights(ENGLISH_QUESTION)

    assert (weights["dense@zh"], weights["sparse@zh"], weights["graph@zh"]) == (0.0, 2.0, 0.5)


class Translations:
    """The model, writing each question's translation from a table."""

    name = "scripted"
    table = {
        "Chinese": "后台服务的错误记录在哪里？",
        "Russian": "Где фоновые службы записывают свои ошибки?",
        "English": ENGLISH_QUESTION,
    }

    def chat(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float = 0.0
    ) -> str:
        return next(
            text for language, text in self.table.items() if language in messages[0]["content"]
        )


class Found:
    """A path that finds the same passage for every question, with a fixed score."""

    def __init__(self, name: str, score: float) -> None:
        self.name = name
        self.score = score

    def search(self, question: str, *, scope: AccessScope, limit: int) -> list[Candidate]:
        [candidate] = _path("english")
        return [Candidate(candidate.chunk_id, 1, self.score, candidate.payload)]


class NoStore:
    def fetch(self, *, ids: Sequence[str], scope: AccessScope) -> list[object]:
        return []


def _translated_evidence(question: str, *, dense_every_script: bool = False) -> list[float]:
    retriever = Retriever(
        searchers=[Found("dense", 0.62), Found("sparse", 3.0)],
        index=cast(VectorIndex, NoStore()),
        weights={"dense": 1.0, "sparse": 1.0, "graph": 0.0},
        path_limit=10,
        dense_every_script=dense_every_script,
        translator=QuestionTranslator(lambda: cast(ChatModel, Translations())),
    )
    found = retriever.retrieve(
        question,
        scope=AccessScope(collection_ids=(1,), acl=("group:1",)),
        allowed=lambda ids: ids,
        top_k=3,
        document_scripts=frozenset({"latin", "han", "cyrillic"}),
    )
    assert len(found.translations) == 2
    return [evidence.dense for evidence in found.translated_evidence]


def test_a_translations_dense_cosine_counts_only_where_the_dense_model_reads_it() -> None:
    """An English question's Chinese and Russian forms are judged on coverage alone; a Chinese
    question's English form keeps its cosine; a multilingual model's counts everywhere."""
    assert _translated_evidence(ENGLISH_QUESTION) == [0.0, 0.0]
    assert _translated_evidence("后台服务的错误记录在哪里？") == [0.62, 0.0]
    assert _translated_evidence(ENGLISH_QUESTION, dense_every_script=True) == [0.62, 0.62]


class CountedTranslations(Translations):
    def __init__(self) -> None:
        self.asked = 0

    def chat(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float = 0.0
    ) -> str:
        self.asked += 1
        return super().chat(messages, max_tokens=max_tokens, temperature=temperature)


def _translating(model: ChatModel | CountedTranslations) -> Retriever:
    """A retriever whose paths find one English passage, translating with `model`."""
    return Retriever(
        searchers=[Found("dense", 0.62), Found("sparse", 3.0)],
        index=cast(VectorIndex, NoStore()),
        weights={"dense": 1.0, "sparse": 1.0, "graph": 0.0},
        path_limit=10,
        translator=QuestionTranslator(lambda: cast(ChatModel, model)),
    )


def test_a_callers_translations_are_not_served_to_a_caller_of_another_scope() -> None:
    """Served from another scope's cache, a search would answer seconds sooner: a sign that
    someone asked the same words (retrieval.translation.Sharing)."""
    model = CountedTranslations()
    retriever = _translating(model)

    def search(scope: AccessScope) -> None:
        retriever.retrieve(
            "后台服务的错误记录在哪里？",
            scope=scope,
            allowed=lambda ids: ids,
            top_k=3,
            document_scripts=frozenset({"latin"}),
        )

    search(AccessScope(collection_ids=(1, 2), acl=("group:1",)))
    search(AccessScope(collection_ids=(2, 1), acl=("group:1",)))  # the same scope
    assert model.asked == 1
    search(AccessScope(collection_ids=(1,), acl=("group:1",)))
    assert model.asked == 2
    # the same collections read through other groups: documents narrowed to a group differ
    search(AccessScope(collection_ids=(1,), acl=("group:2",)))
    assert model.asked == 3


def test_retrieving_says_which_languages_the_model_translates_into_before_it_does() -> None:
    model = CountedTranslations()
    retriever = _translating(model)
    scope = AccessScope(collection_ids=(1,), acl=("group:1",))

    def steps(scripts: frozenset[str]) -> tuple[list[Translating], int]:
        """What `retrieving` said, and how many translations its result holds."""
        found = retriever.retrieving(
            "后台服务的错误记录在哪里？",
            scope=scope,
            allowed=lambda ids: ids,
            top_k=3,
            document_scripts=scripts,
        )
        said: list[Translating] = []
        while True:
            try:
                said.append(next(found))
            except StopIteration as done:
                return said, len(done.value.translations)
            assert model.asked == 0  # said before the model is asked

    assert steps(frozenset({"han"})) == ([], 0)  # nothing to translate into
    both = steps(frozenset({"latin", "han", "cyrillic"}))
    assert both == ([Translating(("English", "Russian"))], 2)
