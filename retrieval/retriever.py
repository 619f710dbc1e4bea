"""Query path steps 2-4 (DESIGN.md): search every path inside the caller's scope, fuse, check
each candidate's document against the database policy, and weigh the evidence.

Knows nothing of users or Django: the caller passes the store scope and `allowed`, the
database post-check, both computed from the access policy in kb.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Protocol

from kb.stores.payload import ChunkPayload
from kb.stores.protocols import VectorIndex
from kb.stores.types import AccessScope
from kb.text.script import LATIN_SCRIPT, is_latin_script
from kb.text.sparse import SparseEncoder, term_index, tokenize
from retrieval.evidence import Evidence, measure_evidence
from retrieval.fusion import rrf_fuse
from retrieval.near_duplicates import prefer_matching_differences
from retrieval.script_preference import (
    OTHER_SCRIPT_FACTOR,
    in_another_script,
    prefer_question_script,
)
from retrieval.timing import ms_since
from retrieval.translation import (
    LANGUAGES,
    SUFFIXES,
    QuestionTranslator,
    Sharing,
    Translating,
    is_translation_path,
    sharing,
    translation_targets,
)
from retrieval.types import Candidate, Fused, Passage

# Paths that run even with no fusion weight, because the refusal evidence reads them.
EVIDENCE_PATHS = frozenset({"dense"})
# A path's results for a translation of the question are fused as a path of their own, named
# with the translation's suffix ("sparse@en", retrieval.translation.SUFFIXES), with the path's
# weight for a question in that script, raised so that a translation votes as much as the
# question's own paths (_voting_as_much).
# Document ids in, the subset the caller may read out (kb.access.readable_document_ids).
AllowedDocuments = Callable[[set[int]], set[int]]
# A question in Latin script searched as asked only is taken to be about pages in another
# script when its own words did not find its topic (coverage below translate_below, the
# translation gate's signal) and most of the multilingual dense model's first
# OTHER_LANGUAGE_DENSE_TOP readable passages (a majority of a few: one can be a stray quote)
# are in another script. Then the dense path alone ranks it, with no script preferred: the
# words it shares with English pages that do not answer it outvoted the answer otherwise.
# Left alone, as measured: Chinese and Russian questions (searched as asked, the rule moved one
# Russian question's English page up and another's own Russian page down) and translated ones
# (no script preferred, it gained a zh->en question and cost ru-03 its own Russian page). By
# `python -m bench quality [--crosslingual] [--translate]` with
# KB_EMBED_MODEL=multilingual-use-v3 (bench/README.md, "Cross-lingual questions"); any
# multilingual model gets it (multilingual-e5-small too, not measured). Off without a gate
# (translate_below None) or a dense vote.
OTHER_LANGUAGE_DENSE_TOP = 3


class Searcher(Protocol):
    name: str

    def search(self, question: str, *, scope: AccessScope, limit: int) -> list[Candidate]: ...


@dataclass
class Retrieval:
    per_path: dict[str, list[Candidate]]
    passages: list[Passage]
    evidence: Evidence
    latencies_ms: dict[str, float] = field(default_factory=dict)
    # The evidence of each translation of the question that was searched too: a question is
    # refused only when no form has enough (RefusalPolicy.refuses_all).
    translated_evidence: tuple[Evidence, ...] = ()
    # False when the question should have been searched in a translation the model could not
    # write now: a weaker result, not to be cached.
    complete: bool = True
    # The question's translations that were searched too, as the model wrote them.
    translations: tuple[str, ...] = ()
    # Ranked as a question about pages in another script (OTHER_LANGUAGE_DENSE_TOP).
    other_language: bool = False


@dataclass(frozen=True)
class _Checked:
    passages: list[Passage]
    evidence: Evidence
    readable: set[str]  # chunk ids whose documents passed the post-check


class Retriever:
    def __init__(
        self,
        *,
        searchers: Sequence[Searcher],
        index: VectorIndex,
        weights: Mapping[str, float],
        path_limit: int,
        encoder: SparseEncoder | None = None,
        other_script_factor: float = OTHER_SCRIPT_FACTOR,
        dense_every_script: bool = False,
        translator: QuestionTranslator | None = None,
        translate_into: AbstractSet[str] = frozenset(SUFFIXES),
        translate_below: float | None = None,
    ) -> None:
        self.searchers = list(searchers)
        self.index = index
        self.weights = dict(weights)
        self.path_limit = path_limit
        self.encoder = encoder or SparseEncoder()
        self.other_script_factor = other_script_factor
        self.dense_every_script = dense_every_script  # the embedding model is multilingual
        self.translator = translator  # questions are searched in their readers' languages too
        self.translate_into = frozenset(translate_into)  # the scripts translations may be in
        # A question whose best passage as asked holds this share of its terms has found its
        # topic in its own words: the model is not asked to translate it (None: always).
        self.translate_below = translate_below

    def retrieve(
        self,
        question: str,
        *,
        scope: AccessScope,
        allowed: AllowedDocuments,
        top_k: int,
        document_scripts: AbstractSet[str] = frozenset(),
    ) -> Retrieval:
        """`document_scripts`: the scripts of the documents the caller may read in the scope
        (kb.selectors.documents.readable_scripts), the languages the question is also searched
        in when a translator is set."""
        steps = self.retrieving(
            question, scope=scope, allowed=allowed, top_k=top_k, document_scripts=document_scripts
        )
        while True:
            try:
                next(steps)
            except StopIteration as done:
                found: Retrieval = done.value
                return found

    def retrieving(
        self,
        question: str,
        *,
        scope: AccessScope,
        allowed: AllowedDocuments,
        top_k: int,
        document_scripts: AbstractSet[str] = frozenset(),
    ) -> Generator[Translating, None, Retrieval]:
        """`retrieve`, yielding Translating before the model translates the question: a
        caller that streams can say so (`retrieval = yield from retriever.retrieving(...)`)."""
        latencies: dict[str, float] = {}
        per_path = self._search(question, scope, latencies)
        wanted = self._targets(question, document_scripts)
        found = None
        if not wanted or self.translate_below is not None:  # the gate reads the evidence
            started = time.perf_counter()
            found = self._checked(question, per_path, scope, allowed, top_k)
            latencies["fuse_check"] = ms_since(started)
            if self.translate_below is not None and found.evidence.coverage >= self.translate_below:
                wanted = []  # found its topic in its own words
        shared_by = sharing(scope)
        if fresh := self._unremembered(question, wanted, shared_by):
            yield Translating(tuple(LANGUAGES[script] for script in fresh))
        translations, asked = self._translations(question, wanted, latencies, shared_by)
        for into, text in translations.items():
            per_path.update(self._search(text, scope, latencies, suffix=SUFFIXES[into]))
        started = time.perf_counter()
        other_language = False
        if found is None or translations:
            found = self._checked(question, per_path, scope, allowed, top_k)
        elif self._asks_other_language(question, per_path, found):
            other_language = True
            found = self._checked(question, per_path, scope, allowed, top_k, other_language=True)
        others = tuple(
            self._evidence(
                text, self._dense_evidence(into, per_path), found.readable, found.passages
            )
            for into, text in translations.items()
        )
        latencies["fuse_check"] = latencies.get("fuse_check", 0.0) + ms_since(started)
        return Retrieval(
            per_path,
            found.passages,
            found.evidence,
            latencies,
            translated_evidence=others,
            complete=asked,
            translations=tuple(translations.values()),
            other_language=other_language,
        )

    def mentioned(
        self, words: Sequence[str], *, document_ids: AbstractSet[int], scope: AccessScope
    ) -> set[str]:
        """The words that some chunk of these documents, readable in `scope`, holds, compared
        as the sparse index compares words (each of a word's terms): a document that names
        "Falcot" in its introduction mentions it, though the passages on backups do not."""
        terms = {word: tokenize(word) for word in words}
        wanted = sorted({term_index(term) for word_terms in terms.values() for term in word_terms})
        held = self.index.held_terms(terms=wanted, document_ids=sorted(document_ids), scope=scope)
        return {
            word
            for word, word_terms in terms.items()
            if word_terms and all(term_index(term) in held for term in word_terms)
        }

    def _checked(
        self,
        question: str,
        per_path: Mapping[str, Sequence[Candidate]],
        scope: AccessScope,
        allowed: AllowedDocuments,
        top_k: int,
        *,
        other_language: bool = False,
    ) -> _Checked:
        """Fused, post-checked in the database, the top passages read and the evidence
        weighed."""
        fused = self.rank(question, per_path, other_language=other_language)
        readable_ids = allowed({c.document_id for c in fused})
        readable = [c for c in fused if c.document_id in readable_ids]
        passages = self._passages(readable[:top_k], scope)
        readable_chunks = {c.chunk_id for c in readable}
        dense = per_path.get("dense", [])
        evidence = self._evidence(question, dense, readable_chunks, passages)
        return _Checked(passages, evidence, readable_chunks)

    def _search(
        self, question: str, scope: AccessScope, latencies: dict[str, float], suffix: str = ""
    ) -> dict[str, list[Candidate]]:
        weights = self._path_weights(latin=is_latin_script(question))
        per_path: dict[str, list[Candidate]] = {}
        for searcher in self.searchers:
            if weights.get(searcher.name, 1.0) <= 0 and searcher.name not in EVIDENCE_PATHS:
                continue  # switched off: not worth its time
            started = time.perf_counter()
            name = searcher.name + suffix
            per_path[name] = searcher.search(question, scope=scope, limit=self.path_limit)
            latencies[name] = ms_since(started)
        return per_path

    def _targets(self, question: str, document_scripts: AbstractSet[str]) -> list[str]:
        if self.translator is None:
            return []
        targets = translation_targets(question, document_scripts)
        return [script for script in targets if script in self.translate_into]

    def _unremembered(self, question: str, targets: Sequence[str], shared_by: Sharing) -> list[str]:
        """The target scripts the model will be asked to translate into now."""
        translator = self.translator
        if translator is None:
            return []
        return [t for t in targets if not translator.remembers(question, t, shared_by=shared_by)]

    def _translations(
        self,
        question: str,
        targets: Sequence[str],
        latencies: dict[str, float],
        shared_by: Sharing,
    ) -> tuple[dict[str, str], bool]:
        """The question in each target script the model wrote it in, and whether the model
        could be asked for every one (a busy model: a weaker result, not to be cached)."""
        if not targets or self.translator is None:
            return {}, True
        started = time.perf_counter()
        written = {
            into: self.translator.translate(question, into, shared_by=shared_by) for into in targets
        }
        latencies["translate"] = ms_since(started)
        translations = {into: text for into, text in written.items() if text}
        return translations, None not in written.values()

    def _evidence(
        self,
        question: str,
        dense_hits: Sequence[Candidate],
        readable_chunks: set[str],
        passages: Sequence[Passage],
    ) -> Evidence:
        return measure_evidence(
            question,
            dense_hits=dense_hits,
            readable_chunk_ids=readable_chunks,
            passages=passages,
            encoder=self.encoder,
        )

    def rank(
        self,
        question: str,
        per_path: Mapping[str, Sequence[Candidate]],
        *,
        other_language: bool = False,
    ) -> list[Fused]:
        """Weighted RRF over the paths, then the question's own script first, then among
        near-duplicates the one whose differing text matches. `other_language`
        (Retrieval.other_language): the dense path alone, no script preferred."""
        factor = self.other_script_factor
        if other_language:
            per_path, factor = {"dense": per_path.get("dense", [])}, 1.0
        fused = rrf_fuse(per_path, weights=self._fusion_weights(question))
        translated = any(is_translation_path(path) for path in per_path)
        ranked = prefer_question_script(
            question,
            fused,
            factor=factor,
            translated=translated,
            multilingual=self.dense_every_script,
        )
        return prefer_matching_differences(question, ranked)

    def _asks_other_language(
        self, question: str, per_path: Mapping[str, Sequence[Candidate]], as_asked: _Checked
    ) -> bool:
        """Whether a question searched as asked only is about pages in another script
        (OTHER_LANGUAGE_DENSE_TOP): only the passages its caller may read are looked at."""
        if (
            not self.dense_every_script
            or not is_latin_script(question)
            or self.translate_below is None
            or self.weights.get("dense", 1.0) <= 0
            or not as_asked.passages
            or as_asked.evidence.coverage >= self.translate_below
        ):
            return False
        dense = per_path.get("dense", [])
        texts = [c.payload.text for c in dense if c.chunk_id in as_asked.readable and c.payload]
        best = texts[:OTHER_LANGUAGE_DENSE_TOP]
        foreign = sum(1 for text in best if in_another_script(text, LATIN_SCRIPT))
        return bool(best) and foreign > len(best) / 2

    def _dense_evidence(
        self, into: str, per_path: Mapping[str, Sequence[Candidate]]
    ) -> Sequence[Candidate]:
        """A translation's dense hits, as refusal evidence only where the dense model reads the
        translation's script: the English-only model's cosine for a Chinese or Russian form is
        noise (0.45-0.65 whatever the question) that would let an English question that found
        nothing past the evidence check; that form is judged on its terms' coverage alone."""
        if self._dense_reads(latin=into == LATIN_SCRIPT):
            return per_path.get("dense" + SUFFIXES[into], [])
        return []

    def _dense_reads(self, *, latin: bool) -> bool:
        """Whether the dense model reads text in Latin script (`latin`) or in another."""
        return self.dense_every_script or latin

    def _path_weights(self, *, latin: bool) -> dict[str, float]:
        """An English-only dense model's hits for a question mostly in another script are
        noise that outvotes the sparse path, so they get no vote there (it still runs: its
        similarity is refusal evidence); a multilingual model's always vote. Measured by
        `python -m bench quality`."""
        if self._dense_reads(latin=latin):
            return dict(self.weights)
        return {**self.weights, "dense": 0.0}

    def _fusion_weights(self, question: str) -> dict[str, float]:
        """The question's paths, and each translation's paths weighted as for a question in
        the translation's script, raised to vote at least as much as the question's own."""
        own = self._path_weights(latin=is_latin_script(question))
        weights = dict(own)
        for script, suffix in SUFFIXES.items():
            written_in = _voting_as_much(
                self._path_weights(latin=script == LATIN_SCRIPT), sum(own.values())
            )
            weights.update({path + suffix: w for path, w in written_in.items()})
        return weights

    def _passages(self, fused: Sequence[Fused], scope: AccessScope) -> list[Passage]:
        """Graph hits carry no text: their payloads come from the vector index, by id and
        again inside the scope. A chunk that vanished meanwhile (re-indexed) is skipped."""
        missing = [c.chunk_id for c in fused if c.payload is None]
        hits = self.index.fetch(ids=missing, scope=scope)
        fetched = {h.id: ChunkPayload.from_dict(h.payload) for h in hits}
        passages: list[Passage] = []
        for candidate in fused:
            payload = candidate.payload or fetched.get(candidate.chunk_id)
            if payload is None:
                continue
            passages.append(_passage(len(passages) + 1, candidate, payload))
        return passages


def _voting_as_much(weights: Mapping[str, float], total: float) -> dict[str, float]:
    """`weights` with the sparse path carrying what they lack of `total` (nothing is
    raised when sparse is off: its path is not searched then). An English question's
    translation into Chinese or Russian has no dense vote (the English-only model cannot read
    it), so its one sparse vote could not outweigh the question's own dense and sparse
    agreeing on English passages that merely share its words; where the question has found
    little in its own words, the translation is what finds the page written only in the
    other language. The question's own edition still comes first where both of its paths
    rank it first (their two votes against the translation's raised one, scaled by 0.7 in
    retrieval.script_preference). Measured by `python -m bench quality --translate`
    (bench/README.md)."""
    raised = dict(weights)
    missing = total - sum(raised.values())
    if missing > 0 and raised.get("sparse", 0.0) > 0:
        raised["sparse"] += missing
    return raised


def _passage(n: int, candidate: Fused, payload: ChunkPayload) -> Passage:
    return Passage(
        n=n,
        chunk_id=candidate.chunk_id,
        document_id=candidate.document_id,
        title=payload.title,
        page=payload.page,
        section=payload.section,
        text=payload.text,
        score=candidate.score,
        paths=tuple(sorted(candidate.ranks)),
        page_label=payload.page_label,
    )
