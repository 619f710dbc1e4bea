"""Create or update a user and its groups; optionally print a new API token."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from kb.services.api_tokens import api_token_create
from kb.services.users import ExternalAccount, user_upsert


class Command(BaseCommand):
    help = (
        "Create or update USERNAME. --groups replaces its groups (created on demand); "
        "--token prints a new API token on stdout and nothing else."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--groups", help="Comma-separated group names, e.g. hr,legal")
        parser.add_argument("--staff", action="store_true", help="Make the user an admin")
        parser.add_argument("--password", help="Set this password (web sign-in)")
        parser.add_argument("--token", action="store_true", help="Print a new API token")
        parser.add_argument(
            "--external",
            action="store_true",
            help="With --staff: USERNAME is an account from single sign-on or the directory, "
            "and you have checked it is the person you mean (its source and subject are in "
            "the admin, Identities)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"].strip()
        if not username:
            raise CommandError("USERNAME must not be empty.")
        groups = None
        if options["groups"] is not None:
            groups = [name.strip() for name in options["groups"].split(",") if name.strip()]
        try:
            user = user_upsert(
                username=username,
                groups=groups,
                staff=True if options["staff"] else None,
                password=options["password"],
                external_ok=options["external"],
            )
        except ExternalAccount as exc:
            raise CommandError(str(exc)) from None
        if options["token"]:
            _row, token = api_token_create(user=user, name="kb_user")
            self.stdout.write(token)
        else:
            names = ", ".join(sorted(user.groups.values_list("name", flat=True))) or "no groups"
            self.stderr.write(f"User {user.username} saved ({names}).")
