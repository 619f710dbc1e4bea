"""Questions not in Latin script are also searched in English, translated by the answering model.

Employees ask in Chinese or Russian about manuals that exist only in English. The sparse path
matches words, and the default embedding model reads English only (the multilingual one we
measured ranks a Chinese question's English answer barely above unrelated Chinese pages), so a
Chinese question finds Chinese pages or nothing. The Retriever (retrieval.retriever) searches
every path with the question and again with its English translation, and fuses both. The
translation only ever steers the search: the prompt keeps the question as asked, and the answer
is written in its language. It is the asker's own words in another language, searched in the
same scope, so it cannot reach more than the asker may read.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

from kb.llm.chat import ChatModel, LlmBusy, LlmUnavailable, Message
from kb.text.script import is_latin_script

logger = logging.getLogger(__name__)

# The small models answer a bare question instead of translating it; one example turn keeps
# them translating (tried on the 0.5B and 1.5B defaults with Chinese and Russian questions).
INSTRUCTION = (
    "You translate text into English. You never answer questions: you only translate them."
)
ASK = "Translate into English:\n"
EXAMPLE: list[Message] = [
    {"role": "user", "content": ASK + "会议室可以提前多久预订？"},
    {"role": "assistant", "content": "How far in advance can a meeting room be booked?"},
]
MAX_TOKENS = 96
MAX_CHARS = 400  # a translation is about as long as its question; more is the model rambling
# Translations kept per process: the same question asked again (or ranked by several fusion
# set-ups in the benchmark) costs the model once.
CACHE_SIZE = 512


class QuestionTranslator:
    """`english(question)`: the English translation of a question not in Latin script; "" for
    a Latin-script question, or when the model cannot be asked now."""

    def __init__(self, model: Callable[[], ChatModel]) -> None:
        self.model = model  # opened on the first question that needs it
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def english(self, question: str) -> str:
        if is_latin_script(question):
            return ""
        with self._lock:
            if question in self._cache:
                self._cache.move_to_end(question)
                return self._cache[question]
        english = self._translate(question)
        if english is None:
            return ""  # no translation now (model busy, or it did not translate): not remembered
        with self._lock:
            self._cache[question] = english
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return english

    def _translate(self, question: str) -> str | None:
        messages: list[Message] = [
            {"role": "system", "content": INSTRUCTION},
            *EXAMPLE,
            {"role": "user", "content": ASK + " ".join(question.split())},
        ]
        try:
            reply = self.model().chat(messages, max_tokens=MAX_TOKENS)
        except (LlmBusy, LlmUnavailable) as exc:  # search in the question's own words
            logger.warning("question not translated: %s", exc)
            return None
        lines = [line.strip() for line in reply.splitlines() if line.strip()]
        english = lines[0][:MAX_CHARS] if lines else ""
        return english if is_latin_script(english) else None  # asked again next time
