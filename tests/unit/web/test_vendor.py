"""Vendored front-end files are exactly the published ones recorded in their README."""

from __future__ import annotations

import hashlib
import re

import pytest

from tests.support.paths import ROOT

pytestmark = pytest.mark.unit
VENDOR = ROOT / "kb" / "static" / "vendor"
# | `file` | `package` | version | licence | `sha256` |
ROW = re.compile(r"^\| `([^`]+)` \| `[^`]+` \| ([^|]+?) \|[^|]+\| `([0-9a-f]{64})` \|$", re.M)


def recorded() -> dict[str, tuple[str, str]]:
    """file -> (version, sha256), from the README's table."""
    rows = ROW.findall((VENDOR / "README.md").read_text())
    return {path: (version, sha256) for path, version, sha256 in rows}


def test_the_readme_records_every_vendored_script() -> None:
    scripts = {str(p.relative_to(VENDOR)) for p in VENDOR.rglob("*.js")}

    assert scripts and scripts == set(recorded())


@pytest.mark.parametrize("path", sorted(recorded()))
def test_each_vendored_file_matches_its_recorded_sha256(path: str) -> None:
    version, sha256 = recorded()[path]

    content = (VENDOR / path).read_bytes()

    assert hashlib.sha256(content).hexdigest() == sha256
    assert version in content.decode()
