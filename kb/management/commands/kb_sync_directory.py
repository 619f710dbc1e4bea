"""Re-read the groups of every account that came from the LDAP directory, replace them, and
deactivate the accounts gone from it. Prints what changed. Also run hourly by the periodic task
`kb.directory_sync`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from kb.directory import DirectoryUnavailable, directory_enabled
from kb.services.directory import DirectorySync, directory_sync


class Command(BaseCommand):
    help = (
        "Re-read every directory account's groups from LDAP (by its DN, with the search bind) "
        "and replace them; deactivate accounts whose entry is gone. Prints what changed. "
        "If the directory cannot be asked, nothing changes and the command fails."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if not directory_enabled():
            raise CommandError("LDAP is off: set KB_LDAP_SERVER_URI (README, LDAP).")
        try:
            report = directory_sync()
        except DirectoryUnavailable as error:
            raise CommandError(f"Directory unavailable, nothing changed: {error}") from error
        for line in _report(report):
            self.stdout.write(line)


def _report(report: DirectorySync) -> list[str]:
    accounts = "account" if report.checked == 1 else "accounts"
    lines = [
        f"Checked {report.checked} directory {accounts}: {len(report.changed)} with new groups, "
        f"{len(report.deactivated)} deactivated."
    ]
    for change in report.changed:
        before = ", ".join(sorted(change.before)) or "no groups"
        after = ", ".join(sorted(change.after)) or "no groups"
        lines.append(f"  {change.username}: {before} -> {after}")
    lines.extend(f"  {name}: deactivated (gone from the directory)" for name in report.deactivated)
    return lines
