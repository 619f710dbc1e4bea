"""Thin Celery tasks for the core app: load, call one service, done."""

from __future__ import annotations

from celery import shared_task

from kb.services.conversations import conversations_purge_expired
from kb.services.querylog import querylog_purge_expired


@shared_task(name="kb.querylog_purge_expired")
def querylog_purge_expired_task() -> int:
    """Enforces KB_LOG_RETENTION_DAYS; scheduled daily (CELERY_BEAT_SCHEDULE)."""
    return querylog_purge_expired()


@shared_task(name="kb.conversations_purge_expired")
def conversations_purge_expired_task() -> int:
    """Enforces KB_CONVERSATION_RETENTION_DAYS; scheduled daily."""
    return conversations_purge_expired()
