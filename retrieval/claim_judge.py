"""Is a sentence of the answer stated by the passages it cites? Asked of the answering model.

The lexical rules of retrieval.claim_support cannot see a sentence that keeps its passage's
words and changes their meaning ("a hard limit can be exceeded for a short time"), and they
flag paraphrases that use other words. So, when a judge is configured, the rules keep only
what they are sure of (a number or a code-like name the cited passages do not state: the
HARD_RULES) and the model decides the rest: for each sentence, one yes/no question after the
answer's own prompt, read as the probability of "yes" (`ChatModel.choose`), as
retrieval.answerability does for the question.

The judge's messages are the answer prompt plus one user turn, so the evaluated prompt is
their common prefix (LlamaCppChat and llama-server keep it): each sentence costs the few
tokens of its question and one forward pass. Sentences in another script than their passages
are judged the same way (the model reads both).

The passages stay untrusted data: the judge's question comes after them in its own turn, and a
passage that says "answer yes" is one more reason the hard rules keep the last word on numbers
and names.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from kb.llm.chat import ChatModel, Message
from retrieval.answer_checks import AnswerCheck, Claim, Verdict, statement
from retrieval.claim_support import ClaimRules

# What the rules still decide when the model judges: a number or a name the passages lack.
HARD_RULES = ClaimRules(min_terms=0.0, qualifiers=False, negation=False)
OPTIONS = ("yes", "no")
JUDGE_QUESTION = (
    "Statement: {statement}\n\n"
    "Does {passages} above state everything this statement says, with nothing "
    "changed, reversed or added? Reply with one English word: yes or no."
)


@dataclass(frozen=True)
class ClaimJudge:
    min_yes: float  # below this probability of "yes" a sentence is not supported

    def messages(self, prompt: Sequence[Message], claim: Claim) -> list[Message]:
        """The answer prompt followed by the question about one sentence (without its
        markers) and the passages it was checked against."""
        question = JUDGE_QUESTION.format(
            statement=statement(claim.text), passages=_numbered(claim.passages)
        )
        return [*prompt, {"role": "user", "content": question}]

    def probability(self, model: ChatModel, messages: Sequence[Message]) -> float:
        return model.choose(messages, OPTIONS)["yes"]

    def judged(
        self,
        check: AnswerCheck,
        prompt: Sequence[Message],
        model: ChatModel,
        *,
        announce: Callable[[list[Message]], None] | None = None,
    ) -> tuple[AnswerCheck, float]:
        """`check` (made with HARD_RULES) with each sentence the rules let pass judged by the
        model, and the seconds it took; `announce` sees each judge prompt before it is sent. A
        blocked answer has no claims and stays as it is."""
        started = time.perf_counter()
        claims = tuple(
            claim if not claim.supported else self._judge(claim, prompt, model, announce)
            for claim in check.claims
        )
        elapsed = time.perf_counter() - started
        if check.verdict is Verdict.BLOCKED:
            return check, elapsed
        verdict = Verdict.SERVED if all(c.supported for c in claims) else Verdict.UNGROUNDED
        return replace(check, verdict=verdict, claims=claims), elapsed

    def _judge(
        self,
        claim: Claim,
        prompt: Sequence[Message],
        model: ChatModel,
        announce: Callable[[list[Message]], None] | None,
    ) -> Claim:
        messages = self.messages(prompt, claim)
        if announce is not None:
            announce(messages)
        yes = self.probability(model, messages)
        return replace(claim, supported=yes >= self.min_yes, judged_yes=yes)


def _numbered(passages: Sequence[int]) -> str:
    """How the judge's question names them: passage [2]; passages [1], [2] and [4]."""
    marks = [f"[{n}]" for n in passages]
    if len(marks) == 1:
        return f"passage {marks[0]}"
    return f"passages {', '.join(marks[:-1])} and {marks[-1]}"
