"""Erase a person: account, API tokens, conversations, feedback comments, sign-in records, and
with --query-logs their pseudonymous query log rows. Prints what it removed."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from kb.services.users import Forgotten, user_forget


class Command(BaseCommand):
    help = (
        "Erase USERNAME: the account, its API tokens, conversations, the comments on its "
        "feedback and its sign-in records. --query-logs also deletes its rows of the anonymised "
        "query log (found by recomputing its pseudonym). Prints what was removed."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--query-logs",
            action="store_true",
            help="Also delete the user's query log rows (and the ratings on them)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"].strip()
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        forgotten = user_forget(user=user, query_logs=options["query_logs"])
        self.stdout.write(f"Erased {username}:")
        for line in _report(forgotten):
            self.stdout.write(f"  {line}")


def _report(forgotten: Forgotten) -> list[str]:
    lines = [
        f"account: {forgotten.account}",
        f"API tokens: {forgotten.api_tokens}",
        f"conversations: {forgotten.conversations} ({forgotten.turns} questions and answers)",
        f"feedback comments: {forgotten.feedback_comments}",
        f"sign-in records: {forgotten.signin_records}",
    ]
    if forgotten.query_logs_kept:
        lines.append(
            f"query log rows: 0 ({forgotten.query_logs_kept} kept; "
            "with --query-logs they would have gone too)"
        )
    else:
        lines.append(f"query log rows: {forgotten.query_logs}")
    return lines
