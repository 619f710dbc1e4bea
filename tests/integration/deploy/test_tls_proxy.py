"""kb/deploy/Caddyfile for real: Caddy (its own CA, as `QUARRY_TLS=internal`) in front of the
app as compose runs it (uvicorn with the production settings and the proxy's headers trusted),
on loopback ports. Signing in over HTTPS works and its cookies are Secure, the app knows the
request came over HTTPS, plain HTTP is redirected, and a stream passes through as it is written,
its end reaching the app when the client leaves. Skipped where Caddy is not installed (Debian:
`apt-get install caddy`)."""

from __future__ import annotations

import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.environment import unconfigured_environ
from tests.support.paths import ROOT
from tests.support.ports import free_port
from tests.support.processes import manage

CADDY = shutil.which("caddy")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(CADDY is None, reason="caddy is not installed"),
]
LOGIN = "/accounts/login/"
PASSWORD = "correct horse battery staple"


@dataclass
class Proxy:
    https: str  # https://localhost:<port>
    http: str  # http://localhost:<port>
    ca: ssl.SSLContext  # trusts Caddy's own root, as a browser told to would


def _start_caddy(folder: Path, upstream: int) -> tuple[subprocess.Popen[str], Proxy]:
    """The production Caddyfile, but on free loopback ports in front of `upstream` (compose:
    web:8000, ports 80 and 443), without the admin endpoint and the system trust store."""
    https_port, http_port = free_port(), free_port()
    config = (ROOT / "kb" / "deploy" / "Caddyfile").read_text()
    assert "reverse_proxy web:8000" in config
    config = config.replace("reverse_proxy web:8000", f"reverse_proxy 127.0.0.1:{upstream}")
    test_options = f"\thttp_port {http_port}\n\thttps_port {https_port}\n\tadmin off\n"
    config = config.replace("\n{\n", "\n{\n" + test_options + "\tskip_install_trust\n", 1)
    folder.mkdir()
    caddyfile = folder / "Caddyfile"
    caddyfile.write_text(config)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(folder), "XDG_DATA_HOME": str(folder)}
    env |= {"XDG_CONFIG_HOME": str(folder), "QUARRY_DOMAIN": "localhost"}
    assert CADDY
    process = subprocess.Popen(
        [CADDY, "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    root = folder / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    deadline = time.monotonic() + 60
    while not (root.exists() and _accepts(https_port)):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"caddy did not start:\n{process.communicate()[0]}")
        time.sleep(0.2)
    proxy = Proxy(
        f"https://localhost:{https_port}",
        f"http://localhost:{http_port}",
        ssl.create_default_context(cafile=str(root)),
    )
    return process, proxy


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The web service's command (docker-compose.yml) on a loopback port, production settings,
    one worker; its static files collected as the image collects them."""
    folder = tmp_path_factory.mktemp("app")
    env = unconfigured_environ(
        DJANGO_SETTINGS_MODULE="kb.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        KB_LOG_PSEUDONYM_KEY=secrets.token_hex(32),
        KB_CONVERSATION_KEY=secrets.token_hex(32),
        DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}",
        KB_DATA_DIR=str(folder),
        DJANGO_ALLOWED_HOSTS="localhost",
        DJANGO_HSTS_SECONDS="60",  # sent only on a request Django takes for HTTPS
    )
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput", "-v", "0")
    manage(env, "kb_user", "wes", "--password", PASSWORD)
    port = free_port()
    command = ["uvicorn", "kb.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "1", "--proxy-headers", "--forwarded-allow-ips", "*"]
    command += ["--lifespan", "on", "--no-access-log"]
    process = subprocess.Popen(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_until_healthy(port, env, process)
        yield port
    finally:
        _stop(process)


def _wait_until_healthy(port: int, env: dict[str, str], process: subprocess.Popen[str]) -> None:
    """Until compose's healthcheck of `web` passes (the proxy waits for it): it must ask with a
    host name in DJANGO_ALLOWED_HOSTS, which 127.0.0.1 is not here, nor in production."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    kind, python, flag, code = compose["services"]["web"]["healthcheck"]["test"]
    assert (kind, python, flag) == ("CMD", "python", "-c")
    check = [sys.executable, "-c", code.replace("127.0.0.1:8000", f"127.0.0.1:{port}")]
    deadline = time.monotonic() + 120
    while subprocess.run(check, env=env, capture_output=True, timeout=30).returncode != 0:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the app did not become healthy:\n{process.communicate()[0]}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def proxy(app: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    process, proxy = _start_caddy(tmp_path_factory.mktemp("proxy") / "caddy", app)
    try:
        yield proxy
    finally:
        _stop(process)


def _cookie(response: httpx.Response, name: str) -> str:
    (header,) = [v for v in response.headers.get_list("set-cookie") if v.startswith(name + "=")]
    return header


def test_signing_in_over_https_works_with_secure_cookies(proxy: Proxy) -> None:
    with httpx.Client(base_url=proxy.https, verify=proxy.ca, timeout=30) as browser:
        page = browser.get(LOGIN)
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert page.status_code == 200 and csrf
        signed_in = browser.post(
            LOGIN,
            data={"csrfmiddlewaretoken": csrf[1], "username": "wes", "password": PASSWORD},
            headers={"Origin": proxy.https, "Referer": proxy.https + LOGIN},
        )
        home = browser.get("/")

    assert "; secure" in _cookie(page, "csrftoken").lower()
    assert page.headers["strict-transport-security"].startswith("max-age=60")  # is_secure()
    assert signed_in.status_code == 302, signed_in.text
    assert signed_in.headers["location"] == "/"
    session = _cookie(signed_in, "sessionid").lower()
    assert "; secure" in session and "; httponly" in session
    assert home.status_code == 200 and LOGIN not in str(home.url)


def test_plain_http_is_redirected_to_https(proxy: Proxy) -> None:
    """To the same address on HTTPS's own port, 443, which compose publishes by default."""
    response = httpx.get(proxy.http + LOGIN + "?next=/manage/", timeout=30)

    assert response.status_code in {301, 308}
    assert response.headers["location"] == "https://localhost" + LOGIN + "?next=/manage/"


def test_the_app_sees_the_clients_address_not_the_proxys(proxy: Proxy) -> None:
    """/metrics answers loopback (127.0.0.1) alone; a client at 127.0.0.2 reaches the app
    through the proxy on 127.0.0.1, and is still not taken for loopback."""

    def metrics_from(address: str) -> int:
        transport = httpx.HTTPTransport(local_address=address, verify=proxy.ca)
        with httpx.Client(base_url=proxy.https, transport=transport, timeout=30) as client:
            return client.get("/metrics").status_code

    assert metrics_from("127.0.0.1") == 200
    assert metrics_from("127.0.0.2") == 404


class _EventSource:
    """An upstream that sends one server-sent event, waits until the test has seen it through
    the proxy (so a proxy that held it back fails the test), sends a second, then says nothing
    and waits for the proxy to close the connection: the client's departure reaching it."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.first_seen = threading.Event()
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(4096)
            head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            connection.sendall(head + b"Transfer-Encoding: chunked\r\n\r\n")
            connection.sendall(_chunk(b"event: token\ndata: one\n\n"))
            if not self.first_seen.wait(20):
                return
            connection.sendall(_chunk(b"event: token\ndata: two\n\n"))
            connection.settimeout(20)  # then silent, as a question waiting for the model is
            try:
                if connection.recv(1) == b"":
                    self.closed.set()
            except ConnectionResetError:
                self.closed.set()
            except TimeoutError:
                pass


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def test_a_stream_passes_through_as_written_and_its_client_leaving_reaches_the_app(
    tmp_path: Path,
) -> None:
    source = _EventSource()
    process, proxy = _start_caddy(tmp_path / "caddy", source.port)
    try:
        client = httpx.Client(base_url=proxy.https, verify=proxy.ca, timeout=10)
        with client, client.stream("GET", "/api/v1/query") as response:
            pieces = response.iter_text()
            first = next(pieces)  # a proxy that buffered would time out here
            source.first_seen.set()
            second = next(pieces)
        left = source.closed.wait(15)
    finally:
        _stop(process)
        source.listener.close()

    assert response.headers["content-type"] == "text/event-stream"
    assert first == "event: token\ndata: one\n\n"
    assert second.startswith("event: token\ndata: two\n\n")
    assert left, "the proxy kept the request to the app open after its client left"
