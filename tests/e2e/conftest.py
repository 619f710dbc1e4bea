"""Browser tests: Playwright for Python driving Debian's Chromium against `manage.py kb_serve`
(the real app: web, embedded Celery worker and embedded stores in one process) on a free port
with a fresh data folder. Screenshots of every step go to tests/artifacts/e2e/ (gitignored)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.support.environment import unconfigured_environ
from tests.support.llm import SMALL_MODEL_ENV
from tests.support.paths import ROOT
from tests.support.ports import free_port
from tests.support.processes import manage, wait_until_serving

ARTIFACTS = ROOT / "tests" / "artifacts" / "e2e"
CHROMIUM = Path("/usr/bin/chromium")
# No network beyond loopback here: Chromium must not try to reach Google's services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
PASSWORD = "correct horse battery staple"
# One wait for pages and assertions alike: a 2-core CI machine that is also running the worker
# can take more than Playwright's 5 s default to answer a request.
WAIT_MS = 15_000
expect.set_options(timeout=WAIT_MS)
PEOPLE = {"admin": ("--staff",), "alice": ("--groups", "hr"), "bob": ("--groups", "eng")}
# Answers come from the small model the tests use (`make model-test` assembles it), short ones;
# no answer cache, so every question in these tests really streams from the model.
ANSWERING = {
    **SMALL_MODEL_ENV,
    "KB_ANSWER_MAX_TOKENS": "64",
    "KB_ANSWER_CACHE_SECONDS": "0",
}


@dataclass(frozen=True)
class LiveServer:
    url: str
    env: dict[str, str]
    log: Path


@pytest.fixture(scope="session")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def quarry_server(
    tmp_path_factory: pytest.TempPathFactory, artifacts: Path
) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("e2e-data")
    port = free_port()
    env = unconfigured_environ(
        KB_DATA_DIR=str(data_dir),
        PORT=str(port),
        DJANGO_SETTINGS_MODULE="kb.settings.base",
        **ANSWERING,
    )
    manage(env, "migrate", "--noinput")
    for username, options in PEOPLE.items():
        manage(env, "kb_user", username, "--password", PASSWORD, *options)
    log = artifacts / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "kb_serve"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process, timeout=120, output=lambda: log.read_text()[-4000:])
        yield LiveServer(url=url, env=env, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the e2e tier drives Debian's Chromium; run `make test-e2e` "
            "(it installs the chromium package) or `apt-get install chromium`."
        )
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


class Shots:
    """Numbered full-page screenshots of one test, to look at after the run."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, page: Page, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        page.evaluate("window.scrollTo(0, 0)")  # a sticky header would land mid-page otherwise
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest, artifacts: Path) -> Shots:
    return Shots(artifacts / re.sub(r"[^\w-]+", "-", request.node.name).strip("-"))


def sign_in(browser: Browser, server: LiveServer, username: str, **context: object) -> Page:
    page = browser.new_context(base_url=server.url, **context).new_page()  # type: ignore[arg-type]  # Playwright's keyword types are stricter than its options
    page.set_default_timeout(WAIT_MS)
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/")
    return page
