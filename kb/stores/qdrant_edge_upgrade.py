"""Upgrade an Edge folder built with Qdrant's IDF modifier (before issue 11) in place.

The modifier weighed sparse query terms by their frequency among all chunks, which told a caller
about chunks they cannot read; the index now stores the same sparse values without it and
weighs terms by the caller's scope (`qdrant_common`). Edge refuses to open a folder whose
modifier differs from the configured one, and the modifier acts at query time only, so the
points themselves are still right: copying them (vectors and payloads as stored) into a shard
with the new configuration is the whole upgrade, minutes of copying instead of re-embedding
every document.

The copy is built beside the old shard, inside the same folder (whose lock the caller holds),
and swapped in last; `OLD` is removed only once the new shard is in place, so a crash at any
step leaves either the old shard or a restorable one (`restore_interrupted`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import qdrant_edge as edge

from kb.stores.qdrant_common import SPARSE

CONFIG = "edge_config.json"
SHARD_ENTRIES = ("wal", "segments", CONFIG)
REBUILD = ".rebuild"
OLD = ".idf-old"
COPY_BATCH = 512


def uses_global_idf(path: Path) -> bool:
    """Whether the folder's shard was configured with the IDF modifier."""
    config = json.loads((path / CONFIG).read_text(encoding="utf-8"))
    sparse = (config.get("sparse_vectors") or {}).get(SPARSE) or {}
    return str(sparse.get("modifier") or "").lower() == "idf"


def restore_interrupted(path: Path) -> None:
    """An upgrade that stopped before removing `OLD`: put the old shard back, so it runs again
    from the start."""
    old = path / OLD
    if not old.exists():
        return
    for name in SHARD_ENTRIES:
        if (old / name).exists():
            _remove(path / name)
            (old / name).rename(path / name)
    shutil.rmtree(old)
    shutil.rmtree(path / REBUILD, ignore_errors=True)


def drop_global_idf(path: Path, config: edge.EdgeConfig) -> int:
    """Copy every point into a shard with `config`, then swap it in. Returns the points copied."""
    rebuild = path / REBUILD
    shutil.rmtree(rebuild, ignore_errors=True)
    source = edge.EdgeShard.load(str(path))
    try:
        target = edge.EdgeShard.create(str(rebuild), config)
        try:
            copied = _copy_points(source, target)
            target.flush()
        finally:
            target.close()
    finally:
        source.close()
    _swap(path, rebuild)
    return copied


def _copy_points(source: edge.EdgeShard, target: edge.EdgeShard) -> int:
    copied = 0
    offset: edge.PointId | None = None
    while True:
        request = edge.ScrollRequest(
            offset=offset, limit=COPY_BATCH, with_payload=True, with_vector=True
        )
        records, offset = source.scroll(request)
        points = [edge.Point(r.id, r.vector or {}, r.payload or {}) for r in records]
        if points:
            target.update(edge.UpdateOperation.upsert_points(points))
        copied += len(points)
        if offset is None:
            return copied


def _swap(path: Path, rebuild: Path) -> None:
    old = path / OLD
    old.mkdir()
    for name in SHARD_ENTRIES:
        if (path / name).exists():
            (path / name).rename(old / name)
    for name in SHARD_ENTRIES:
        if (rebuild / name).exists():
            (rebuild / name).rename(path / name)
    shutil.rmtree(old)
    shutil.rmtree(rebuild, ignore_errors=True)


def _remove(entry: Path) -> None:
    if entry.is_dir():
        shutil.rmtree(entry)
    elif entry.exists():
        entry.unlink()
