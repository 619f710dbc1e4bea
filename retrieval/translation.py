"""Questions are also searched in the other languages of the documents their asker may read,
translated by the answering model or by a small one of its own (KB_TRANSLATE_MODEL_NAME).

Employees ask in Chinese or Russian about manuals that exist only in English, and in English
about a policy written in Chinese. The sparse path matches words, and the default embedding
model reads English only (the multilingual one we measured ranks a Chinese question's English
answer barely above unrelated Chinese pages), so a question finds pages in its own language or
nothing. The Retriever (retrieval.retriever) searches every path with the question and again
with each translation, and fuses them all, each translation voting at least as much as the
question's own words (an English question's Chinese form has no dense vote: its sparse path
carries that weight). A translation only ever steers the search: the prompt keeps the
question as asked, and the answer is written in its language. It is the asker's own words in
another language, searched in the same scope, so it cannot reach more than the asker may
read.

Languages are named by their script (kb.text.script): Han is read as Chinese and Cyrillic as
Russian, the languages our users write them in.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from kb.llm.cancel import waiting_at_most
from kb.llm.chat import ChatModel, LlmBusy, LlmUnavailable, Message
from kb.stores.types import AccessScope
from kb.text.questions import is_question, is_statement
from kb.text.script import (
    CYRILLIC_SCRIPT,
    HAN_SCRIPT,
    LATIN_SCRIPT,
    script_of,
)

logger = logging.getLogger(__name__)

# Translation targets by script: the language the model is asked for, and the suffix a path's
# results for that translation are fused under ("sparse@zh").
LANGUAGES = {LATIN_SCRIPT: "English", HAN_SCRIPT: "Chinese", CYRILLIC_SCRIPT: "Russian"}
SUFFIXES = {LATIN_SCRIPT: "@en", HAN_SCRIPT: "@zh", CYRILLIC_SCRIPT: "@ru"}

# The small models answer a bare question instead of translating it; one example turn keeps
# them translating (tried on the 0.5B and 1.5B defaults with Chinese and Russian questions).
# The example is in another language than the target, so it shows a translation.
EXAMPLES = {
    LATIN_SCRIPT: ("会议室可以提前多久预订？", "How far in advance can a meeting room be booked?"),
    HAN_SCRIPT: ("How far in advance can a meeting room be booked?", "会议室可以提前多久预订？"),
    CYRILLIC_SCRIPT: (
        "How far in advance can a meeting room be booked?",
        "За какое время можно забронировать переговорную?",
    ),
}
MAX_TOKENS = 96
MAX_CHARS = 400  # a translation is about as long as its question; more is the model rambling
# Translations kept per process: the same question asked again (or ranked by several fusion
# set-ups in the benchmark) costs the model once.
CACHE_SIZE = 512
# Who shares a remembered translation (`translate(..., shared_by=)`): callers with the same
# access scope, as they share cached answers (kb.answer_cache). A translation found remembered
# answers seconds sooner, which would tell anyone that someone asked those exact words.
Sharing = tuple[tuple[int, ...], tuple[str, ...]]  # sorted collection ids, sorted ACL entries
# Seconds a translation waits for a model that is busy: about two other translations, not an
# answer (tens of seconds on a CPU). A question would otherwise wait in line twice, for its
# translation and again for its answer; past this it is searched as asked (and not cached).
DEFAULT_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class Translating:
    """Yielded by Retriever.retrieving just before the model translates the question into
    `languages` (seconds on a CPU, before any source shows; those remembered are not named),
    so the asker can be told. For a follow-up, the question is the one rewritten to stand
    alone (retrieval.answerer), whose language the model chose."""

    languages: tuple[str, ...]


def sharing(scope: AccessScope) -> Sharing:
    """Who may be served a translation this scope's caller had made: the same scope, as for
    cached answers."""
    return (tuple(sorted(scope.collection_ids)), tuple(sorted(scope.acl)))


def translation_targets(question: str, document_scripts: AbstractSet[str]) -> list[str]:
    """The scripts a question is translated into: those of the documents its asker may read
    (`document_scripts`, kb.selectors.documents.readable_scripts) other than its own. A
    question not in Latin script goes into English for documents whose script was not
    recorded ("", indexed before it was)."""
    asked = script_of(question)
    wanted = set(document_scripts)
    if "" in wanted and asked != LATIN_SCRIPT:
        wanted.add(LATIN_SCRIPT)
    return [script for script in LANGUAGES if script in wanted and script != asked]


def is_translation_path(path: str) -> bool:
    """Whether a search path (a Retrieval.per_path key) searched a translation: "dense@en"."""
    return path.endswith(tuple(SUFFIXES.values()))


class QuestionTranslator:
    """`translate(question, into, shared_by=)`: the question in the language of script `into`;
    "" when the model wrote no translation into it (remembered: at temperature 0 it would write
    the same), None when it cannot be asked now (not remembered). A translation is remembered
    for callers of the same `shared_by` only (Sharing)."""

    def __init__(
        self, model: Callable[[], ChatModel], *, wait_seconds: float = DEFAULT_WAIT_SECONDS
    ) -> None:
        self.model = model  # opened on the first question that needs it
        self.wait_seconds = wait_seconds
        self._cache: OrderedDict[tuple[Sharing, str, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def remembers(self, question: str, into: str, *, shared_by: Sharing) -> bool:
        """Whether `translate` would answer from memory, without the model."""
        with self._lock:
            return (shared_by, question, into) in self._cache

    def translate(self, question: str, into: str, *, shared_by: Sharing) -> str | None:
        key = (shared_by, question, into)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        translated = self._translate(question, into)
        if translated is None:
            return None  # the model is busy or down: asked again next time
        with self._lock:
            self._cache[key] = translated
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return translated

    def _translate(self, question: str, into: str) -> str | None:
        language = LANGUAGES[into]
        ask = f"Translate into {language}:\n"
        example, translation = EXAMPLES[into]
        messages: list[Message] = [
            {
                "role": "system",
                "content": f"You translate text into {language}. You never answer questions: "
                "you only translate them.",
            },
            {"role": "user", "content": ask + example},
            {"role": "assistant", "content": translation},
            {"role": "user", "content": ask + " ".join(question.split())},
        ]
        try:
            with waiting_at_most(self.wait_seconds):
                reply = self.model().chat(messages, max_tokens=MAX_TOKENS)
        except (LlmBusy, LlmUnavailable) as exc:  # search in the question's own words
            logger.warning("question not translated: %s", exc)
            return None
        lines = [line.strip() for line in reply.splitlines() if line.strip()]
        translated = lines[0][:MAX_CHARS] if lines else ""
        if not translated or script_of(translated) != into:
            return ""
        return "" if is_question(question) and is_statement(translated) else translated
