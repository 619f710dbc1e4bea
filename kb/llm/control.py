"""Untrusted text made plain text for a model: no string in it may become a control token.

Chat templates are rendered to one string and tokenised with special tokens parsed (that is
how the template's own `<|im_start|>` become control tokens), so a passage, question or title
holding `<|im_end|>\n<|im_start|>system` would close its turn and speak as the system. Every
occurrence of a special token's text is broken with an invisible joiner after its first
character: the model then reads the characters, never the token. Breaking only inserts, so
it cannot assemble a new token from the pieces around a removed one (stripping could:
`<|im_<|x|>end|>`).

Two sources of token strings: the loaded model's own vocabulary (in-process backend), and,
for a server whose vocabulary we cannot read, a generic set covering the common template
families. Both backends neutralise every message they send (kb/llm/chat.py), so no caller can
forget to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# Inserted after a token's first character. Invisible, and in no vocabulary's special token.
BREAK = "\u2060"  # WORD JOINER
# llama.cpp's tokenizer matches these attributes' texts inside the prompt (cache_special_tokens
# in llama-vocab.cpp): control tokens when special tokens are parsed, user-defined ones always.
_UNKNOWN, _CONTROL, _USER_DEFINED = 1 << 0, 1 << 3, 1 << 4
_MATCHED_ATTRIBUTES = _UNKNOWN | _CONTROL | _USER_DEFINED

# Special tokens of the common chat template families, for servers whose vocabulary is unknown:
# ChatML/Qwen/Phi/Llama 3/Granite/Command-R `<|...|>`; DeepSeek's full-width `<｜...｜>`; Llama 2
# and Mistral `[INST]`, `[/INST]`, `<<SYS>>`, `[TOOL_CALLS]`...; SentencePiece `<s>`, `</s>`,
# `<unk>`, `<pad>`; Gemma `<start_of_turn>`, `<end_of_turn>`, `<bos>`, `<eos>`; tool and reasoning
# tags (`<tool_call>`, `<think>`); GLM `[gMASK]`, `<sop>`.
GENERIC_PATTERNS = (
    r"<\|[^|<>\s]{1,48}\|>",
    r"<｜[^｜<>\s]{1,48}｜>",
    r"\[/?[A-Z][A-Z_]{1,30}\]",
    r"<</?SYS>>",
    r"</?(?:s|unk|pad|bos|eos|mask|sop|eop)>",
    r"<(?:start|end)_of_(?:turn|image|text)>",
    r"</?(?:tool_call|tool_response|tools|think|function|functions)>",
    r"\[gMASK\]|\[sMASK\]",
)


class PlainText:
    """Neutralises a fixed set of token strings (literal texts and regex patterns)."""

    def __init__(self, *, literals: Iterable[str] = (), patterns: Iterable[str] = ()) -> None:
        texts = sorted({t for t in literals if t.strip() and BREAK not in t}, key=len, reverse=True)
        parts = [re.escape(t) for t in texts] + list(patterns)
        self._pattern = re.compile("|".join(parts)) if parts else None

    def __call__(self, text: str) -> str:
        """Repeats until nothing matches: a pass leaves overlapping occurrences it skipped."""
        if self._pattern is None:
            return text
        while self._pattern.search(text):
            text = self._pattern.sub(_broken, text)
        return text


def _broken(match: re.Match[str]) -> str:
    token = match.group(0)
    return token[0] + BREAK + token[1:]


def generic_plain_text() -> PlainText:
    """For an OpenAI-compatible server: the common families' tokens."""
    return PlainText(patterns=GENERIC_PATTERNS)


def vocabulary_plain_text(model: Any) -> PlainText:
    """For a llama.cpp model (`Llama._model`): every token its tokenizer would match as a
    special token, read from the vocabulary, plus the generic set (it costs nothing and covers
    a template that inserts another family's markers)."""
    return PlainText(literals=special_token_texts(model), patterns=GENERIC_PATTERNS)


def special_token_texts(model: Any) -> set[str]:
    """Texts of the control, user-defined and unknown tokens of a llama.cpp vocabulary.
    Whitespace-only user-defined tokens (runs of spaces or newlines in some vocabularies) are
    ordinary text and stay."""
    texts = set()
    for token in range(model.n_vocab()):
        if not model.token_get_attr(token) & _MATCHED_ATTRIBUTES:
            continue
        try:
            text = model.token_get_text(token)
        except UnicodeDecodeError:
            continue
        if text.strip():
            texts.add(text)
    return texts
