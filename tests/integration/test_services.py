"""The services tier (`make test-services`, run by .ci/run) must really be on PostgreSQL and
Redis. Run without them, these fail with the reason instead of passing on the embedded stack."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from kb.celery import app

pytestmark = [pytest.mark.services, pytest.mark.integration]


def test_database_is_postgresql(db: None) -> None:
    if connection.vendor != "postgresql":
        pytest.fail(
            f"needs PostgreSQL (DATABASE_URL), got {connection.vendor}: run make test-services"
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        assert "PostgreSQL" in cursor.fetchone()[0]


def test_broker_is_a_reachable_redis() -> None:
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.fail(f"needs Redis (CELERY_BROKER_URL), got {settings.CELERY_BROKER_URL}")
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
        assert conn.transport_cls == "redis"


def test_queue_depth_and_readiness_read_the_redis_broker(db: None) -> None:
    from kb.observability.queues import queue_depths
    from kb.observability.readiness import check_broker

    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.fail(f"needs Redis (CELERY_BROKER_URL), got {settings.CELERY_BROKER_URL}")
    queue = "quarry-depth-probe"
    with app.connection_for_write() as conn:
        channel: Any = conn.default_channel  # kombu's stub lacks the channel methods
        channel.queue_declare(queue=queue)
        channel.queue_purge(queue)
        for n in range(3):
            channel.basic_publish(channel.prepare_message(str(n)), exchange="", routing_key=queue)
        try:
            assert queue_depths((queue,)) == {queue: 3}
        finally:
            channel.queue_purge(queue)
    check_broker()  # raises when the broker cannot be reached
