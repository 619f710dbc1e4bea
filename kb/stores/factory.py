"""Chooses and opens the stores from settings, once per process.

Unset QDRANT_URL / NEO4J_URI mean the embedded engines under KB_DATA_DIR. Embedded engines lock
their folder, so every caller in a process must share one instance: always come through here.
Heavy client imports stay inside the functions so that importing kb never loads them.
"""

from __future__ import annotations

import threading
from pathlib import Path

from django.conf import settings

from kb.stores.protocols import GraphStore, VectorIndex

_lock = threading.Lock()
_vector_index: VectorIndex | None = None
_graph_store: GraphStore | None = None


def vector_index() -> VectorIndex:
    global _vector_index
    with _lock:
        if _vector_index is None:
            _vector_index = _open_vector_index()
        return _vector_index


def graph_store() -> GraphStore:
    global _graph_store
    with _lock:
        if _graph_store is None:
            _graph_store = _open_graph_store()
        return _graph_store


def close_stores() -> None:
    """Release both stores (and their folder locks); the next call opens them again."""
    global _vector_index, _graph_store
    with _lock:
        for store in (_vector_index, _graph_store):
            if store is not None:
                store.close()
        _vector_index = _graph_store = None


def describe_stores() -> dict[str, str]:
    """Which flavour each store runs as, for start-up logs and the README's table."""
    return {
        "vector": f"qdrant server {settings.QDRANT_URL}"
        if settings.QDRANT_URL
        else f"qdrant edge (embedded) {_data_dir() / 'qdrant'}",
        "graph": f"neo4j {settings.NEO4J_URI}"
        if settings.NEO4J_URI
        else f"embedded graph {_data_dir() / 'graph'}",
    }


def _data_dir() -> Path:
    return Path(settings.KB_DATA_DIR)


def _open_vector_index() -> VectorIndex:
    if settings.QDRANT_URL:
        from kb.stores.qdrant_server import QdrantServerIndex

        return QdrantServerIndex.from_url(
            settings.QDRANT_URL,
            api_key=settings.QDRANT_API_KEY or None,
            dense_dim=settings.KB_EMBED_DIM,
            collection=settings.QDRANT_COLLECTION,
        )
    from kb.stores.qdrant_edge import QdrantEdgeIndex

    return QdrantEdgeIndex(_data_dir() / "qdrant", dense_dim=settings.KB_EMBED_DIM)


def _open_graph_store() -> GraphStore:
    if settings.NEO4J_URI:
        from kb.stores.graph_neo4j import Neo4jGraphStore

        return Neo4jGraphStore(
            settings.NEO4J_URI,
            settings.NEO4J_USER,
            settings.NEO4J_PASSWORD,
            database=settings.NEO4J_DATABASE or None,
        )
    from kb.stores.graph_embedded import EmbeddedGraphStore

    return EmbeddedGraphStore(_data_dir() / "graph")
