"""The retriever and answerer configured from settings, over the process's open stores."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from kb.llm.chat import Message
from kb.llm.factory import chat_model, translation_model
from kb.stores.factory import graph_store, vector_index
from kb.text.embeddings import load_embedder
from kb.text.sparse import SparseEncoder
from retrieval.answerability import AnswerabilityCheck
from retrieval.answerer import Answerer
from retrieval.claim_judge import ClaimJudge
from retrieval.claim_support import ClaimEmbedder
from retrieval.evidence import RefusalPolicy
from retrieval.prompting import load_template
from retrieval.retriever import Retriever
from retrieval.searchers import DenseSearcher, GraphSearcher, SparseSearcher
from retrieval.translation import QuestionTranslator


def default_retriever(*, translate: bool = False) -> Retriever:
    """`translate`: questions are searched translated into the scripts of their readers'
    documents too (the model writes them: seconds on a CPU; answers and searches have them
    unless switched off)."""
    index = vector_index()
    encoder = SparseEncoder()
    embedder = load_embedder(settings.KB_EMBED_MODEL, models_dir=Path(settings.KB_MODELS_DIR))
    return Retriever(
        searchers=[
            DenseSearcher(index, embedder),
            SparseSearcher(index, encoder),
            GraphSearcher(graph_store(), hops=settings.KB_GRAPH_HOPS),
        ],
        index=index,
        weights=settings.KB_FUSION_WEIGHTS,
        path_limit=settings.KB_RETRIEVAL_PATH_LIMIT,
        encoder=encoder,
        dense_every_script=embedder.multilingual,
        translator=question_translator() if translate else None,
        translate_into=frozenset(settings.KB_TRANSLATE_INTO),
        translate_below=settings.KB_TRANSLATE_BELOW_COVERAGE,
    )


@functools.cache
def question_translator() -> QuestionTranslator:
    """One per process, so a question asked again is translated once."""
    return QuestionTranslator(translation_model, wait_seconds=settings.KB_TRANSLATE_WAIT_SECONDS)


def default_answerer(
    *,
    template_version: str | None = None,
    on_prompt: Callable[[list[Message]], None] | None = None,
) -> Answerer:
    return Answerer(
        retriever=default_retriever(translate=settings.KB_TRANSLATE_QUESTIONS),
        model=chat_model,
        template=load_template(template_version or settings.KB_PROMPT_TEMPLATE),
        refusal=refusal_policy(),
        max_tokens=settings.KB_ANSWER_MAX_TOKENS,
        prompt_budget=settings.KB_PROMPT_TOKEN_BUDGET,
        on_prompt=on_prompt,
        checks=settings.KB_INJECTION_DEFENCES,
        answerability=(
            AnswerabilityCheck(min_yes=settings.KB_ANSWERABILITY_MIN_YES)
            if settings.KB_ANSWERABILITY_CHECK
            else None
        ),
        claim_embedder=claim_embedder(),
        claim_judge=(
            ClaimJudge(min_yes=settings.KB_CLAIM_JUDGE_MIN_YES) if settings.KB_CLAIM_JUDGE else None
        ),
        refuse_uncovered=settings.KB_REFUSE_UNCOVERED_NAMES,
        second_attempt=settings.KB_SECOND_ATTEMPT,
    )


def refusal_policy() -> RefusalPolicy:
    """The evidence thresholds in settings (KB_REFUSAL_*)."""
    return RefusalPolicy(
        min_dense=settings.KB_REFUSAL_MIN_DENSE,
        min_coverage=settings.KB_REFUSAL_MIN_COVERAGE,
        other_min_dense=settings.KB_REFUSAL_OTHER_MIN_DENSE,
        other_min_coverage=settings.KB_REFUSAL_OTHER_MIN_COVERAGE,
    )


def claim_embedder() -> ClaimEmbedder | None:
    """The embedder lent to the claim check, if one is configured: a multilingual one lets it
    judge sentences written in another script than their passages (retrieval.claim_support)."""
    if not settings.KB_CLAIM_EMBED_MODEL:
        return None
    return ClaimEmbedder(
        load_embedder(settings.KB_CLAIM_EMBED_MODEL, models_dir=Path(settings.KB_MODELS_DIR)),
        cross_language=settings.KB_CLAIM_EMBED_CROSS_LANGUAGE,
    )
