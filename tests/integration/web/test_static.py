"""Production serves static files hashed and compressed (whitenoise's manifest storage): every
file the pages link must make it through `collectstatic`, as the Docker image runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.environment import unconfigured_environ
from tests.support.processes import manage

pytestmark = [pytest.mark.integration, pytest.mark.slow]
LINKED = ["kb/quarry.css", "kb/chat.js", "kb/manage.js", "vendor/htmx/htmx.min.js"]


def test_collectstatic_with_the_production_storage_hashes_and_compresses_every_page_asset(
    tmp_path: Path,
) -> None:
    env = unconfigured_environ(
        DJANGO_SETTINGS_MODULE="kb.settings.production",
        DJANGO_SECRET_KEY="build",
        KB_LOG_PSEUDONYM_KEY="build",
        KB_CONVERSATION_KEY="build",  # as kb/deploy/Dockerfile builds it
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        KB_DATA_DIR=str(tmp_path),
    )

    manage(env, "collectstatic", "--noinput", "-v", "0")

    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]
    for name in LINKED:
        hashed = tmp_path / "static" / manifest[name]
        assert hashed.exists() and hashed.with_name(hashed.name + ".gz").exists(), name
