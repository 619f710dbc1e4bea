"""How many tasks wait in each queue: Redis list lengths, or files in the folder broker."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)


def queue_depths(queues: Sequence[str] | None = None) -> dict[str, int]:
    """Best effort: an unreachable broker reports nothing here (readiness says it is down).
    Every queue unless `queues` names some."""
    from kb.celery import all_queues

    queues = all_queues() if queues is None else queues
    try:
        if settings.CELERY_BROKER_URL.startswith("filesystem://"):
            return {queue: _folder_depth(queue) for queue in queues}
        return {queue: _broker_depth(queue) for queue in queues}
    except Exception:  # metrics must never fail a scrape
        logger.warning("could not read queue depths", exc_info=True)
        return {}


def _folder_depth(queue: str) -> int:
    folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
    return sum(1 for _ in folder.glob(f"*.{queue}.msg"))  # kombu names them <ts>_<id>.<queue>.msg


def _broker_depth(queue: str) -> int:
    from kb.celery import app

    with app.connection_for_read() as connection:
        channel: Any = connection.default_channel  # kombu's stub lacks queue_declare
        try:
            return int(channel.queue_declare(queue=queue, passive=True).message_count)
        except connection.channel_errors:  # never declared yet: nothing has been sent to it
            return 0
