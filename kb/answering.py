"""Questions from a user: the access policy resolves the scope (DESIGN.md, query path step 1),
retrieval does the rest, and every answered question writes its anonymised QueryLog (step 6).

Used by the REST API and the chat pages alike, so both apply the same policy and logging.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.dispatch import Signal

from kb.access import AnyUser, access_scope, readable_document_ids
from kb.answer_cache import (
    answer_key,
    cached_answer,
    check_of,
    closest_of,
    in_flight,
    passages_of,
    remember_answer,
)
from kb.llm.cancel import unless
from kb.llm.chat import LlmBusy, Message
from kb.models import QueryLog
from kb.observability import metrics
from kb.selectors.documents import readable_scripts
from kb.services.querylog import QueryRecord, pseudonym, querylog_write
from kb.stores.types import AccessScope
from retrieval.answerer import Answer, Answerer, Progress, Sources
from retrieval.evidence import NO_EVIDENCE
from retrieval.experiments import parse_split, variant_for
from retrieval.factory import default_answerer, default_retriever
from retrieval.refusals import RefusalReason
from retrieval.retriever import Retrieval
from retrieval.timing import ms_since
from retrieval.types import Candidate, Passage

# Sent with `messages=` just before a prompt goes to the model: an audit hook, and how the
# security tests see exactly what reached a prompt.
prompt_sent = Signal()
# Per path, how many chunk ids and scores the query log keeps.
LOGGED_PER_PATH = 20


@dataclass(frozen=True)
class Finished:
    """The last item of an answer stream."""

    answer: Answer
    log: QueryLog


def answer_stream(
    *,
    user: AbstractBaseUser,
    question: str,
    collection_ids: Sequence[int] | None = None,
    top_k: int,
    history: Sequence[Message] = (),
) -> Iterator[str | Progress | Finished]:
    """`Translating` first when the model translates the question to search it in other
    languages too, `Sources` (the passages the prompt holds) before the model starts, text
    pieces as the model writes them, then `Finished` (after the log is written). A cached answer
    yields its sources and its whole text at once; a question refused before the model has no
    sources."""
    try:
        yield from _answer_stream(user, question, collection_ids, top_k, history)
    except LlmBusy:  # every interface's busy model, counted once here
        metrics.question_turned_away()
        raise


def _answer_stream(
    user: AbstractBaseUser,
    question: str,
    collection_ids: Sequence[int] | None,
    top_k: int,
    history: Sequence[Message],
) -> Iterator[str | Progress | Finished]:
    started = time.perf_counter()
    answerer = default_answerer(template_version=_template_for(user), on_prompt=_announce)
    scope = access_scope(user, collection_ids=_ids(collection_ids))

    def allowed(ids: set[int]) -> set[int]:
        return readable_document_ids(user, ids)

    scripts = readable_scripts(user=user, collection_ids=scope.collection_ids)

    def answer(key: str | None) -> Iterator[str | Progress | Finished]:
        return _answer(
            answerer,
            user,
            question,
            scope,
            allowed,
            top_k,
            history,
            key=key,
            document_scripts=scripts,
        )

    if history:  # a follow-up depends on its conversation: never shared or cached
        yield from answer(None)
        return
    key = answer_key(
        question=question,
        scope=scope,
        top_k=top_k,
        template_version=answerer.template.version,
        model=settings.KB_LLM_MODEL_NAME,
    )
    # Whoever else asks the same question meanwhile waits for this answer: it is finished for
    # them (and the cache) even when its first asker leaves.
    with (
        in_flight.hold(key, timeout=2 * settings.KB_LLM_QUEUE_TIMEOUT),
        unless(lambda: in_flight.others_waiting(key)),
    ):
        hit = _from_cache(key, question, answerer.template.version, allowed, started)
        if hit is not None:
            if hit.passages:  # post-checked with the rest of the entry
                yield Sources(hit.passages)
            yield hit.text
            yield Finished(hit, _log(user, question, scope.collection_ids, hit, cached=True))
            return
        yield from answer(key)


def _answer(
    answerer: Answerer,
    user: AbstractBaseUser,
    question: str,
    scope: AccessScope,
    allowed: Callable[[set[int]], set[int]],
    top_k: int,
    history: Sequence[Message],
    *,
    key: str | None,
    document_scripts: frozenset[str] = frozenset(),
) -> Iterator[str | Progress | Finished]:
    """`document_scripts`: what the question is also searched translated into."""
    with metrics.ANSWERS_IN_PROGRESS.track_inprogress():  # until the stream ends or is closed
        for item in answerer.stream(
            question,
            scope=scope,
            allowed=allowed,
            top_k=top_k,
            history=history,
            document_scripts=document_scripts,
        ):
            if isinstance(item, Answer):
                # Refusals too (the model's "I don't know" costs as much), but not a question
                # searched without the translation it should have had (the model was busy).
                if key is not None and item.retrieval.complete:
                    remember_answer(key, item)
                yield Finished(item, _log(user, question, scope.collection_ids, item))
            else:
                yield item


def answer_question(
    *,
    user: AbstractBaseUser,
    question: str,
    collection_ids: Sequence[int] | None = None,
    top_k: int,
    history: Sequence[Message] = (),
) -> Finished:
    for item in answer_stream(
        user=user, question=question, collection_ids=collection_ids, top_k=top_k, history=history
    ):
        if isinstance(item, Finished):
            return item
    raise RuntimeError("the answer stream ended without an answer")


@dataclass(frozen=True)
class Found:
    """What a search found: the passages, and the query as it was also searched translated
    (empty when it was searched as asked only)."""

    passages: list[Passage]
    translations: tuple[str, ...] = ()
    # The query could not be translated into every language it should have been (the model
    # busy or unreachable): `translations` lists those it was.
    translation_skipped: bool = False


def search_passages(
    *,
    user: AnyUser,
    query: str,
    collection_ids: Sequence[int] | None = None,
    top_k: int,
    translate: bool | None = None,
) -> Found:
    """Fused, post-checked passages without an answer. With `translate` (default:
    KB_TRANSLATE_SEARCHES) a query whose own words find little is also searched in the other
    languages of the documents the caller may read, as a question is: the model writes the
    translations (seconds on a CPU), and a model busy for longer than KB_TRANSLATE_WAIT_SECONDS
    leaves the query searched as asked."""
    if translate is None:
        translate = settings.KB_TRANSLATE_SEARCHES
    scope = access_scope(user, collection_ids=_ids(collection_ids))
    scripts = (
        readable_scripts(user=user, collection_ids=scope.collection_ids)
        if translate
        else frozenset()
    )
    retrieval = default_retriever(translate=translate).retrieve(
        query,
        scope=scope,
        allowed=lambda ids: readable_document_ids(user, ids),
        top_k=top_k,
        document_scripts=scripts,
    )
    metrics.translation_taken(retrieval.latencies_ms)
    return Found(retrieval.passages, retrieval.translations, not retrieval.complete)


def _ids(collection_ids: Sequence[int] | None) -> list[int] | None:
    return None if collection_ids is None else [int(c) for c in collection_ids]


def _template_for(user: AbstractBaseUser) -> str:
    """The experiment's variant for this asker, or the configured template."""
    split = parse_split(settings.KB_PROMPT_EXPERIMENT)
    return variant_for(pseudonym(user.pk), split, default=settings.KB_PROMPT_TEMPLATE)


def _from_cache(
    key: str,
    question: str,
    template_version: str,
    allowed: Callable[[set[int]], set[int]],
    started: float,
) -> Answer | None:
    """A cached answer, if every passage it was built from, and every closest source a
    refusal names, is still readable by the caller."""
    entry = cached_answer(key)
    if entry is None:
        return None
    passages, cited = passages_of(entry)
    closest = closest_of(entry)
    if closest is None:  # cached before refusals named their closest sources
        return None
    documents = {p.document_id for p in [*passages, *closest]}
    if allowed(documents) != documents:
        return None
    elapsed = ms_since(started)
    return Answer(
        question=question,
        text=entry["text"],
        refused=entry["refused"],
        passages=passages,
        cited=cited,
        retrieval=Retrieval({}, passages, NO_EVIDENCE),
        model=settings.KB_LLM_MODEL_NAME,
        template_version=template_version,
        latencies_ms={"cache": elapsed, "total": elapsed},
        check=check_of(entry),  # its text is already the checked one
        refusal=RefusalReason(entry.get("refusal", "")),
        closest=closest,
    )


def _log(
    user: AbstractBaseUser,
    question: str,
    collection_ids: Sequence[int],
    answer: Answer,
    *,
    cached: bool = False,
) -> QueryLog:
    retrieved = {path: _top(c) for path, c in answer.retrieval.per_path.items()}
    retrieved["passages"] = [(p.chunk_id, round(p.score, 5)) for p in answer.passages]
    retrieved["closest"] = [(p.chunk_id, round(p.score, 5)) for p in answer.closest]
    record = QueryRecord(
        collection_ids=list(collection_ids),
        retrieved=retrieved,
        latencies_ms=answer.latencies_ms,
        prompt_tokens=answer.usage.prompt_tokens,
        completion_tokens=answer.usage.completion_tokens,
        model=answer.model or settings.KB_LLM_MODEL_NAME,  # refused ones too: experiments
        template_version=answer.template_version,
        refused=answer.refused,
        refusal=str(answer.refusal),
        answer=answer.text,
        cached=cached,
        answer_check=str(answer.check.verdict),
    )
    metrics.question_answered(
        latencies_ms=answer.latencies_ms,
        refused=answer.refused,
        cached=cached,
        prompt_tokens=answer.usage.prompt_tokens,
        completion_tokens=answer.usage.completion_tokens,
    )
    return querylog_write(user=user, question=question, record=record)


def _top(candidates: Sequence[Candidate]) -> list[tuple[str, float]]:
    return [(c.chunk_id, round(c.score, 5)) for c in candidates[:LOGGED_PER_PATH]]


def _announce(messages: list[Message]) -> None:
    prompt_sent.send(sender=answer_stream, messages=messages)
