"""kb/deploy/*.lock: every package pinned with its hashes, at pyproject.toml's versions, no CUDA
package, and the Makefile and the app image install from the locks with --require-hashes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.paths import ROOT

pytestmark = pytest.mark.unit
DEPLOY = ROOT / "kb/deploy"
RUNTIME = DEPLOY / "requirements.lock"
DEV = DEPLOY / "requirements-dev.lock"
TORCH = DEPLOY / "requirements-torch-cpu.lock"
LLAMA = DEPLOY / "requirements-llama.lock"
NODEPS = DEPLOY / "requirements-nodeps.txt"
ALL = (RUNTIME, DEV, TORCH, LLAMA, NODEPS)
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")
PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!-]+)")


def _logical_lines(text: str) -> list[str]:
    """Lines with their backslash continuations joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n", " ", text)
    lines = (line.split(" #")[0].strip() for line in joined.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _pins(path: Path) -> dict[str, tuple[str, list[str]]]:
    """Canonical name -> (version, hashes); fails on a line that is not `name==version --hash`."""
    pins: dict[str, tuple[str, list[str]]] = {}
    for line in _logical_lines(path.read_text()):
        requirement, *options = line.split()
        match = PIN.fullmatch(requirement)
        assert match, f"{path.name}: not pinned with ==: {line[:80]}"
        assert options and all(HASH.fullmatch(o) for o in options), (
            f"{path.name}: {requirement} has an option that is not a sha256 hash, or no hash"
        )
        name = canonicalize_name(match[1])
        assert name not in pins, f"{path.name}: {name} twice"
        pins[name] = (match[2], options)
    return pins


def _pyproject_pins(*groups: str) -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = [
        *(project["dependencies"] if "main" in groups else []),
        *(d for g in groups if g != "main" for d in project["optional-dependencies"][g]),
    ]
    pins: dict[str, str] = {}
    for line in lines:
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"pyproject.toml: {line} is not pinned with =="
        pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def _makefile_variable(name: str) -> str:
    makefile = re.sub(r"\\\n\s*", " ", (ROOT / "Makefile").read_text())
    match = re.search(rf"^{name} :?= (.+)$", makefile, re.MULTILINE)
    assert match, f"Makefile: no {name}"
    return match[1]


def _commands(text: str) -> list[str]:
    """Shell commands of a Makefile or Dockerfile, continuations joined, split at && || ;."""
    joined = re.sub(r"\\\n", " ", text)
    return [" ".join(c.split()) for c in re.split(r"&&|\|\||;|\n", joined) if c.strip()]


def _pip_commands(text: str) -> list[str]:
    return [c for c in _commands(text) if re.search(r"(pip|\$\(PIP\)) (install|wheel)", c)]


def _stamp_recipe() -> str:
    makefile = (ROOT / "Makefile").read_text()
    match = re.search(r"^\$\(STAMP\):.*?\n\n", makefile, re.MULTILINE | re.DOTALL)
    assert match, "Makefile: no $(STAMP) rule"
    return match[0]


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_line_is_pinned_with_its_hashes(path: Path) -> None:
    assert _pins(path), f"{path.name} pins nothing"


def test_pyproject_pins_are_the_locked_versions() -> None:
    runtime, dev = _pyproject_pins("main"), _pyproject_pins("main", "dev")
    llama = {"llama-cpp-python": runtime.pop("llama-cpp-python")}
    del dev["llama-cpp-python"]

    wrong = [
        f"{path.name}: {name} is {version} in pyproject.toml, {locked.get(name, 'missing')} here"
        for path, pins in ((RUNTIME, runtime), (DEV, dev), (LLAMA, llama))
        for locked in [{n: v for n, (v, _) in _pins(path).items()}]
        for name, version in pins.items()
        if locked.get(name) != version
    ]

    assert not wrong, f"run `make lock`: {wrong}"


def test_the_dev_lock_keeps_every_runtime_pin() -> None:
    dev = _pins(DEV)
    changed = [name for name, pin in _pins(RUNTIME).items() if dev.get(name) != pin]
    assert not changed, f"requirements-dev.lock differs from requirements.lock on {changed}"


def test_torch_and_llama_are_installed_by_their_own_steps_only() -> None:
    for path in (RUNTIME, DEV):
        assert {"torch", "llama-cpp-python"}.isdisjoint(_pins(path)), path.name
    assert _pins(TORCH).keys() == {"torch"}
    assert _pins(LLAMA).keys() == {"llama-cpp-python"}
    assert _pins(LLAMA)["llama-cpp-python"][0] == _makefile_variable("LLAMA_VERSION")


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_no_cuda_package_is_locked(path: Path) -> None:
    cuda = [
        f"{name}=={version}"
        for name, (version, _) in _pins(path).items()
        if name.startswith("nvidia-")
        or "cuda" in name
        or name == "triton"
        or re.search(r"\+cu\d", version)
    ]
    assert not cuda, f"{path.name} locks CUDA packages: {cuda}"


def test_torch_is_the_cpu_build_of_the_makefile_version() -> None:
    assert _pins(TORCH)["torch"][0] == f"{_makefile_variable('TORCH_VERSION')}+cpu"


def test_make_install_installs_only_from_the_locks_with_hashes() -> None:
    recipe = _stamp_recipe()
    prerequisites = recipe.splitlines()[0]
    commands = _pip_commands(recipe)

    assert "$(LOCKS)" in prerequisites
    locks = _makefile_variable("LOCKS").split()
    assert all(path.relative_to(ROOT).as_posix() in locks for path in ALL), "stamp misses a lock"
    for lock in ("requirements-dev.lock", "requirements-nodeps.txt", "requirements-torch-cpu.lock"):
        assert any(
            f"-r kb/deploy/{lock}" in c and "--require-hashes" in c and "--no-deps" in c
            for c in commands
        ), f"make install does not install kb/deploy/{lock} with --no-deps --require-hashes"
    assert any(
        " wheel " in c and "--require-hashes -r kb/deploy/requirements-llama.lock" in c
        for c in commands
    ), "the llama-cpp-python sdist is built without its hash checked"
    unchecked = [c for c in commands if "--no-deps" not in c and not c.endswith("--upgrade pip")]
    assert not unchecked, f"make install resolves dependencies: {unchecked}"


def test_the_app_image_installs_only_from_the_locks_with_hashes() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    commands = _pip_commands(dockerfile)

    assert "ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu\n" in dockerfile
    assert "ARG TORCH_LOCK=kb/deploy/requirements-torch-cpu.lock\n" in dockerfile
    assert any(
        '--require-hashes --index-url "$TORCH_INDEX" -r "$TORCH_LOCK"' in c for c in commands
    ), "the image must take torch from the index it names, hash-checked"
    assert any(
        "--require-hashes -r kb/deploy/requirements.lock -r kb/deploy/requirements-nodeps.txt" in c
        for c in commands
    ), "the image must install requirements.lock with --require-hashes"
    assert any(
        " wheel " in c and "--require-hashes -r kb/deploy/requirements-llama.lock" in c
        for c in commands
    ), "the image builds llama-cpp-python from an sdist whose hash is not checked"
    assert all("--no-deps" in c for c in commands), "the image resolves dependencies"


def test_the_image_builds_llama_cpp_as_the_makefile_does() -> None:
    dockerfile = re.sub(r"\\\n", "", (DEPLOY / "Dockerfile").read_text())
    match = re.search(r'^ARG LLAMA_CMAKE_ARGS="([^"]+)"', dockerfile, re.MULTILINE)
    assert match, "Dockerfile: no LLAMA_CMAKE_ARGS"
    assert match[1].split() == _makefile_variable("LLAMA_CMAKE_ARGS").split(), (
        "kb/deploy/Dockerfile and the Makefile build llama-cpp-python differently"
    )
