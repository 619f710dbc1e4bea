"""A stand-in for retrieval in unit tests of what comes after it (the answerer): the result is
given, no store is opened."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from collections.abc import Set as AbstractSet

from kb.stores.types import AccessScope
from retrieval.retriever import AllowedDocuments, Retrieval, Retriever
from retrieval.translation import Translating


class Found(Retriever):
    """`mentions`: the words the passages' documents hold elsewhere (Retriever.mentioned);
    `asked` records each such lookup's documents."""

    def __init__(self, retrieval: Retrieval, *, mentions: AbstractSet[str] = frozenset()) -> None:
        self.retrieval = retrieval  # no stores: the result is given
        self.mentions = mentions
        self.asked: list[set[int]] = []

    def retrieving(
        self,
        question: str,
        *,
        scope: AccessScope,
        allowed: AllowedDocuments,
        top_k: int,
        document_scripts: object = frozenset(),
    ) -> Generator[Translating, None, Retrieval]:
        return self.retrieval  # `retrieve` drains this too
        yield  # a generator that translates nothing

    def mentioned(
        self, words: Sequence[str], *, document_ids: AbstractSet[int], scope: AccessScope
    ) -> set[str]:
        self.asked.append(set(document_ids))
        return set(words) & self.mentions
