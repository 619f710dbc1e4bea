"""Environments for the subprocesses tests start: none of this machine's Quarry settings leak in."""

from __future__ import annotations

import os

SETTING_PREFIXES = ("KB_", "DJANGO", "DATABASE", "CELERY", "QDRANT", "NEO4J", "PROMETHEUS")


def unconfigured_environ(**settings: str) -> dict[str, str]:
    """os.environ without any variable our settings read, plus `settings`."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIXES)}
    return {**keep, **settings}
