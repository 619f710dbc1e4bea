"""One more try at an answer that none of its sentences' passages support.

A small model often finds the right passage and then answers in words of its own, or with a
detail of the passage beside it; the claim check (retrieval.answer_checks) rightly finds no
sentence of such an answer supported. Before that answer becomes a refusal, the model is asked
once more, in the same conversation, for the sentences of the passages that answer the
question, copied word for word (the system prompt still lets it reply "I don't know", which it
mostly does). The second answer goes through every check the first did and is served only
when one of its sentences is supported; otherwise the question is refused as before.

The messages are the answer's, its first answer (as checked: markers naming no passage
dropped, sentences re-cited) and one more user turn, so the evaluated prompt is their prefix:
the model (LlamaCppChat keeps evaluated tokens) reads the first answer and the instruction
before it writes again, unless another question used it in between.
"""

from __future__ import annotations

from collections.abc import Sequence

from kb.llm.chat import Message

INSTRUCTION = (
    "The passages do not say that. Copy word for word the one or two sentences of the passages "
    "that answer the question, each followed by the number of its passage in square brackets."
)


def second_attempt_messages(prompt: Sequence[Message], first: str) -> list[Message]:
    """The answer prompt, the model's first answer and the instruction to answer again."""
    return [
        *prompt,
        {"role": "assistant", "content": first},
        {"role": "user", "content": INSTRUCTION},
    ]
