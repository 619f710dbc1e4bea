"""The README's configuration table names every environment variable the settings read."""

from __future__ import annotations

import re

import pytest

from tests.support.paths import ROOT

pytestmark = pytest.mark.unit


def _variables_read_by_settings() -> set[str]:
    pattern = re.compile(
        r"env_(?:str|int|bool|list|path|required|choice|mapping)\(\s*\"([A-Z0-9_]+)\""
    )
    names: set[str] = set()
    for path in (ROOT / "kb" / "settings").glob("*.py"):
        names |= set(pattern.findall(path.read_text()))
    return names


def test_every_setting_is_documented_in_the_configuration_table() -> None:
    readme = (ROOT / "README.md").read_text()
    table = {m for m in re.findall(r"^\| `([A-Z0-9_]+)`", readme, flags=re.MULTILINE)}

    missing = _variables_read_by_settings() - table

    assert not missing, f"undocumented settings: {sorted(missing)}"


def test_readme_leads_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    first_section = readme.split("\n## ", 2)[1]
    assert "make run" in first_section and "make test" in first_section
