"""Tests of a data migration: the database migrated to a given point, and back to the latest
schema afterwards for the tests that follow."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate_to(target: tuple[str, str]) -> Any:
    """The project state's apps at `target`, the database migrated there (a fresh graph each
    time: an executor's own graph ends where it last migrated)."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


@contextmanager
def then_latest_schema() -> Iterator[None]:
    """Whatever a test migrated to, the latest schema again after it."""
    try:
        yield
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
