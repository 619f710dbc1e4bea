"""A real OpenID Connect provider on loopback for the single sign-on tests: the `oidc-provider`
npm package run by Node (tests/support/oidc/provider.mjs, installed by `make
test-oidc-provider`). Its people and their groups sit in a JSON file that the provider reads
again at every sign-in, so a test changes them between two sign-ins; and `sign_in()` walks the
whole redirect flow with an HTTP client, filling the provider's form as a person would."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from tests.support.paths import ROOT
from tests.support.ports import free_port

PROVIDER_DIR = ROOT / "tests" / "support" / "oidc"
CLIENT_ID = "quarry-tests"
CLIENT_SECRET = "quarry-tests-client-secret"
PASSWORD = "provider-password"  # everyone's at the provider unless a test sets another


@dataclass
class OidcProvider:
    issuer: str
    users_file: Path
    people: dict[str, dict[str, Any]] = field(default_factory=dict)

    def set_person(
        self,
        login: str,
        *,
        sub: str,
        groups: list[str],
        password: str = PASSWORD,
        email: str = "",
        username: str | None = None,
    ) -> None:
        """Adds or changes someone at the provider; their next sign-in sees it."""
        person: dict[str, Any] = {"sub": sub, "password": password, "groups": groups}
        person["email"] = email or f"{login}@example.com"
        if username is not None:
            person["username"] = username
        self.people[login] = person
        self._write()

    def remove(self, login: str) -> None:
        self.people.pop(login, None)
        self._write()

    def _write(self) -> None:
        partial = self.users_file.with_suffix(".tmp")
        partial.write_text(json.dumps(self.people), encoding="utf-8")
        partial.replace(self.users_file)  # the provider never reads half a file


def _node() -> str:
    node = shutil.which("node")
    installed = (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir()
    if node is None or not installed:
        pytest.fail(
            "The OpenID Connect test provider is not installed: run `make test-oidc-provider` "
            "(Node.js and tests/support/oidc/node_modules)."
        )
    return node


@contextmanager
def oidc_provider(folder: Path, *, redirect_uri: str) -> Iterator[OidcProvider]:
    """The provider on a free loopback port, with one client (CLIENT_ID) that may come back
    only to `redirect_uri`; stopped on exit."""
    port = free_port()
    provider = OidcProvider(issuer=f"http://127.0.0.1:{port}", users_file=folder / "users.json")
    provider._write()
    log_path = folder / "provider.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                _node(),
                "provider.mjs",
                *("--port", str(port), "--users", str(provider.users_file)),
                *("--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET),
                *("--redirect-uri", redirect_uri),
            ],
            cwd=PROVIDER_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_discovery(provider.issuer, process, log_path)
        yield provider
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for_discovery(issuer: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the OIDC provider exited with {process.returncode}:\n{log.read_text()}")
        try:
            if requests.get(f"{issuer}/.well-known/openid-configuration", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"the OIDC provider did not come up in 30 s:\n{log.read_text()}")


def sign_in(
    site: str,
    login: str,
    password: str = PASSWORD,
    *,
    browser: requests.Session | None = None,
    next_url: str = "",
) -> requests.Response:
    """Clicks "Sign in with …" on Quarry's sign-in page (reached on the way to `next_url`),
    fills the provider's form and follows every redirect back; returns the last response
    (Quarry's page, or its refusal)."""
    browser = browser or requests.Session()
    query = f"?{urlencode({'next': next_url})}" if next_url else ""
    page = browser.get(f"{site}/accounts/login/{query}", timeout=10)
    button = re.search(r'href="([^"]*/accounts/oidc/login/[^"]*)"', page.text)
    assert button, "no single sign-on button on the sign-in page"
    at_provider = browser.get(site + button.group(1).replace("&amp;", "&"), timeout=10)
    if at_provider.url.startswith(site):  # signed in at the provider already: straight back
        return at_provider
    form = re.search(r'<form method="post" action="([^"]+)"', at_provider.text)
    assert form, f"no sign-in form at the provider: {at_provider.status_code} {at_provider.text}"
    action = at_provider.url.split("/interaction/")[0] + form.group(1)
    return browser.post(action, data={"login": login, "password": password}, timeout=30)
