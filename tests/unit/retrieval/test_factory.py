"""The claim check's embedder comes from settings; retrieval/ itself reads none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from retrieval import factory

pytestmark = pytest.mark.unit


def test_without_a_claim_model_the_check_gets_no_embedder(settings: Any) -> None:
    settings.KB_CLAIM_EMBED_MODEL = ""

    assert factory.claim_embedder() is None


@pytest.mark.parametrize("cross_language", [True, False], ids=["multilingual", "english-only"])
def test_the_claim_model_is_loaded_by_name_and_marked_as_configured(
    settings: Any, monkeypatch: pytest.MonkeyPatch, cross_language: bool
) -> None:
    loaded: list[str] = []

    def load(name: str, *, models_dir: Path) -> str:
        loaded.append(name)
        return name

    monkeypatch.setattr(factory, "load_embedder", load)
    settings.KB_CLAIM_EMBED_MODEL = "multilingual-e5-small"
    settings.KB_CLAIM_EMBED_CROSS_LANGUAGE = cross_language

    embedder = factory.claim_embedder()

    assert embedder is not None and embedder.cross_language is cross_language
    assert loaded == ["multilingual-e5-small"] and embedder.encoder == "multilingual-e5-small"  # type: ignore[comparison-overlap]
