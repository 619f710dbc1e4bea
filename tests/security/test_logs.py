"""The logs hold no secrets (issue 11): what an analyst, an operator reading the JSON logs or
anyone holding the source code can learn about the people who asked.

The attacker here reads the query log, the feedback export, the analytics page or the
structured logs, or knows the published source and a user's sequential id.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import io
import json
import logging
import multiprocessing
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from pytest_django.fixtures import Settings

from kb.checks import pseudonym_key as pseudonym_key_check
from kb.install_keys import install_key
from kb.models import QueryLog, TokenRevokedReason
from kb.observability import leaked_tokens
from kb.observability.json_logs import JsonFormatter, PlainFormatter
from kb.redaction import normalise
from kb.services.api_tokens import api_token_create, api_token_revoke
from kb.services.querylog import (
    PSEUDONYM_KEY_FILE,
    QueryRecord,
    feedback_record,
    pseudonym,
    querylog_write,
)
from tests.support.clients import bearer_client, signed_in_as
from tests.support.environment import unconfigured_environ
from tests.support.factories import UserFactory
from tests.support.paths import ROOT
from tests.support.processes import celery_worker, manage
from tests.support.waiting import poll_until

pytestmark = pytest.mark.integration
PUBLISHED_KEY = b"dev-insecure-pseudonym-key"  # the old default, readable in git history


# Pseudonym key: never one that the source code publishes


@pytest.fixture
def no_configured_key(settings: Settings, tmp_path: Path) -> Path:
    """`make run` as shipped: KB_LOG_PSEUDONYM_KEY unset, a fresh data directory."""
    settings.KB_LOG_PSEUDONYM_KEY = ""
    settings.KB_DATA_DIR = tmp_path / "install-a"
    return settings.KB_DATA_DIR


def _published_pseudonym(user_id: int) -> str:
    return hmac.new(PUBLISHED_KEY, str(user_id).encode(), hashlib.sha256).hexdigest()


def test_default_settings_carry_no_pseudonym_key_and_read_no_file(tmp_path: Path) -> None:
    code = "from kb.settings import base; print(repr(base.KB_LOG_PSEUDONYM_KEY))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=unconfigured_environ(KB_DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert result.stdout.strip() == "''"
    assert list(tmp_path.iterdir()) == []  # importing settings created no key file


def test_an_attacker_cannot_recompute_a_pseudonym_from_the_published_key(
    no_configured_key: Path,
) -> None:
    assert pseudonym(42) != _published_pseudonym(42)
    assert PUBLISHED_KEY not in (no_configured_key / PSEUDONYM_KEY_FILE).read_bytes()


def test_two_installs_get_two_keys_and_one_install_keeps_its_key(
    settings: Settings, no_configured_key: Path, tmp_path: Path
) -> None:
    first = pseudonym(42)
    settings.KB_DATA_DIR = tmp_path / "install-b"
    other_install = pseudonym(42)
    settings.KB_DATA_DIR = no_configured_key
    install_key.cache_clear()  # as a restarted process would read it

    assert other_install != first
    assert pseudonym(42) == first


def test_the_generated_key_file_is_readable_by_its_owner_only(no_configured_key: Path) -> None:
    pseudonym(1)

    mode = stat.S_IMODE((no_configured_key / PSEUDONYM_KEY_FILE).stat().st_mode)
    assert mode == 0o600
    assert [p.name for p in no_configured_key.iterdir()] == [PSEUDONYM_KEY_FILE]


def _key_in_new_process(path: str) -> bytes:
    install_key.cache_clear()
    return install_key(Path(path))


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    path = str(tmp_path / PSEUDONYM_KEY_FILE)
    with multiprocessing.get_context("fork").Pool(6) as pool:
        keys = pool.map(_key_in_new_process, [path] * 24)

    assert len(set(keys)) == 1
    assert len(keys[0]) >= 32


def test_a_configured_key_wins_over_the_generated_one(
    settings: Settings, no_configured_key: Path
) -> None:
    settings.KB_LOG_PSEUDONYM_KEY = "k" * 40

    assert pseudonym(42) == hmac.new(b"k" * 40, b"42", hashlib.sha256).hexdigest()
    assert not no_configured_key.exists()


@pytest.mark.parametrize(
    "published",
    [PUBLISHED_KEY.decode(), "change-me-32-random-bytes"],
    ids=["old-default", "env-example"],
)
def test_a_published_key_is_refused_at_start(settings: Settings, published: str) -> None:
    settings.KB_LOG_PSEUDONYM_KEY = published

    assert [error.id for error in pseudonym_key_check()] == ["kb.E020"]


def test_a_private_key_passes_the_start_check(settings: Settings) -> None:
    settings.KB_LOG_PSEUDONYM_KEY = "a-private-random-key-of-this-install-0123"

    assert pseudonym_key_check() == []


# Redaction: a corpus of realistic questions in en/zh/ru (log_corpus.yaml beside this file)

CORPUS = yaml.safe_load((Path(__file__).with_name("log_corpus.yaml")).read_text())
WITH_SECRETS = [item for item in CORPUS if not item.get("plain")]
PLAIN = [item for item in CORPUS if item.get("plain")]


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [f"{item['lang']}-{n}" for n, item in enumerate(items)]


@pytest.fixture
def asker(db: None) -> Any:
    return UserFactory(username="asker", first_name="Alex", last_name="Quinn")


def _log(user: Any, text: str) -> tuple[str, str]:
    """What the query log and the feedback keep of `text`, asked and commented by `user`."""
    record = QueryRecord(collection_ids=[], retrieved={}, latencies_ms={}, answer=text)
    row = querylog_write(user=user, question=text, record=record)
    feedback = feedback_record(user=user, query_id=row.pk, rating="down", comment=text)
    row.refresh_from_db()
    assert row.answer_redacted == row.question_redacted
    return row.question_redacted, feedback.comment_redacted


def test_the_corpus_is_large_and_multilingual_enough() -> None:
    assert len(CORPUS) >= 50
    assert len(PLAIN) >= 15
    for lang in ("en", "zh", "ru"):
        assert sum(item["lang"] == lang for item in WITH_SECRETS) >= 10
        assert sum(item["lang"] == lang for item in PLAIN) >= 5


@pytest.mark.parametrize("item", WITH_SECRETS, ids=_ids(WITH_SECRETS))
def test_no_secret_of_a_question_or_comment_is_stored(asker: Any, item: dict[str, Any]) -> None:
    _row, token = api_token_create(user=asker, name="pasted")
    text = item["text"].replace("{token}", token)

    stored = _log(asker, text)

    for kept in stored:
        for secret in item["secrets"]:
            assert normalise(secret.replace("{token}", token)) not in kept, kept
        assert "[" in kept  # a placeholder says something was there


@pytest.mark.parametrize("item", PLAIN, ids=_ids(PLAIN))
def test_plain_questions_survive_apart_from_normalisation(asker: Any, item: dict[str, Any]) -> None:
    assert _log(asker, item["text"]) == (normalise(item["text"]),) * 2


def test_full_width_and_internationalised_addresses_are_normalised_then_redacted(
    asker: Any,
) -> None:
    text = "mail ｊｏｈｎ＠ｅｘａｍｐｌｅ。ｃｏｍ or 张三@例子.中国 or иван@пример.рф"

    question, _comment = _log(asker, text)

    assert question == "mail [email] or [email] or [email]"


# A token found in a log is revoked, and its owner told


def test_a_token_pasted_into_a_question_is_revoked_at_once(asker: Any) -> None:
    row, token = api_token_create(user=asker, name="script")
    assert bearer_client(token).get("/api/v1/me").status_code == 200

    _log(asker, f"why does {token} fail?")

    row.refresh_from_db()
    assert row.revoked_at is not None
    assert row.revoked_reason == TokenRevokedReason.LEAKED


def test_someone_elses_token_in_a_feedback_comment_is_revoked_through_the_api(
    asker: Any,
) -> None:
    """The comment goes through the real feedback endpoint; the token belongs to another user
    who pasted it in a chat message to the asker."""
    owner: Any = UserFactory(username="owner")
    owner_row, leaked = api_token_create(user=owner, name="ci")
    _asker_row, own = api_token_create(user=asker, name="asker")
    record = QueryRecord(collection_ids=[], retrieved={}, latencies_ms={})
    query = querylog_write(user=asker, question="how do I deploy?", record=record)

    response = bearer_client(own).post(
        "/api/v1/feedback",
        {"query_id": query.pk, "rating": "down", "comment": f"the docs say use {leaked}"},
        format="json",
    )

    assert response.status_code < 300, response.content
    owner_row.refresh_from_db()
    assert owner_row.revoked_reason == TokenRevokedReason.LEAKED
    assert leaked not in QueryLog.objects.get(pk=query.pk).feedback.comment_redacted


def test_the_owner_of_a_leaked_token_is_told_why_on_its_next_use(asker: Any) -> None:
    _row, token = api_token_create(user=asker, name="script")
    _log(asker, f"token {token}")

    response = bearer_client(token).get("/api/v1/me")

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "token_leaked"
    assert "appeared in a logged question" in error["message"]
    assert "kb_user" in error["message"]  # how to get a new one


def test_other_revoked_or_unknown_tokens_still_get_the_one_generic_answer(asker: Any) -> None:
    row, revoked = api_token_create(user=asker, name="old")
    api_token_revoke(token=row)
    unknown = "qry_" + "x" * 43

    answers = [
        bearer_client(token).get("/api/v1/me").json()["error"] for token in (revoked, unknown)
    ]

    assert answers[0] == answers[1]
    assert answers[0]["code"] != "token_leaked"


def test_a_token_of_our_format_that_is_no_live_token_revokes_nothing(asker: Any) -> None:
    row, _token = api_token_create(user=asker, name="live")

    _log(asker, "example from the docs: qry_" + "A" * 43)

    row.refresh_from_db()
    assert row.revoked_at is None


def test_the_owner_sees_a_notice_on_their_next_page_once(asker: Any) -> None:
    _row, token = api_token_create(user=asker, name="script")
    _log(asker, f"is {token} still valid?")
    browser = signed_in_as(asker)

    first = browser.get("/").content.decode()
    second = browser.get("/").content.decode()

    assert "was revoked automatically" in first
    assert token[:10] in first  # which token: its shown prefix, never the token itself
    assert token not in first
    assert "was revoked automatically" not in second


# Analytics and the log readers show no secret, even from rows logged under older rules


@pytest.fixture
def old_rows(db: None) -> str:
    """Rows as the earlier redaction stored them: a password and another person's name."""
    text = "my password is hunter2, ask Marcus Whitfield at 742 Evergreen Terrace"
    for _ in range(2):
        QueryLog.objects.create(pseudonym="p" * 64, question_redacted=text, refused=True)
    return text


def test_the_analytics_page_shows_no_secret(old_rows: str) -> None:
    staff: Any = UserFactory(username="analyst", is_staff=True)
    browser = signed_in_as(staff)

    page = browser.get("/analytics/")

    assert page.status_code == 200
    content = html.unescape(page.content.decode())
    assert "[password]" in content
    for secret in ("hunter2", "Marcus Whitfield", "742 Evergreen"):
        assert secret not in content


def test_the_query_log_command_prints_no_secret(old_rows: str) -> None:
    for args in ((), ("--json",)):
        out = io.StringIO()
        call_command("kb_querylog", *args, stdout=out)
        for secret in ("hunter2", "Marcus Whitfield", "742 Evergreen"):
            assert secret not in out.getvalue()


# The structured logs never print a bearer token or a password


@pytest.fixture(params=["json", "plain"])
def log_lines(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """Everything the root logger prints, through the formatter KB_LOG_FORMAT selects."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        JsonFormatter() if request.param == "json" else PlainFormatter("%(name)s %(message)s")
    )
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def test_request_logging_prints_no_token_or_password(asker: Any, log_lines: io.StringIO) -> None:
    _row, token = api_token_create(user=asker, name="script")
    api_token_revoke(token=_row)

    response = bearer_client(token).get(f"/api/v1/me?access_token={token}&password=hunter2")

    assert response.status_code == 401
    printed = log_lines.getvalue()
    assert "/api/v1/me" in printed  # Django's request log did print the failure
    assert token not in printed
    assert "hunter2" not in printed


def test_errors_and_task_failures_print_no_token_or_password(log_lines: io.StringIO) -> None:
    token = "qry_" + "s3cr3t" * 8
    logger = logging.getLogger("kb.test")
    try:
        raise ValueError(f"bad header Authorization: Bearer {token}")
    except ValueError:
        logger.exception("request failed for password=hunter2")
    logging.getLogger("celery.app.trace").error(
        "Task failed", extra={"data": {"args": (token,), "kwargs": {"password": "hunter2"}}}
    )

    printed = log_lines.getvalue()
    assert "request failed" in printed and "Task failed" in printed
    assert token[:20] not in printed
    assert "hunter2" not in printed
    if printed.lstrip().startswith("{"):
        assert all(json.loads(line) for line in printed.splitlines())


# A token that only a log line saw is revoked too, off the logging path


def _revoked_within(row: Any, seconds: float) -> bool:
    def revoked_at() -> Any:
        row.refresh_from_db()
        return row.revoked_at

    return (
        poll_until(revoked_at, lambda at: at is not None, timeout=seconds, every=0.05) is not None
    )


@pytest.mark.django_db(transaction=True)  # the revoking thread sees only committed rows
def test_a_token_printed_by_a_library_log_line_is_revoked_and_its_owner_told(
    log_lines: io.StringIO,
) -> None:
    owner: Any = UserFactory(username="owner")
    row, token = api_token_create(user=owner, name="deploy")

    logging.getLogger("urllib3.connectionpool").warning("retrying GET /sync?key=%s", token)

    assert token not in log_lines.getvalue()
    assert _revoked_within(row, seconds=10)
    assert row.revoked_reason == TokenRevokedReason.LEAKED
    assert bearer_client(token).get("/api/v1/me").json()["error"]["code"] == "token_leaked"


@pytest.mark.django_db(transaction=True)
def test_a_token_in_a_logged_exception_or_extra_is_revoked(log_lines: io.StringIO) -> None:
    owner: Any = UserFactory(username="owner")
    in_exception, token_a = api_token_create(user=owner, name="a")
    in_extra, token_b = api_token_create(user=owner, name="b")
    try:
        raise RuntimeError(f"upstream said: {token_a}")
    except RuntimeError:
        logging.getLogger("kb.test").exception("call failed", extra={"args_seen": [token_b]})

    assert _revoked_within(in_exception, seconds=10)
    assert _revoked_within(in_extra, seconds=10)


@pytest.mark.django_db(transaction=True)
def test_an_owner_revoked_token_in_a_log_keeps_its_reason(log_lines: io.StringIO) -> None:
    owner: Any = UserFactory(username="owner")
    row, token = api_token_create(user=owner, name="old")
    api_token_revoke(token=row)
    live, _other = api_token_create(user=owner, name="live")

    logging.getLogger("kb.test").warning("old token %s", token)
    leaked_tokens.drain()

    row.refresh_from_db()
    live.refresh_from_db()
    assert row.revoked_reason == TokenRevokedReason.OWNER
    assert not row.revoked_notice_pending
    assert live.revoked_at is None


# A separate worker process logs through the same formatter (Celery would install its own)


def _revoked_reason_in(data_dir: Path) -> str:
    with sqlite3.connect(data_dir / "db.sqlite3") as db:
        return db.execute("SELECT revoked_reason FROM kb_apitoken").fetchone()[0] or ""


@pytest.mark.slow
def test_a_worker_process_prints_json_without_the_token_of_a_failed_task_and_revokes_it(
    tmp_path: Path,
) -> None:
    """`celery -A kb worker` as compose runs it: a task whose arguments hold a live token fails;
    the failure is logged as JSON without the token, and the token is revoked."""
    data_dir = tmp_path / "data"
    env = unconfigured_environ(KB_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="kb.settings.base")
    manage(env, "migrate", "-v0")
    token = manage(env, "kb_user", "someone", "--token").strip()
    send = "from kb.celery import app; app.send_task('kb.querylog_purge_expired', "
    manage(env, "shell", "-c", send + f"args=['{token}'])")

    worker = celery_worker(
        env, "-c", "1", "-l", "info", queue="maintenance", output=subprocess.PIPE
    )
    try:
        poll_until(
            lambda: _revoked_reason_in(data_dir), lambda reason: reason == "leaked", timeout=90
        )
    finally:
        worker.terminate()
        printed = worker.communicate(timeout=60)[0].decode()

    assert _revoked_reason_in(data_dir) == "leaked", printed
    entries = [json.loads(line) for line in printed.splitlines() if line.startswith("{")]
    failure = [e for e in entries if e["level"] == "ERROR" and "querylog" in e["message"]]
    assert failure, printed
    assert token not in printed
