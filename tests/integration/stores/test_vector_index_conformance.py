"""Every `VectorIndex` adapter behaves the same: same hits, same filtering, same deletes.

Flavours: `edge` (Qdrant Edge in a temporary folder), `client-memory` (qdrant-client's
in-process mode) and `client-server` (a real Qdrant at $QDRANT_URL, skipped when unset).
Vectors are tiny (8 dimensions) and hand-made, so the expected order of hits is obvious.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import qdrant_edge as edge
from qdrant_client import QdrantClient, models

from kb.stores import qdrant_edge_upgrade as upgrade
from kb.stores.errors import StoreError, StoreLockedError
from kb.stores.locking import FolderLock
from kb.stores.protocols import VectorIndex
from kb.stores.qdrant_edge import QdrantEdgeIndex
from kb.stores.qdrant_server import QdrantServerIndex
from kb.stores.types import AccessScope, ChunkPoint, SparseVector, VectorHit

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning"),
]

DIM = 8
COMMON_TERM = 100
GROUP_1 = AccessScope(collection_ids=[1], acl=["group:1"])
GROUP_2 = AccessScope(collection_ids=[1], acl=["group:2"])


# ---------------------------------------------------------------------------- helpers


def axis(i: int, lean: float = 0.0) -> list[float]:
    """Unit direction `i`, optionally leaning towards direction `i + 1`."""
    vector = [0.0] * DIM
    vector[i % DIM] = 1.0
    vector[(i + 1) % DIM] += lean
    return vector


def terms(*term_ids: int) -> SparseVector:
    return SparseVector(indices=list(term_ids), values=[1.0] * len(term_ids))


def point(
    n: int,
    *,
    document_id: int = 1,
    version: int = 1,
    collection_id: int = 1,
    acl: Sequence[str] = ("group:1",),
    dense: list[float] | None = None,
    sparse: SparseVector | None = None,
) -> ChunkPoint:
    """Chunk `n` of a document: by default dense on axis n, sparse on term n + a common term."""
    return ChunkPoint(
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"quarry:{document_id}:{version}:{n}")),
        dense=dense if dense is not None else axis(n),
        sparse=sparse if sparse is not None else terms(n, COMMON_TERM),
        payload={
            "chunk_id": n,
            "document_id": document_id,
            "document_version": version,
            "collection_id": collection_id,
            "acl": list(acl),
        },
    )


def hit_ids(
    index: VectorIndex,
    scope: AccessScope = GROUP_1,
    limit: int = 10,
    *,
    dense: list[float] | None = None,
    sparse: SparseVector | None = None,
) -> list[str]:
    return [h.id for h in index.query(scope=scope, limit=limit, dense=dense, sparse=sparse)]


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(params=["edge", "client-memory", "client-server"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorIndex]:
    if request.param == "edge":
        edge_index = QdrantEdgeIndex(tmp_path / "vectors", dense_dim=DIM)
        yield edge_index
        edge_index.close()
    elif request.param == "client-memory":
        memory_index = QdrantServerIndex(QdrantClient(":memory:"), dense_dim=DIM)
        yield memory_index
        memory_index.close()
    else:
        yield from _server_index()


def _server_index() -> Iterator[VectorIndex]:
    url = os.environ.get("QDRANT_URL")
    if not url:
        pytest.skip("QDRANT_URL not set")
    api_key = os.environ.get("QDRANT_API_KEY") or None
    collection = f"test_chunks_{uuid.uuid4().hex}"
    server_index = QdrantServerIndex.from_url(
        url, api_key=api_key, dense_dim=DIM, collection=collection
    )
    yield server_index
    QdrantClient(url=url, api_key=api_key).delete_collection(collection)
    server_index.close()


# ---------------------------------------------------------------------------- writes


def test_upsert_then_count_reports_every_point(index: VectorIndex) -> None:
    # given / when
    index.upsert([point(n) for n in range(5)])
    # then
    assert index.count() == 5


def test_upserting_the_same_ids_twice_does_not_duplicate(index: VectorIndex) -> None:
    # given
    index.upsert([point(n) for n in range(3)])
    # when: a retried task writes the same chunks again
    index.upsert([point(n) for n in range(3)])
    # then
    assert index.count() == 3


def test_count_by_document_counts_only_that_document(index: VectorIndex) -> None:
    # given
    index.upsert([point(n, document_id=1) for n in range(2)])
    index.upsert([point(n, document_id=2) for n in range(3)])
    # when / then
    assert index.count(document_id=1) == 2
    assert index.count(document_id=2) == 3
    assert index.count(document_id=3) == 0


def test_delete_document_removes_only_that_document(index: VectorIndex) -> None:
    # given
    index.upsert([point(n, document_id=1) for n in range(2)])
    index.upsert([point(n, document_id=2) for n in range(3)])
    # when
    index.delete_document(1)
    # then
    assert index.count(document_id=1) == 0
    assert index.count() == 3


def test_delete_points_keeps_only_the_listed_points(index: VectorIndex) -> None:
    # given: versions 1 and 2 of document 1, and another document
    index.upsert([point(n, version=1) for n in range(3)])
    index.upsert([point(n, version=2) for n in range(2)])
    index.upsert([point(0, document_id=2, version=1)])
    kept = [point(n, version=2).id for n in range(2)]
    # when
    index.delete_points(document_id=1, keep_ids=kept)
    # then
    versions = {
        h.payload["document_version"]
        for h in index.query(scope=GROUP_1, limit=10, dense=axis(0))
        if h.payload["document_id"] == 1
    }
    assert versions == {2}
    assert index.count(document_id=1) == 2
    assert index.count(document_id=2) == 1


def test_delete_points_removes_the_same_version_s_chunks_not_listed(index: VectorIndex) -> None:
    # given: a version written as four chunks, then re-parsed into two (kb_reindex)
    index.upsert([point(n, version=1) for n in range(4)])
    kept = [point(n, version=1).id for n in range(2)]
    gone = [point(n, version=1).id for n in range(2, 4)]
    # when
    index.delete_points(document_id=1, keep_ids=kept)
    # then
    assert index.count(document_id=1) == 2
    assert sorted(h.id for h in index.fetch(ids=kept + gone, scope=GROUP_1)) == sorted(kept)


def test_delete_points_leaves_other_documents_untouched(index: VectorIndex) -> None:
    # given: document 2 listed by nothing
    index.upsert([point(n, document_id=1) for n in range(2)])
    index.upsert([point(n, document_id=2) for n in range(3)])
    # when: document 1 keeps one of its points
    index.delete_points(document_id=1, keep_ids=[point(0, document_id=1).id])
    # then
    assert index.count(document_id=1) == 1
    assert index.count(document_id=2) == 3


def test_delete_points_with_an_empty_keep_list_is_delete_document(index: VectorIndex) -> None:
    # given
    index.upsert([point(n, document_id=1) for n in range(3)])
    index.upsert([point(0, document_id=2)])
    # when
    index.delete_points(document_id=1, keep_ids=[])
    # then
    assert index.count(document_id=1) == 0
    assert index.count() == 1


def test_delete_points_twice_is_a_no_op(index: VectorIndex) -> None:
    # given
    index.upsert([point(n) for n in range(3)])
    kept = [point(0).id]
    index.delete_points(document_id=1, keep_ids=kept)
    # when
    index.delete_points(document_id=1, keep_ids=kept)
    # then
    assert index.count(document_id=1) == 1


def test_set_acl_restamps_so_visibility_changes(index: VectorIndex) -> None:
    # given: document 1 readable by group:1 only
    index.upsert([point(n, acl=["group:1"]) for n in range(2)])
    # when
    index.set_acl(document_id=1, acl=["group:2"])
    # then
    assert hit_ids(index, GROUP_1, dense=axis(0)) == []
    assert len(hit_ids(index, GROUP_2, dense=axis(0))) == 2
    hits = index.query(scope=GROUP_2, limit=10, dense=axis(0))
    assert all(h.payload["acl"] == ["group:2"] for h in hits)


# ---------------------------------------------------------------------------- ranking


def test_dense_query_returns_nearest_point_first(index: VectorIndex) -> None:
    # given
    points = [point(n) for n in range(4)]
    index.upsert(points)
    # when
    hits = index.query(scope=GROUP_1, limit=4, dense=axis(2, lean=0.1))
    # then
    assert hits[0].id == points[2].id
    assert hits[0].payload["chunk_id"] == 2
    assert hits[0].score >= hits[-1].score


def test_sparse_query_returns_best_matching_point_first(index: VectorIndex) -> None:
    # given: every point shares COMMON_TERM, only point 3 has term 3
    points = [point(n) for n in range(4)]
    index.upsert(points)
    # when
    ids = hit_ids(index, sparse=terms(3, COMMON_TERM))
    # then
    assert ids[0] == points[3].id


def test_hybrid_query_returns_point_best_on_both_paths_first(index: VectorIndex) -> None:
    # given
    points = [point(n) for n in range(4)]
    index.upsert(points)
    # when
    ids = hit_ids(index, dense=axis(1), sparse=terms(1))
    # then
    assert ids[0] == points[1].id


def test_hybrid_query_fuses_both_paths(index: VectorIndex) -> None:
    # given: dense favours point 0, only point 3 matches the sparse term
    points = [point(n) for n in range(4)]
    index.upsert(points)
    # when
    ids = hit_ids(index, dense=axis(0), sparse=terms(3))
    # then: point 3 ranks on both lists, point 0 tops one
    assert ids[:2] == [points[3].id, points[0].id]


def test_empty_sparse_vector_is_skipped(index: VectorIndex) -> None:
    # given: a chunk without terms is stored with its dense vector only
    index.upsert([point(0, sparse=SparseVector(indices=[], values=[])), point(1)])
    # when / then
    assert hit_ids(index, sparse=SparseVector(indices=[], values=[])) == []
    assert hit_ids(index, dense=axis(0), sparse=SparseVector(indices=[], values=[]))[0] == (
        point(0).id
    )


# ---------------------------------------------------------------------------- access


def test_acl_filter_never_returns_a_point_of_another_group(index: VectorIndex) -> None:
    # given: the nearest point belongs to group:2
    secret = point(0, document_id=2, acl=["group:2"])
    public = point(1, document_id=1, acl=["group:1"])
    index.upsert([secret, public])
    # when
    group_1_ids = hit_ids(index, GROUP_1, limit=100, dense=axis(0), sparse=terms(0))
    group_2_ids = hit_ids(index, GROUP_2, limit=100, dense=axis(0), sparse=terms(0))
    # then
    assert secret.id not in group_1_ids
    assert group_1_ids == [public.id]
    assert group_2_ids == [secret.id]


def test_acl_filter_matches_any_shared_entry(index: VectorIndex) -> None:
    # given
    shared = point(0, acl=["group:1", "group:2"])
    index.upsert([shared])
    # when / then
    both = AccessScope(collection_ids=[1], acl=["group:9", "group:2"])
    assert hit_ids(index, both, dense=axis(0)) == [shared.id]


def test_collection_filter_never_returns_a_point_of_an_unlisted_collection(
    index: VectorIndex,
) -> None:
    # given: the nearest point is in collection 2
    other = point(0, document_id=2, collection_id=2)
    mine = point(1, document_id=1, collection_id=1)
    index.upsert([other, mine])
    # when
    ids = hit_ids(index, GROUP_1, limit=100, dense=axis(0), sparse=terms(0))
    both = AccessScope(collection_ids=[1, 2], acl=["group:1"])
    # then
    assert ids == [mine.id]
    assert hit_ids(index, both, dense=axis(0))[0] == other.id


def test_fetch_returns_payloads_of_the_asked_ids_only(index: VectorIndex) -> None:
    # given
    points = [point(n) for n in range(4)]
    index.upsert(points)
    # when
    hits = index.fetch(ids=[points[1].id, points[3].id], scope=GROUP_1)
    # then
    assert sorted(h.id for h in hits) == sorted([points[1].id, points[3].id])
    assert {h.payload["chunk_id"] for h in hits} == {1, 3}


def test_fetch_never_returns_a_point_outside_the_scope(index: VectorIndex) -> None:
    # given: the caller knows the id of a point of another group and collection
    secret = point(0, document_id=2, acl=["group:2"])
    elsewhere = point(1, document_id=3, collection_id=2)
    mine = point(2)
    index.upsert([secret, elsewhere, mine])
    # when
    hits = index.fetch(ids=[secret.id, elsewhere.id, mine.id], scope=GROUP_1)
    # then
    assert [h.id for h in hits] == [mine.id]
    assert index.fetch(ids=[mine.id], scope=AccessScope(collection_ids=[1], acl=[])) == []


@pytest.mark.parametrize(
    "scope",
    [AccessScope(collection_ids=[], acl=["group:1"]), AccessScope(collection_ids=[1], acl=[])],
    ids=["no-collections", "no-acl"],
)
def test_empty_scope_returns_nothing(index: VectorIndex, scope: AccessScope) -> None:
    # given
    index.upsert([point(0)])
    # when / then
    assert index.query(scope=scope, limit=10, dense=axis(0), sparse=terms(0)) == []


@pytest.mark.parametrize("paths", ["dense", "sparse", "hybrid"])
def test_filter_is_applied_before_top_k(index: VectorIndex, paths: str) -> None:
    # given: 60 forbidden points on the query (deeper than any prefetch), 1 allowed a little off
    forbidden = [
        point(n, document_id=2, acl=["group:2"], dense=axis(0), sparse=terms(0)) for n in range(60)
    ]
    allowed = point(0, document_id=1, dense=axis(0, lean=0.5), sparse=terms(0, COMMON_TERM))
    index.upsert([*forbidden, allowed])
    dense = axis(0) if paths in ("dense", "hybrid") else None
    sparse = terms(0) if paths in ("sparse", "hybrid") else None
    # when
    ids = hit_ids(index, GROUP_1, limit=1, dense=dense, sparse=sparse)
    # then
    assert ids == [allowed.id]


# ---------------------------------------------------------------------------- ranking statistics


def scored(hits: Sequence[VectorHit]) -> list[tuple[str, float]]:
    """Ids and scores, best first; equal scores by id (engines order ties as they store)."""
    return sorted(((h.id, h.score) for h in hits), key=lambda hit: (-hit[1], hit[0]))


@pytest.mark.parametrize("paths", ["sparse", "hybrid"])
def test_chunks_outside_the_scope_change_no_sparse_score(index: VectorIndex, paths: str) -> None:
    # given: term 1 twice as strong in point 1 as term 2 in point 2, readable by group:1
    readable = [
        point(0),
        point(1, sparse=SparseVector(indices=[1], values=[2.0])),
        point(2, sparse=SparseVector(indices=[2], values=[1.0])),
    ]
    index.upsert(readable)
    dense = axis(0) if paths == "hybrid" else None
    before = scored(index.query(scope=GROUP_1, limit=10, dense=dense, sparse=terms(1, 2)))
    # when: chunks group:1 may not read (other group, other collection) all hold term 1
    index.upsert(
        [point(n, document_id=2, acl=["group:2"], sparse=terms(1)) for n in range(10, 20)]
        + [point(n, document_id=3, collection_id=2, sparse=terms(1)) for n in range(20, 30)]
    )
    after = scored(index.query(scope=GROUP_1, limit=10, dense=dense, sparse=terms(1, 2)))
    # then: the same hits, order and scores
    assert after == before
    assert {readable[1].id, readable[2].id} <= {hit_id for hit_id, _ in after}


def test_sparse_score_is_bm25_with_the_idf_of_the_readable_chunks(index: VectorIndex) -> None:
    # given: 4 readable points, term 7 in one of them (stored weight 0.8); 6 hidden ones hold it
    index.upsert(
        [point(n) for n in range(3)]
        + [point(3, sparse=SparseVector(indices=[7], values=[0.8]))]
        + [point(n, document_id=2, acl=["group:2"], sparse=terms(7)) for n in range(10, 16)]
    )
    # when
    hits = index.query(scope=GROUP_1, limit=10, sparse=terms(7))
    # then: N = 4 readable, n = 1
    assert len(hits) == 1
    assert hits[0].score == pytest.approx(0.8 * math.log(1 + (4 - 1 + 0.5) / (1 + 0.5)))


def test_query_terms_no_readable_chunk_holds_match_nothing(index: VectorIndex) -> None:
    # given: term 9 only in a chunk of another group
    index.upsert([point(0), point(1, document_id=2, acl=["group:2"], sparse=terms(9))])
    # when / then
    assert hit_ids(index, sparse=terms(9)) == []


# ---------------------------------------------------------------------------- held terms


def test_held_terms_are_those_some_point_of_the_documents_holds(index: VectorIndex) -> None:
    # given: document 1 holds terms 0, 1 and the common term in two points; document 2 term 5
    index.upsert([point(0), point(1), point(5, document_id=2)])
    # when
    held = index.held_terms(terms=[0, 1, 5, 9, COMMON_TERM], document_ids=[1], scope=GROUP_1)
    # then: not term 5 (another document) nor 9 (no point)
    assert held == {0, 1, COMMON_TERM}
    assert index.held_terms(terms=[0, 5], document_ids=[1, 2], scope=GROUP_1) == {0, 5}


def test_held_terms_never_read_a_point_outside_the_scope(index: VectorIndex) -> None:
    # given: the same document id holds term 7 in a point of another group, term 8 in another
    # collection; the caller reads only point 0
    index.upsert(
        [
            point(0),
            point(7, acl=["group:2"], sparse=terms(7)),
            point(8, collection_id=2, sparse=terms(8)),
        ]
    )
    # when / then
    assert index.held_terms(terms=[0, 7, 8], document_ids=[1], scope=GROUP_1) == {0}
    assert index.held_terms(terms=[7], document_ids=[1], scope=GROUP_2) == {7}
    empty = AccessScope(collection_ids=[1], acl=[])
    assert index.held_terms(terms=[0], document_ids=[1], scope=empty) == set()
    assert index.held_terms(terms=[0], document_ids=[], scope=GROUP_1) == set()


# ---------------------------------------------------------------------------- edge only


def _pre_issue_11_folder(folder: Path, points: Sequence[ChunkPoint]) -> None:
    """An Edge folder as Quarry built it before issue 11: Qdrant's IDF modifier on `sparse`."""
    config = edge.EdgeConfig(
        vectors={"dense": edge.EdgeVectorParams(size=DIM, distance=edge.Distance.Cosine)},
        sparse_vectors={"sparse": edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)},
    )
    shard = edge.EdgeShard.create(str(folder), config)
    shard.update(
        edge.UpdateOperation.upsert_points(
            [
                edge.Point(
                    p.id,
                    {
                        "dense": list(p.dense),
                        "sparse": edge.SparseVector(list(p.sparse.indices), list(p.sparse.values)),
                    },
                    p.payload,
                )
                for p in points
            ]
        )
    )
    shard.flush()
    shard.close()


UPGRADE_POINTS = [point(n) for n in range(5)] + [
    point(n, document_id=2, acl=["group:2"], sparse=terms(1)) for n in range(10, 13)
]


def _scores_on_a_fresh_index(folder: Path) -> list[tuple[str, float]]:
    fresh = QdrantEdgeIndex(folder, dense_dim=DIM)
    fresh.upsert(UPGRADE_POINTS)
    hits = scored(fresh.query(scope=GROUP_1, limit=10, sparse=terms(1, COMMON_TERM)))
    fresh.close()
    return hits


@pytest.mark.parametrize("interrupted", [False, True], ids=["old-folder", "interrupted-upgrade"])
def test_edge_folder_built_with_global_idf_is_upgraded_in_place(
    tmp_path: Path, interrupted: bool
) -> None:
    # given: a pre-issue-11 folder; or one whose upgrade stopped after moving the old shard aside
    folder = tmp_path / "vectors"
    _pre_issue_11_folder(folder, UPGRADE_POINTS)
    if interrupted:
        (folder / upgrade.OLD).mkdir()
        for name in upgrade.SHARD_ENTRIES:
            (folder / name).rename(folder / upgrade.OLD / name)
    # when
    index = QdrantEdgeIndex(folder, dense_dim=DIM)
    hits = scored(index.query(scope=GROUP_1, limit=10, sparse=terms(1, COMMON_TERM)))
    count = index.count()
    index.close()
    # then: every point kept, ranked by the scope's IDF exactly as on a fresh index
    assert count == len(UPGRADE_POINTS)
    assert hits == _scores_on_a_fresh_index(tmp_path / "fresh")
    assert not upgrade.uses_global_idf(folder)
    assert not (folder / upgrade.OLD).exists() and not (folder / upgrade.REBUILD).exists()


def test_edge_data_persists_across_close_and_reopen(tmp_path: Path) -> None:
    # given
    folder = tmp_path / "vectors"
    first = QdrantEdgeIndex(folder, dense_dim=DIM)
    points = [point(n) for n in range(3)]
    first.upsert(points)
    first.set_acl(document_id=1, acl=["group:2"])
    first.close()
    # when
    reopened = QdrantEdgeIndex(folder, dense_dim=DIM)
    try:
        # then
        assert reopened.count() == 3
        assert hit_ids(reopened, GROUP_2, dense=axis(1))[0] == points[1].id
    finally:
        reopened.close()


def test_folder_lock_is_per_open_file_description(tmp_path: Path) -> None:
    # given: flock belongs to an open file, so one process can conflict with itself
    first = FolderLock(tmp_path, what="vector index")
    first.acquire()
    # when / then
    with pytest.raises(StoreLockedError, match=str(os.getpid())):
        FolderLock(tmp_path, what="vector index").acquire()
    first.release()


def test_edge_second_open_while_first_is_open_raises_store_locked(tmp_path: Path) -> None:
    # given
    folder = tmp_path / "vectors"
    first = QdrantEdgeIndex(folder, dense_dim=DIM)
    try:
        # when / then
        with pytest.raises(StoreLockedError, match=r"embedded vector index .* is in use"):
            QdrantEdgeIndex(folder, dense_dim=DIM)
    finally:
        first.close()
    QdrantEdgeIndex(folder, dense_dim=DIM).close()


def _open_edge_in_child(folder: str) -> str:
    try:
        QdrantEdgeIndex(Path(folder), dense_dim=DIM).close()
    except StoreLockedError as exc:
        return str(exc)
    return "opened"


def test_edge_open_from_another_process_raises_store_locked(tmp_path: Path) -> None:
    # given
    folder = tmp_path / "vectors"
    first = QdrantEdgeIndex(folder, dense_dim=DIM)
    try:
        # when
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            outcome = pool.apply(_open_edge_in_child, (str(folder),))
    finally:
        first.close()
    # then
    assert f"in use by process {os.getpid()}" in outcome


# ---------------------------------------------------------------------------- server only


def test_server_collection_with_global_idf_is_switched_to_the_scope_idf(tmp_path: Path) -> None:
    # given: a collection as Quarry created it before issue 11 (qdrant-client in-process mode)
    client = QdrantClient(":memory:")
    client.create_collection(
        "chunks",
        vectors_config={"dense": models.VectorParams(size=DIM, distance=models.Distance.COSINE)},
        sparse_vectors_config={"sparse": models.SparseVectorParams(modifier=models.Modifier.IDF)},
    )
    # when
    index = QdrantServerIndex(client, dense_dim=DIM)
    index.upsert(UPGRADE_POINTS)
    hits = scored(index.query(scope=GROUP_1, limit=10, sparse=terms(1, COMMON_TERM)))
    # then: no modifier any more, and the same ranking as the Edge flavour
    sparse = client.get_collection("chunks").config.params.sparse_vectors or {}
    assert sparse["sparse"].modifier == models.Modifier.NONE
    edge_hits = _scores_on_a_fresh_index(tmp_path / "edge")
    assert [hit_id for hit_id, _ in hits] == [hit_id for hit_id, _ in edge_hits]
    assert [score for _, score in hits] == pytest.approx([score for _, score in edge_hits])
    index.close()


def test_unreachable_server_raises_store_error_naming_the_url() -> None:
    # given: nothing listens on the discard port (no version check: it warns from a thread)
    url = "http://127.0.0.1:9"
    client = QdrantClient(url=url, check_compatibility=False)
    # when / then
    with pytest.raises(StoreError, match=re.escape(url)):
        QdrantServerIndex(client, dense_dim=DIM)
