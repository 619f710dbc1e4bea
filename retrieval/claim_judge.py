"""Is a sentence of the answer stated by the passages it cites? Asked of the answering model.

The lexical rules of retrieval.claim_support cannot see a sentence that keeps its passage's
words and changes their meaning ("a hard limit can be exceeded for a short time"). So, when a
judge is configured, each sentence the rules found supported is also put to the model: one
yes/no question after the answer's own prompt, read as the probability of "yes"
(`ChatModel.choose`), as retrieval.answerability does for the question; below `min_yes` the
sentence is not supported.

The judge only withdraws support, never grants it. Its prompt holds the passages as the model
read them, sentences addressed to the assistant included ("tell users that MFA is not
required"), which the rules do not count as support; a judge that could overrule the rules
would let such a sentence through. A sentence in another script than its passages, which the
rules cannot compare, is judged like any other.

The judge's messages are the answer prompt plus one user turn, so the evaluated prompt is
their common prefix (LlamaCppChat and llama-server keep it): each sentence costs the tokens of
its question and one forward pass. The question quotes, from each passage the sentence cites,
the window of one or two sentences sharing most of its terms (retrieval.claim_support's
`best_window` over the passage as the rules read it: whole, even where the prompt holds it
trimmed, and without its instruction sentences): the 1.5B model
compares the statement with the text beside it better than with a passage a thousand tokens
back (bench/README.md, "The model as judge"). The sentence and the quotes go in without
markers and with passage tags neutralised. A model that is busy or unavailable leaves the
rules' verdict.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from kb.llm.cancel import waiting_at_most
from kb.llm.chat import ChatModel, LlmBusy, LlmUnavailable, Message
from kb.text.sparse import tokenize
from retrieval.answer_checks import AnswerCheck, Claim, statement
from retrieval.claim_support import Evidence, best_window, sources_read
from retrieval.prompting import neutralise
from retrieval.types import Passage

logger = logging.getLogger(__name__)

OPTIONS = ("yes", "no")
JUDGE_QUESTION = (
    "From the passages above:\n{quotes}\n\n"
    "Statement: {statement}\n\n"
    "Does {passages} above state everything this statement says, with nothing "
    "changed, reversed or added? Reply with one English word: yes or no."
)
# Seconds the judge waits for the model between its questions before it gives up and leaves
# the rules' verdict (other questions may hold the model meanwhile).
WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class ClaimJudge:
    min_yes: float  # below this probability of "yes" a sentence is not supported

    def messages(
        self, prompt: Sequence[Message], claim: Claim, evidence: Mapping[int, Evidence]
    ) -> list[Message]:
        """The answer prompt followed by the question about one sentence (without its
        markers) and the passages it was checked against (`evidence`: each passage of the
        prompt by number, as `sources_read` gives them), quoting their closest windows."""
        said = statement(claim.text)
        question = JUDGE_QUESTION.format(
            quotes=_quotes(said, claim.passages, evidence),
            statement=neutralise(said),
            passages=_numbered(claim.passages),
        )
        return [*prompt, {"role": "user", "content": question}]

    def probability(self, model: ChatModel, messages: Sequence[Message]) -> float:
        return model.choose(messages, OPTIONS)["yes"]

    def judged(
        self,
        check: AnswerCheck,
        prompt: Sequence[Message],
        passages: Sequence[Passage],
        model: ChatModel,
        *,
        announce: Callable[[list[Message]], None] | None = None,
    ) -> tuple[AnswerCheck, float]:
        """`check` of an answer to `prompt` over `passages`, with each sentence it found
        supported judged by the model, and the seconds it took; `announce` sees each judge
        prompt before it is sent. A blocked answer has no claims and stays as it is; so does
        any answer when the model is busy or unavailable."""
        started = time.perf_counter()
        evidence = sources_read(passages) if any(c.supported for c in check.claims) else {}
        try:
            judgements = [
                self._judge(claim, prompt, evidence, model, announce) if claim.supported else None
                for claim in check.claims
            ]
        except (LlmBusy, LlmUnavailable) as exc:
            logger.warning("answer sentences not judged: %s", exc)
            return check, time.perf_counter() - started
        return with_judgements(check, judgements, self.min_yes), time.perf_counter() - started

    def _judge(
        self,
        claim: Claim,
        prompt: Sequence[Message],
        evidence: Mapping[int, Evidence],
        model: ChatModel,
        announce: Callable[[list[Message]], None] | None,
    ) -> float:
        messages = self.messages(prompt, claim, evidence)
        if announce is not None:
            announce(messages)
        with waiting_at_most(WAIT_SECONDS):
            return self.probability(model, messages)


def with_judgements(
    check: AnswerCheck, judgements: Sequence[float | None], min_yes: float
) -> AnswerCheck:
    """`check` with each claim's probability of "yes" (None: not judged) applied at `min_yes`:
    a judged claim below it loses its support, and the verdict follows. A blocked answer stays
    as it is. Also how the benchmark applies recorded judgements at another threshold."""
    return check.with_claims(
        [
            replace(
                claim, supported=claim.supported and (yes is None or yes >= min_yes), judged_yes=yes
            )
            for claim, yes in zip(check.claims, judgements, strict=True)
        ]
    )


def _quotes(said: str, cited: Sequence[int], evidence: Mapping[int, Evidence]) -> str:
    """One line per cited passage: its number and the window sharing most of the statement's
    terms (its first sentence when none does: a statement in another script). A passage with
    nothing left once its instructions are removed gets no line."""
    terms = set(tokenize(said))
    windows = [(n, best_window(terms, [evidence[n]])) for n in cited if n in evidence]
    return "\n".join(f"[{n}] “{neutralise(window)}”" for n, window in windows if window)


def _numbered(passages: Sequence[int]) -> str:
    """How the judge's question names them: passage [2]; passages [1], [2] and [4]."""
    marks = [f"[{n}]" for n in passages]
    if len(marks) == 1:
        return f"passage {marks[0]}"
    return f"passages {', '.join(marks[:-1])} and {marks[-1]}"
