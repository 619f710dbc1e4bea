from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from pytest_django.fixtures import Settings

from kb.stores import factory
from tests.support.personas import World, build_world


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Rate-limit counters are keyed by user id, and ids repeat between tests: each test starts
    with an empty cache, so that no earlier test's requests count against it."""
    cache.clear()


@pytest.fixture
def world(db: None) -> World:
    return build_world()


@pytest.fixture
def stores(settings: Settings, tmp_path: Path) -> Iterator[Path]:
    """Fresh embedded stores and media folder for one test."""
    settings.KB_DATA_DIR = tmp_path
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.QDRANT_URL = ""
    settings.NEO4J_URI = ""
    factory.close_stores()
    yield tmp_path
    factory.close_stores()
