"""Do the passages hold the answer? Asked of the answering model itself, before it answers.

The evidence thresholds (retrieval.evidence) measure topical closeness, which a near miss has:
"Can cron send a Slack message?" finds the cron pages. So once they pass, the model is asked a
yes/no question about the very prompt it is about to answer, and its probability of "yes" is
compared with a threshold calibrated by `python -m bench answers` (README, "Quality").

The check's messages are the answer's messages plus one more user turn, so the evaluated
prompt is the answer prompt's prefix: the answer that follows re-uses it (LlamaCppChat keeps
the evaluated tokens) and the check costs the few tokens of its question and one forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kb.llm.chat import ChatModel, Message

# Of four wordings compared on 15 dev-set questions (7 answerable, 8 near misses), this one
# separated them best (AUC 0.92 on the default model; README, "Quality" has the full run).
CHECK_QUESTION = (
    "Is the specific information the question asks for written in one of the passages above? "
    "Reply with one English word: yes or no."
)
OPTIONS = ("yes", "no")


@dataclass(frozen=True)
class AnswerabilityCheck:
    min_yes: float  # below this probability of "yes" the question is refused

    def messages(self, prompt: Sequence[Message]) -> list[Message]:
        """The answer prompt followed by the check's question."""
        return [*prompt, {"role": "user", "content": CHECK_QUESTION}]

    def probability(self, model: ChatModel, messages: Sequence[Message]) -> float:
        """The model's probability of "yes" to the check's `messages`."""
        return model.choose(messages, OPTIONS)["yes"]

    def answerable(self, probability: float) -> bool:
        return probability >= self.min_yes
