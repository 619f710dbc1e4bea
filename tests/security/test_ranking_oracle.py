"""The ranking-statistics oracle (issue 11): corpus statistics must not tell a caller whether a
term appears in chunks they cannot read.

The attack: a prober puts two documents in a collection they read, one holding a rare term
PROBE twice, the other a rare term OTHER once, and searches "PROBE OTHER". With IDF over every
chunk, a hidden chunk holding PROBE lowers PROBE's weight, so the order and scores of the
prober's own chunks change. Each test builds two worlds that differ only in one hidden
document's text (PROBE or a neutral word), over the same database rows, each in fresh embedded
stores, and asks the way the prober would: `POST /api/v1/search` (fused ranks and scores) and
each retrieval path of the production retriever (the per-path scores the query log keeps).
Everything the prober gets back must be identical in both worlds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from pytest_django.fixtures import Settings

from ingestion.pipeline import ingest_document
from kb.access import access_scope, readable_document_ids
from kb.models import Document, DocumentStatus
from kb.stores import factory
from retrieval.factory import default_retriever
from tests.support.clients import api_client_as
from tests.support.factories import CollectionFactory, DocumentFactory, GroupFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROBE = "Zorblax"  # capitalised, so the graph extracts it as an entity too
OTHER = "Quibbit"
QUESTION = f"{PROBE} {OTHER}"
NEUTRAL = "Harbour"
DEFAULT_WEIGHTS = None
GRAPH_ON = {"dense": 1.0, "sparse": 1.0, "graph": 1.0}
PROBER_DOCUMENTS = {
    "alpha": f"Field notes: the {PROBE} valve sits beside the {PROBE} gauge in the east hall.",
    "beta": f"Field notes: the {OTHER} valve sits beside the pump gauge in the east hall.",
    "gamma": "Field notes: the pump valve sits beside the pump gauge in the east hall.",
}
# Several hidden chunks, so the global document frequency moves far enough to flip the order.
HIDDEN_COPIES = 3


def hidden_text(word: str) -> str:
    return f"Supplier memo: the {word} order ships from the north depot next quarter."


@dataclass
class ProbeWorld:
    prober: Any
    insider: Any
    documents: list[Document]
    hidden: list[Document]


def build_probe_world(where: str) -> ProbeWorld:
    """The prober reads `probe`; the hidden documents sit in a collection only insiders read,
    or in `probe` itself narrowed to insiders."""
    probers, insiders = (GroupFactory.create(name=n) for n in ("probers", "insiders"))
    probe = CollectionFactory.create(name="probe", reader_groups=[probers], editor_groups=[probers])
    secret = CollectionFactory.create(name="secret", reader_groups=[insiders])
    documents = [_document(probe, title, text) for title, text in PROBER_DOCUMENTS.items()]
    hidden = [
        _document(
            secret if where == "hidden collection" else probe,
            f"memo-{n}",
            hidden_text(NEUTRAL),
            readers=[] if where == "hidden collection" else [insiders],
        )
        for n in range(HIDDEN_COPIES)
    ]
    return ProbeWorld(
        prober=UserFactory.create(username="mallory", groups=[probers]),
        insider=UserFactory.create(username="irene", groups=[insiders, probers]),
        documents=documents + hidden,
        hidden=hidden,
    )


def _document(collection: Any, title: str, text: str, readers: list[Group] | None = None) -> Any:
    document = DocumentFactory.create(
        collection=collection, title=title, version=1, reader_groups=readers or []
    )
    document.file.save(f"{title}.txt", ContentFile(text.encode()), save=True)
    return document


def index_world(world: ProbeWorld, *, hidden_word: str, data_dir: Path, settings: Settings) -> None:
    """Fresh embedded stores under `data_dir`, every document ingested by the pipeline."""
    factory.close_stores()
    settings.KB_DATA_DIR = data_dir
    ids = [d.pk for d in world.documents]
    Document.objects.filter(pk__in=ids).update(status=DocumentStatus.QUEUED, indexed_version=0)
    for document in world.hidden:
        Path(document.file.path).write_text(hidden_text(hidden_word), encoding="utf-8")
    for document in world.documents:
        assert ingest_document(document_id=document.pk, version=document.version) == "indexed"


def api_search(user: Any) -> list[tuple[str, int, float, tuple[str, ...]]]:
    client = api_client_as(user)
    response = client.post("/api/v1/search", {"query": QUESTION, "top_k": 10}, format="json")
    assert response.status_code == 200
    return [
        (r["chunk_id"], r["document_id"], r["score"], tuple(r["paths"]))
        for r in response.json()["results"]
    ]


def path_rankings(user: Any) -> dict[str, list[tuple[str, float]]]:
    """What each retrieval path returned, with its own scores (kept in the query log)."""
    retrieval = default_retriever().retrieve(
        QUESTION,
        scope=access_scope(user),
        allowed=lambda ids: readable_document_ids(user, ids),
        top_k=10,
    )
    return {
        path: [(c.chunk_id, c.score) for c in candidates]
        for path, candidates in retrieval.per_path.items()
    }


Observation = tuple[list[tuple[str, int, float, tuple[str, ...]]], dict[str, Any]]


def observe(world: ProbeWorld) -> Observation:
    return api_search(world.prober), path_rankings(world.prober)


Probe = Callable[[str], tuple[ProbeWorld, Observation, Observation]]


@pytest.fixture
def probe(db: None, stores: Path, settings: Settings) -> Probe:
    """Builds the world, then observes it without and with PROBE in the hidden documents."""

    def run(where: str) -> tuple[ProbeWorld, Observation, Observation]:
        world = build_probe_world(where)
        index_world(world, hidden_word=NEUTRAL, data_dir=stores / "without", settings=settings)
        without = observe(world)
        index_world(world, hidden_word=PROBE, data_dir=stores / "with", settings=settings)
        hidden_holds_probe = {r[1] for r in api_search(world.insider)} & {
            d.pk for d in world.hidden
        }
        assert hidden_holds_probe, "the insider must find the hidden PROBE chunks"
        return world, without, observe(world)

    return run


@pytest.mark.parametrize("where", ["hidden collection", "narrowed document"])
@pytest.mark.parametrize("weights", [DEFAULT_WEIGHTS, GRAPH_ON], ids=["default", "graph-on"])
def test_hidden_chunks_holding_the_probe_term_change_nothing_the_prober_sees(
    probe: Probe, settings: Settings, where: str, weights: dict[str, float] | None
) -> None:
    # given: two worlds, the hidden documents hold PROBE in the second only; the graph path
    # runs only when its fusion weight is above 0 (it is 0 by default)
    if weights is not None:
        settings.KB_FUSION_WEIGHTS = weights
    world, (api_without, paths_without), (api_with, paths_with) = probe(where)
    # then: the prober does find their own probe documents, and nothing hidden
    found = {r[1] for r in api_without}
    probes = {d.pk for d in world.documents if d.title in {"alpha", "beta"}}
    assert probes <= found
    assert not found & {d.pk for d in world.hidden}
    assert len(paths_without["sparse"]) >= 2
    assert weights is None or len(paths_without["graph"]) >= 2
    # and: ids, order and scores are the same in both worlds, fused and per path
    assert api_with == api_without
    assert paths_with == paths_without
