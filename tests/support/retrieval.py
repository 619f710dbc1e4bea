"""A stand-in for retrieval in unit tests of what comes after it (the answerer): the result is
given, no store is opened."""

from __future__ import annotations

from kb.stores.types import AccessScope
from retrieval.retriever import AllowedDocuments, Retrieval, Retriever


class Found(Retriever):
    def __init__(self, retrieval: Retrieval) -> None:  # no stores: the result is given
        self.retrieval = retrieval

    def retrieve(
        self,
        question: str,
        *,
        scope: AccessScope,
        allowed: AllowedDocuments,
        top_k: int,
        document_scripts: object = frozenset(),
    ) -> Retrieval:
        return self.retrieval
