"""kb/deploy/Caddyfile, as Caddy itself reads it (`caddy adapt`, `caddy validate`) in each of the
three ways README's "TLS and certificates" gives it a certificate. Skipped where Caddy is not
installed (Debian: `apt-get install caddy`)."""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.paths import ROOT

CADDY = shutil.which("caddy")
pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(CADDY is None, reason="caddy is not installed"),
]
CADDYFILE = ROOT / "kb" / "deploy" / "Caddyfile"
MIB = 1024 * 1024


def _environ(tmp_path: Path, **variables: str) -> dict[str, str]:
    """Caddy keeps its CA and certificates under XDG_DATA_HOME: a folder of the test's."""
    home = str(tmp_path)
    return {"PATH": "/usr/bin:/bin", "HOME": home, "XDG_DATA_HOME": home, **variables}


def _caddy(tmp_path: Path, command: str, **variables: str) -> subprocess.CompletedProcess[str]:
    assert CADDY
    return subprocess.run(
        [CADDY, command, "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env=_environ(tmp_path, **variables),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _adapted(tmp_path: Path, **variables: str) -> dict[str, Any]:
    done = _caddy(tmp_path, "adapt", **variables)
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = json.loads(done.stdout)
    return config


def _handlers(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The site's handlers by name (request_body, reverse_proxy)."""
    (server,) = config["apps"]["http"]["servers"].values()
    (route,) = server["routes"]
    (subroute,) = route["handle"][0]["routes"]
    return {handler["handler"]: handler for handler in subroute["handle"]}


def _certificate_files(folder: Path) -> tuple[Path, Path]:
    """A company CA's certificate for the name, as an operator would put it in ./certs."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "quarry.corp.example")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("quarry.corp.example")]), False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "quarry.crt", folder / "quarry.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_by_default_it_serves_localhost_from_caddys_own_ca(tmp_path: Path) -> None:
    config = _adapted(tmp_path)

    (policy,) = config["apps"]["tls"]["automation"]["policies"]
    assert policy["subjects"] == ["localhost"]
    assert [issuer["module"] for issuer in policy["issuers"]] == ["internal"]
    assert _caddy(tmp_path, "validate").returncode == 0


def test_a_public_name_gets_its_certificate_from_acme(tmp_path: Path) -> None:
    config = _adapted(tmp_path, QUARRY_DOMAIN="quarry.example.com", QUARRY_TLS="ops@example.com")

    (policy,) = config["apps"]["tls"]["automation"]["policies"]
    assert policy["subjects"] == ["quarry.example.com"]
    assert {issuer["module"] for issuer in policy["issuers"]} >= {"acme"}
    assert {issuer["email"] for issuer in policy["issuers"]} == {"ops@example.com"}


def test_certificate_files_are_served_as_they_are(tmp_path: Path) -> None:
    cert_file, key_file = _certificate_files(tmp_path)
    variables = {"QUARRY_DOMAIN": "quarry.corp.example", "QUARRY_TLS": f"{cert_file} {key_file}"}

    config = _adapted(tmp_path, **variables)
    validated = _caddy(tmp_path, "validate", **variables)

    (loaded,) = config["apps"]["tls"]["certificates"]["load_files"]
    assert (loaded["certificate"], loaded["key"]) == (str(cert_file), str(key_file))
    assert "automation" not in config["apps"]["tls"]  # nothing asked of an ACME server
    assert validated.returncode == 0, validated.stderr


def test_it_forwards_to_web_and_streams_without_giving_up_cancellation(tmp_path: Path) -> None:
    """Server-sent events are flushed as written without `flush_interval`; a negative one would
    keep the request to the app alive after its client left, and the model with it."""
    handlers = _handlers(_adapted(tmp_path))
    proxy = handlers["reverse_proxy"]

    assert proxy["upstreams"] == [{"dial": "web:8000"}]
    assert proxy.get("flush_interval", 0) >= 0
    assert "headers" not in proxy  # Caddy's own X-Forwarded-For/-Proto, not a client's


def test_it_refuses_bodies_over_the_apps_upload_limit(tmp_path: Path) -> None:
    default = _handlers(_adapted(tmp_path))["request_body"]
    configured = _handlers(_adapted(tmp_path, KB_MAX_REQUEST_MB="100"))["request_body"]

    assert default["max_size"] == 2048 * MIB
    assert configured["max_size"] == 100 * MIB
