"""Write rated answers as JSON lines for fine-tuning: {prompt, completion, rating, ...}."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from kb.feedback_export import ExportStats, feedback_examples
from kb.stores.errors import StoreError


class Command(BaseCommand):
    help = (
        "Export answers that received feedback as redacted JSON lines "
        "({prompt, completion, rating, comment, ...}) on stdout, for fine-tuning."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--jsonl",
            action="store_true",
            required=True,
            help="One JSON object per line (the only format)",
        )
        parser.add_argument("--rating", choices=["up", "down"], help="Only this rating")

    def handle(self, *args: Any, **options: Any) -> None:
        stats = ExportStats()
        try:
            for example in feedback_examples(stats):
                if options["rating"] and example["rating"] != options["rating"]:
                    continue
                self.stdout.write(json.dumps(example, ensure_ascii=False))
        except StoreError as exc:
            raise CommandError(
                f"{exc}\nThe export reads passages from the vector index: with the embedded "
                "stores, stop `make run` first (or run it where QDRANT_URL is set)."
            ) from exc
        self.stderr.write(
            f"{stats.exported} exported; skipped {stats.skipped_refused} refused without the "
            f"model and {stats.skipped_missing} whose passages are no longer indexed."
        )
