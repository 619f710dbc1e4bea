"""kb.text is shared by ingestion and retrieval, so it imports neither of them nor the web or
API layers: otherwise the two sides could drift apart, or import each other through it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import kb.text

pytestmark = pytest.mark.unit

FORBIDDEN = ("retrieval", "ingestion", "kb.web", "kb.api")


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "path", sorted(Path(kb.text.__file__).parent.glob("*.py")), ids=lambda path: path.name
)
def test_kb_text_imports_no_layer_above_it(path: Path) -> None:
    imported = _imported_modules(path)

    assert sorted(name for name in imported if _forbidden(name)) == []


def _forbidden(module: str) -> bool:
    return any(module == layer or module.startswith(f"{layer}.") for layer in FORBIDDEN)
