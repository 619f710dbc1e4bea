"""Writes on conversations: the chat pages' exchanges, deletion, and retention.

A conversation records what its owner asked and was answered, never which query-log row that
was: the log stays anonymous (kb.services.querylog), and nothing here could join it back to the
user.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from kb.models import Conversation, Turn, TurnRole
from kb.text.shorten import shortened
from retrieval.answer_checks import Claim, unverified_spans

TITLE_CHARS = 80
# What a stored citation keeps: enough to link the source again, never the passage text.
CITATION_FIELDS = ("n", "document_id", "title", "page", "page_label", "section", "chunk_id")


def conversation_title(question: str) -> str:
    """The first question on one line, shortened at a word boundary where there is one."""
    return shortened(question, TITLE_CHARS)


@transaction.atomic
def exchange_record(
    *,
    user: AbstractBaseUser,
    conversation_id: int | None,
    question: str,
    answer: str,
    refused: bool,
    citations: Sequence[dict[str, Any]],
    closest: Sequence[dict[str, Any]] = (),
    claims: Sequence[Claim] = (),
) -> Conversation:
    """Appends a question and its answer; starts a conversation when there is none (or when
    its owner deleted it while the answer was being written). A refusal has no citations: the
    turn keeps the closest sources it names in their place (Turn), and no claims (those of an
    answer it replaced are not in its text). Of the answer's checked sentences (`claims`), the
    turn keeps where the unsupported ones stand, as offsets: the answer's words stay encrypted."""
    conversation = None
    if conversation_id is not None:
        conversation = (
            Conversation.objects.select_for_update()
            .filter(pk=conversation_id, user_id=user.pk)
            .first()
        )
    if conversation is None:
        conversation = Conversation.objects.create(
            user_id=user.pk, title=conversation_title(question)
        )
    Turn.objects.bulk_create(
        [
            Turn(conversation=conversation, role=TurnRole.USER, content=question),
            Turn(
                conversation=conversation,
                role=TurnRole.ASSISTANT,
                content=answer,
                refused=refused,
                citations=[_stored(c) for c in (closest if refused else citations)],
                unverified=[] if refused else [list(s) for s in unverified_spans(answer, claims)],
            ),
        ]
    )
    conversation.updated_at = timezone.now()
    conversation.save(update_fields=["updated_at"])
    return conversation


def conversation_delete(*, conversation: Conversation) -> None:
    conversation.delete()  # its turns go with it


def conversations_delete_of_user(*, user: AbstractBaseUser) -> tuple[int, int]:
    """Every conversation of `user`; returns how many conversations and turns went. Nothing is
    decrypted on the way (only ids are loaded): erasing works without the conversation key."""
    _total, by_model = Conversation.objects.filter(user_id=user.pk).only("pk").delete()
    return by_model.get(Conversation._meta.label, 0), by_model.get(Turn._meta.label, 0)


def conversations_forget_documents(*, document_ids: Collection[int]) -> int:
    """Remove every citation (and every closest source a refusal named) that points at one of
    these documents, as they are deleted: a conversation keeps no title, section or chunk id of
    a document that is gone. Returns how many turns changed."""
    if not document_ids:
        return 0
    gone = {str(document_id) for document_id in document_ids}
    changed = []
    cited = Turn.objects.filter(role=TurnRole.ASSISTANT).exclude(citations=[]).only("citations")
    for turn in cited.iterator():
        kept = [c for c in turn.citations if not _cites(c, gone)]
        if len(kept) != len(turn.citations):
            turn.citations = kept
            changed.append(turn)
    Turn.objects.bulk_update(changed, ["citations"], batch_size=500)
    return len(changed)


def _cites(citation: dict[str, Any], document_ids: set[str]) -> bool:
    """Compared as text: a stored id is an int, but JSON written by hand could hold "7"."""
    return str(citation.get("document_id")) in document_ids


def conversations_purge_expired() -> int:
    """Delete chat histories untouched for KB_CONVERSATION_RETENTION_DAYS (0 keeps them): a
    stored question could be matched to its redacted query-log row, so histories do not stay
    longer than the log's own retention unless an operator decides so."""
    if settings.KB_CONVERSATION_RETENTION_DAYS <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=settings.KB_CONVERSATION_RETENTION_DAYS)
    stale = Conversation.objects.filter(updated_at__lt=cutoff).only("pk")  # nothing decrypted
    count = stale.count()
    stale.delete()
    return count


def _stored(citation: dict[str, Any]) -> dict[str, Any]:
    return {field: citation.get(field) for field in CITATION_FIELDS}
