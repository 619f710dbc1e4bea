"""One more try at an answer that none of its sentences' passages support.

A small model often finds the right passage and then answers in words of its own, or with a
detail of the passage beside it; the claim check (retrieval.answer_checks) rightly finds no
sentence of such an answer supported. Before that answer becomes a refusal, the model is asked
once more, in the same conversation, to answer with what the passages state in their own words,
or to say it does not know. The second answer goes through every check the first did; when it
is no better, the question is refused as before.

The messages are the answer's, its first answer and one more user turn, so the evaluated
prompt and first answer are their prefix: the model (LlamaCppChat keeps evaluated tokens) reads
only the instruction before it writes again.
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
