"""Feedback as fine-tuning data: for each rated answer, the prompt the model saw (rebuilt from
its template version and the passages it was given, fitted to the prompt budget in settings,
KB_PROMPT_TOKEN_BUDGET, as a served question's are: the budget an answer was made at is not
logged), the answer, and the rating.

The prompt is the one the model was sent: both LLM backends break every control-token string in
it (kb.llm.control), so the export breaks them too (the generic set, as for a server's model):
a document title or passage holding `<|im_end|>` must not become a turn break in training
data whose tokenizer matches special tokens in text.

Only queries with feedback are exported, and every text is redacted: questions, answers and
comments were redacted when logged and are redacted again on the way out (rows logged under
older, weaker rules), and passage text is redacted on the way out (documents may hold contact
details too). A row whose passages are no longer indexed cannot be rebuilt faithfully
and is skipped, and counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings

from kb.access import ACL_STAFF
from kb.llm.chat import plain_messages
from kb.llm.control import PlainText, generic_plain_text
from kb.models import Collection, QueryLog
from kb.redaction import redact
from kb.stores.factory import vector_index
from kb.stores.payload import ChunkPayload
from kb.stores.types import AccessScope
from retrieval.prompt_budget import fit_passages
from retrieval.prompting import UnknownTemplate, answer_messages, load_template
from retrieval.types import Passage


@dataclass
class ExportStats:
    exported: int = 0
    skipped_refused: int = 0  # refused before the model: there is no completion to learn from
    skipped_missing: int = 0  # passages re-indexed or deleted since, or template removed


def feedback_examples(stats: ExportStats) -> Iterator[dict[str, Any]]:
    rows = QueryLog.objects.filter(feedback__isnull=False).select_related("feedback")
    everything = AccessScope(
        collection_ids=list(Collection.objects.values_list("pk", flat=True)), acl=[ACL_STAFF]
    )  # every chunk carries the staff entry: the export is an administrator's tool
    for row in rows.order_by("pk"):
        chunk_ids = [chunk_id for chunk_id, _score in row.retrieved.get("passages", [])]
        if not chunk_ids:
            stats.skipped_refused += 1
            continue
        example = _example(row, chunk_ids, everything)
        if example is None:
            stats.skipped_missing += 1
            continue
        stats.exported += 1
        yield example


def _example(row: QueryLog, chunk_ids: list[str], scope: AccessScope) -> dict[str, Any] | None:
    try:
        template = load_template(row.template_version)
    except UnknownTemplate:
        return None
    hits = vector_index().fetch(ids=chunk_ids, scope=scope)
    payloads = {hit.id: ChunkPayload.from_dict(hit.payload) for hit in hits}
    if set(payloads) != set(chunk_ids):
        return None
    passages = [
        _passage(n, chunk_id, payloads[chunk_id]) for n, chunk_id in enumerate(chunk_ids, start=1)
    ]
    question = redact(row.question_redacted)
    shown = fit_passages(question, passages, budget=settings.KB_PROMPT_TOKEN_BUDGET).prompt
    return {
        "prompt": plain_messages(answer_messages(template, question, shown), _plain_text()),
        "completion": redact(row.answer_redacted),
        "rating": row.feedback.rating,
        "comment": redact(row.feedback.comment_redacted),
        "query_id": row.pk,
        "template_version": row.template_version,
        "model": row.model,
    }


@cache
def _plain_text() -> PlainText:
    return generic_plain_text()


def _passage(n: int, chunk_id: str, payload: ChunkPayload) -> Passage:
    return Passage(
        n=n,
        chunk_id=chunk_id,
        document_id=payload.document_id,
        title=payload.title,
        page=payload.page,
        section=payload.section,
        text=redact(payload.text),
        score=0.0,
        paths=(),
        page_label=payload.page_label,
    )
