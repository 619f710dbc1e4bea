"""Thin Celery tasks for the core app: load, call one service, done."""

from __future__ import annotations

from celery import shared_task

from kb.directory import DirectoryUnavailable, directory_enabled
from kb.services.conversations import conversations_purge_expired
from kb.services.directory import directory_sync
from kb.services.querylog import querylog_purge_expired


@shared_task(name="kb.querylog_purge_expired")
def querylog_purge_expired_task() -> int:
    """Enforces KB_LOG_RETENTION_DAYS; scheduled daily (CELERY_BEAT_SCHEDULE)."""
    return querylog_purge_expired()


@shared_task(name="kb.conversations_purge_expired")
def conversations_purge_expired_task() -> int:
    """Enforces KB_CONVERSATION_RETENTION_DAYS; scheduled daily."""
    return conversations_purge_expired()


@shared_task(
    name="kb.directory_sync",
    autoretry_for=(DirectoryUnavailable,),
    retry_backoff=60,
    retry_jitter=True,
    max_retries=3,
)
def directory_sync_task() -> dict[str, int]:
    """`kb_sync_directory` hourly (CELERY_BEAT_SCHEDULE); nothing when LDAP is off. A directory
    that cannot be asked changes nothing, and is asked again later."""
    if not directory_enabled():
        return {}
    report = directory_sync()
    return {
        "checked": report.checked,
        "changed": len(report.changed),
        "deactivated": len(report.deactivated),
    }
