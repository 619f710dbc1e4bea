"""Re-encrypt every conversation title and turn under the current KB_CONVERSATION_KEY, in
batches; texts already under it are left alone, so it can run again at any time. Prints counts.
README, "Operations": the rotation, step by step."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from kb.services.conversation_keys import BATCH_SIZE, KeyRotation, conversation_key_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt chat history (conversation titles and turns) under the current "
        "KB_CONVERSATION_KEY. Set the new key as KB_CONVERSATION_KEY and the old one in "
        "KB_CONVERSATION_KEY_PREVIOUS, restart Quarry, then run this; afterwards the old key "
        "can be removed. Running it again re-encrypts nothing more."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_SIZE,
            help=f"Rows per transaction (default {BATCH_SIZE})",
        )
        parser.add_argument(
            "--delete-unreadable",
            action="store_true",
            help=(
                "Delete the conversations holding a text that no configured key reads (their "
                "key is lost for good), so that their owners get a working chat back"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        rotation = conversation_key_rotate(
            batch_size=options["batch_size"], delete_unreadable=options["delete_unreadable"]
        )
        for line in _report(rotation):
            self.stdout.write(line)
        if rotation.deleted_conversations:
            self.stdout.write(
                f"Deleted {rotation.deleted_conversations} conversations that no configured key "
                "reads."
            )
        elif rotation.unreadable:
            raise CommandError(
                f"{rotation.unreadable} texts in {len(rotation.unreadable_conversations)} "
                "conversations are under no configured key (or were altered) and stay as they "
                "were: add the key they were written with to KB_CONVERSATION_KEY_PREVIOUS and run "
                "this again, or, if that key is lost for good, run it with --delete-unreadable."
            )
        self.stdout.write(self.style.SUCCESS("Every conversation text is under the current key."))


def _report(rotation: KeyRotation) -> list[str]:
    previous = ", ".join(rotation.previous_key_ids) or "none"
    lines = [f"Current conversation key: {rotation.current_key_id} (previous: {previous})"]
    for column in rotation.columns:
        line = (
            f"{column.name}: {column.reencrypted} re-encrypted, "
            f"{column.current} already under the current key"
        )
        if column.unreadable:
            line += f", {column.unreadable} unreadable"
        lines.append(line)
    return lines
