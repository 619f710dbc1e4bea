"""Stores are chosen from settings and opened once per process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from kb.stores import factory
from kb.stores.graph_embedded import EmbeddedGraphStore
from kb.stores.qdrant_edge import QdrantEdgeIndex

pytestmark = pytest.mark.integration


@pytest.fixture
def embedded(settings: SettingsWrapper, tmp_path: Path) -> Iterator[Path]:
    settings.KB_DATA_DIR = tmp_path
    settings.QDRANT_URL = ""
    settings.NEO4J_URI = ""
    factory.close_stores()
    yield tmp_path
    factory.close_stores()


def test_unset_urls_open_the_embedded_engines_under_the_data_dir(embedded: Path) -> None:
    assert isinstance(factory.vector_index(), QdrantEdgeIndex)
    assert isinstance(factory.graph_store(), EmbeddedGraphStore)
    assert (embedded / "qdrant").is_dir() and (embedded / "graph").is_dir()


def test_each_store_is_opened_once_per_process(embedded: Path) -> None:
    assert factory.vector_index() is factory.vector_index()
    assert factory.graph_store() is factory.graph_store()


def test_closing_releases_the_folders_for_the_next_open(embedded: Path) -> None:
    first = factory.vector_index()
    factory.close_stores()

    second = factory.vector_index()

    assert second is not first
    assert second.count() == 0


def test_describe_names_the_flavour_in_use(embedded: Path, settings: SettingsWrapper) -> None:
    assert "qdrant edge (embedded)" in factory.describe_stores()["vector"]
    settings.QDRANT_URL = "http://qdrant:6333"
    settings.NEO4J_URI = "bolt://neo4j:7687"
    assert factory.describe_stores() == {
        "vector": "qdrant server http://qdrant:6333",
        "graph": "neo4j bolt://neo4j:7687",
    }
