"""Answers to identical questions over the same readable scope, served without the model.

The key holds everything an answer depends on: the normalised question, the caller's ACL
entries and collections (two users share an entry only when they may read exactly the same
documents), each of those collections' content version (bumped by every upload, deletion and
access change, so those invalidate what they touch), top_k, the prompt template and the model.
Entries live in Django's cache: this process's memory by default, Redis with KB_CACHE_URL.
A hit is still post-checked against the database before it is served: every document its
passages and, for a refusal, its closest sources come from must still be readable.
"""

from __future__ import annotations

import hashlib
import json
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.core.cache import cache

from kb.models import Collection
from kb.stores.types import AccessScope
from retrieval.answer_checks import CHECKS_VERSION, AnswerCheck, Claim, Verdict
from retrieval.answerer import Answer
from retrieval.types import Passage

PREFIX = "kb:answer:"


def answer_key(
    *, question: str, scope: AccessScope, top_k: int, template_version: str, model: str
) -> str:
    versions = dict(
        Collection.objects.filter(pk__in=scope.collection_ids).values_list("pk", "content_version")
    )
    material = {
        "q": " ".join(unicodedata.normalize("NFKC", question).casefold().split()),
        "acl": sorted(scope.acl),
        "collections": sorted((c, versions.get(c, 0)) for c in scope.collection_ids),
        "top_k": top_k,
        "template": template_version,
        "model": model,
        # Passages reach the prompt trimmed to it: another budget is another answer.
        "prompt_budget": settings.KB_PROMPT_TOKEN_BUDGET,
        # The claim judge decides which sentences are supported, and so whether it is refused.
        "claim_judge": settings.KB_CLAIM_JUDGE and settings.KB_CLAIM_JUDGE_MIN_YES,
        "checks": CHECKS_VERSION,
        # The second attempt decides whether an unsupported answer is refused.
        "second_attempt": settings.KB_SECOND_ATTEMPT,
        # Translations add the passages the question finds in the other languages.
        "translate": [
            settings.KB_TRANSLATE_QUESTIONS,
            sorted(settings.KB_TRANSLATE_INTO),
            settings.KB_TRANSLATE_BELOW_COVERAGE,
        ],
    }
    digest = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()
    return PREFIX + digest


def cached_answer(key: str) -> dict[str, Any] | None:
    if settings.KB_ANSWER_CACHE_SECONDS <= 0:
        return None
    entry: dict[str, Any] | None = cache.get(key)
    return entry


def remember_answer(key: str, answer: Answer) -> None:
    if settings.KB_ANSWER_CACHE_SECONDS <= 0:
        return
    entry = {
        "text": answer.text,
        "refused": answer.refused,
        "passages": [asdict(p) for p in answer.passages],
        "cited": [p.n for p in answer.cited],
        "check": str(answer.check.verdict),
        "claims": [asdict(c) for c in answer.check.claims],
        "refusal": str(answer.refusal),
        "closest": [asdict(p) for p in answer.closest],
    }
    cache.set(key, entry, timeout=settings.KB_ANSWER_CACHE_SECONDS)


def passages_of(entry: dict[str, Any]) -> tuple[list[Passage], list[Passage]]:
    passages = _passages(entry["passages"])
    by_number = {p.n: p for p in passages}
    return passages, [by_number[n] for n in entry["cited"] if n in by_number]


def check_of(entry: dict[str, Any]) -> AnswerCheck:
    """The checks the cached text already passed; entries written before claims were kept
    have none."""
    claims = tuple(
        Claim(c["text"], c["supported"], tuple(c["passages"])) for c in entry.get("claims", [])
    )
    return AnswerCheck(Verdict(entry.get("check", "")), claims=claims)


def closest_of(entry: dict[str, Any]) -> list[Passage] | None:
    """A refusal's closest sources; None for an entry written before refusals named them."""
    if "closest" not in entry:
        return None
    return _passages(entry["closest"])


def _passages(rows: list[dict[str, Any]]) -> list[Passage]:
    return [Passage(**{**p, "paths": tuple(p["paths"])}) for p in rows]


class SingleFlight:
    """Identical questions asked at the same moment are answered once: later askers wait for
    the first one's answer to reach the cache instead of queueing for the model themselves.
    Per process (the web process that holds the model)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, key: str, *, timeout: float) -> Iterator[bool]:
        """Yields whether this caller is first (False: it waited for someone else)."""
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        first = lock.acquire(blocking=False)
        acquired = first or lock.acquire(timeout=timeout)
        try:
            yield first
        finally:
            if acquired:
                lock.release()
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)

    def others_waiting(self, key: str) -> bool:
        """Someone besides its first asker wants the answer to `key`."""
        with self._guard:
            return self._locks.get(key, (None, 0))[1] > 1


in_flight = SingleFlight()
