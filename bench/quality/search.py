"""Questions through the production Retriever: each path searched once per question (cached),
then ranked by the Retriever for every fusion set-up the run compares."""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bench.common.devset import Question
from bench.quality.stores import READERS

if TYPE_CHECKING:
    from kb.stores.types import AccessScope
    from retrieval.evidence import Evidence
    from retrieval.retriever import AllowedDocuments, Retriever
    from retrieval.types import Candidate

PATHS = ("dense", "sparse", "graph")


@dataclass
class Outcome:
    """One question's per-path chunk rankings and the Retriever's evidence: for the question
    as asked, and `forms` for it and each translation searched (refused when all are)."""

    question: Question
    rankings: dict[str, list[str]]
    evidence: Evidence
    scores: dict[str, list[float]] = field(default_factory=dict)
    forms: tuple[Evidence, ...] = ()


class CachedSearcher:
    """Runs the wrapped searcher once per question at the largest limit and serves prefixes, so
    fusion alternatives reuse one search. A prefix equals a search at the smaller limit for
    exact rankings (sparse, graph); for HNSW (dense) it is at most as good, never better.
    Once `replay_only` is set, a question this path was not searched for finds nothing: the
    alternatives re-rank what the run searched and start no search of their own."""

    def __init__(self, searcher: Any, *, limit: int) -> None:
        self.inner = searcher
        self.name: str = searcher.name
        self.limit = limit
        self.results: dict[str, list[Candidate]] = {}
        self.seconds: list[float] = []
        self.replay_only = False

    def search(self, question: str, *, scope: AccessScope, limit: int) -> list[Candidate]:
        if question not in self.results:
            if self.replay_only:
                return []
            started = time.perf_counter()
            self.results[question] = self.inner.search(question, scope=scope, limit=self.limit)
            self.seconds.append(time.perf_counter() - started)
        return self.results[question][:limit]


def everything(document_ids: set[int]) -> set[int]:
    """A post-check that keeps every document: for rankings alone, which precede it."""
    return document_ids


class Asker:
    """The shipped Retriever's searchers (cached), scope and post-check; `retriever` builds a
    production Retriever over them for one fusion set-up."""

    def __init__(
        self,
        shipped: Retriever,
        *,
        scope: AccessScope,
        allowed: AllowedDocuments,
        top_k: int,
        document_scripts: frozenset[str],
    ) -> None:
        self.shipped = shipped
        self.document_scripts = document_scripts  # what questions are translated into
        self.searchers = [CachedSearcher(s, limit=shipped.path_limit) for s in shipped.searchers]
        self.scope = scope
        self.allowed = allowed
        self.top_k = top_k

    def retriever(
        self,
        weights: Mapping[str, float],
        *,
        limit: int | None = None,
        script_aware: bool = True,
        other_script_factor: float | None = None,
        translate: bool = True,
        always_translate: bool = False,
    ) -> Retriever:
        """The production Retriever with these settings (the shipped one's where not given)."""
        from retrieval.retriever import Retriever

        factor = self.shipped.other_script_factor
        return Retriever(
            searchers=self.searchers,
            index=self.shipped.index,
            weights=weights,
            path_limit=self.shipped.path_limit if limit is None else limit,
            encoder=self.shipped.encoder,
            other_script_factor=factor if other_script_factor is None else other_script_factor,
            dense_every_script=self.shipped.dense_every_script or not script_aware,
            translator=self.shipped.translator if translate else None,
            translate_into=self.shipped.translate_into,
            translate_below=None if always_translate else self.shipped.translate_below,
        )

    def __call__(self, question: Question, retriever: Retriever) -> Outcome:
        found = retriever.retrieve(
            question.text,
            scope=self.scope,
            allowed=self.allowed,
            top_k=self.top_k,
            document_scripts=self.document_scripts,
        )
        fused = retriever.rank(question.text, found.per_path, other_language=found.other_language)
        rankings = {path: [c.chunk_id for c in found.per_path.get(path, [])] for path in PATHS}
        rankings["fused"] = [c.chunk_id for c in fused]
        scores = {path: [c.score for c in found.per_path.get(path, [])] for path in PATHS}
        forms = (found.evidence, *found.translated_evidence)
        return Outcome(question, rankings, found.evidence, scores, forms)

    def ranking(self, question: Question, retriever: Retriever) -> list[str]:
        """The fused chunk ids alone: the Retriever's candidate flow and ranking, without
        passages (top_k 0: no payload fetch, post-check or evidence, which a ranking precedes;
        so without the other-language ranking, which reads the evidence)."""
        found = retriever.retrieve(
            question.text,
            scope=self.scope,
            allowed=everything,
            top_k=0,
            document_scripts=self.document_scripts,
        )
        return [c.chunk_id for c in retriever.rank(question.text, found.per_path)]

    def replay_only(self) -> None:
        for searcher in self.searchers:
            searcher.replay_only = True


@functools.cache
def build_asker(
    *, limit: int, graph_hops: int, translate: bool = False, username: str = "quality-reader"
) -> Asker:
    """A non-staff reader of the collection, through a group, and the Retriever that
    `retrieval.factory.default_retriever` builds with this run's per-path limit and graph hops
    (`translate`: questions searched translated into the other scripts of the corpus too)."""
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.test import override_settings

    from kb.access import access_scope, readable_document_ids
    from kb.selectors.documents import readable_scripts
    from retrieval.factory import default_retriever

    reader = User.objects.create_user(username=username)
    reader.groups.add(Group.objects.get(name=READERS))
    with override_settings(KB_RETRIEVAL_PATH_LIMIT=limit, KB_GRAPH_HOPS=graph_hops):
        shipped = default_retriever(translate=translate)
    scope = access_scope(reader)
    return Asker(
        shipped,
        scope=scope,
        allowed=lambda ids: readable_document_ids(reader, ids),
        top_k=settings.KB_TOP_K,
        document_scripts=readable_scripts(user=reader, collection_ids=scope.collection_ids),
    )
