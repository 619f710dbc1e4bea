"""Each retrieval path on really ingested documents: relevant first, never outside the scope;
the database post-check drops what a stale store stamp would let through."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from ingestion.pipeline import ingest_document
from kb.access import CONSOLE, access_scope, readable_document_ids
from kb.models import Document
from kb.services.documents import document_add
from kb.stores.factory import graph_store, vector_index
from kb.text.embeddings import load_embedder
from kb.uploads import IncomingFile
from retrieval.retriever import Retriever
from retrieval.searchers import DenseSearcher, GraphSearcher, SparseSearcher
from tests.support import samples
from tests.support.factories import CollectionFactory, GroupFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DOCS = {
    "backup": (
        "ops",
        "To restore PostgreSQL, stop the server, copy the base backup and replay "
        "the WAL (write-ahead log) archived since that backup.",
    ),
    "mail": ("ops", "Postfix delivers the company's mail. SpamAssassin scores each message."),
    "salaries": (
        "hr",
        "Salary bands for 2026 are reviewed by the HR committee in March. "
        "PostgreSQL stores the payroll tables.",
    ),
}


@pytest.fixture
def corpus(db: None, stores: Path, tmp_path: Path) -> dict[str, Document]:
    groups = {name: GroupFactory.create(name=name) for name in ("ops", "hr")}
    collections = {
        name: CollectionFactory.create(name=name, reader_groups=[group])
        for name, group in groups.items()
    }
    documents = {}
    for title, (collection, text) in DOCS.items():
        path = samples.text(tmp_path / f"{title}.txt", text)
        document, _ = document_add(
            collection=collections[collection],
            incoming=IncomingFile(f"{title}.txt", path),
            uploader=CONSOLE,
        )
        assert ingest_document(document_id=document.pk, version=document.version) == "indexed"
        documents[title] = document
    return documents


def _searchers() -> list[DenseSearcher | SparseSearcher | GraphSearcher]:
    index = vector_index()
    return [
        DenseSearcher(
            index, load_embedder(settings.KB_EMBED_MODEL, models_dir=Path(settings.KB_MODELS_DIR))
        ),
        SparseSearcher(index),
        GraphSearcher(graph_store()),
    ]


@pytest.mark.parametrize("path", ["dense", "sparse", "graph"])
def test_each_path_finds_the_relevant_document_first(
    corpus: dict[str, Document], path: str
) -> None:
    operator = UserFactory.create(
        username="op", groups=[corpus["backup"].collection.reader_groups.get()]
    )
    searcher = next(s for s in _searchers() if s.name == path)

    found = searcher.search(
        "How do I replay the WAL after restoring a PostgreSQL backup?",
        scope=access_scope(operator),
        limit=5,
    )

    assert found and found[0].document_id == corpus["backup"].pk


@pytest.mark.parametrize("path", ["dense", "sparse", "graph"])
def test_no_path_returns_chunks_outside_the_scope(corpus: dict[str, Document], path: str) -> None:
    operator = UserFactory.create(
        username="op", groups=[corpus["backup"].collection.reader_groups.get()]
    )
    searcher = next(s for s in _searchers() if s.name == path)

    found = searcher.search(
        "PostgreSQL payroll salary bands", scope=access_scope(operator), limit=50
    )

    assert corpus["salaries"].pk not in {c.document_id for c in found}


def test_retriever_post_checks_every_passage_against_the_database(
    corpus: dict[str, Document],
) -> None:
    hr_group = corpus["salaries"].collection.reader_groups.get()
    reader = UserFactory.create(username="hr-reader", groups=[hr_group])
    question = "Who reviews the salary bands?"
    scope = access_scope(reader)  # taken before the change: the stores still say "readable"
    retriever = Retriever(searchers=_searchers(), index=vector_index(), weights={}, path_limit=10)

    def allowed(ids: set[int]) -> set[int]:
        return readable_document_ids(reader, ids)

    before = retriever.retrieve(question, scope=scope, allowed=allowed, top_k=5)
    assert corpus["salaries"].pk in {p.document_id for p in before.passages}

    corpus["salaries"].reader_groups.set([GroupFactory.create(name="hr-leads")])  # not restamped

    after = retriever.retrieve(question, scope=scope, allowed=allowed, top_k=5)
    assert corpus["salaries"].pk not in {p.document_id for p in after.passages}
    assert after.evidence.dense == 0.0  # evidence counts only what passed the check


def test_a_path_weighted_zero_is_not_searched_except_dense_for_evidence(
    corpus: dict[str, Document],
) -> None:
    staff = UserFactory.create(username="boss", is_staff=True)
    weights = {"dense": 0.0, "sparse": 1.0, "graph": 0.0}
    retriever = Retriever(
        searchers=_searchers(), index=vector_index(), weights=weights, path_limit=10
    )

    found = retriever.retrieve(
        "How is the WAL replayed?", scope=access_scope(staff), allowed=lambda ids: ids, top_k=3
    )

    assert set(found.per_path) == {"dense", "sparse"}
    assert found.evidence.dense > 0  # dense ran for the refusal evidence, without a vote
