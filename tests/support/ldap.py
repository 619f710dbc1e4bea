"""A real OpenLDAP directory for the LDAP tests: Debian's `slapd`, started on a free loopback
port with its own configuration and mdb database in a temporary folder, loaded from
tests/support/ldap/directory.ldif. Each test gets a fresh one (about half a second), so tests
may change or delete entries freely."""

from __future__ import annotations

import ipaddress
import os
import pwd
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ldap
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.paths import ROOT
from tests.support.ports import free_port
from tests.support.waiting import poll_until

LDIF = ROOT / "tests" / "support" / "ldap" / "directory.ldif"
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")
SUFFIX = "dc=quarry,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "directory-admin-secret"  # a throw-away test directory
SEARCH_DN = f"cn=quarry,ou=services,{SUFFIX}"
SEARCH_PASSWORD = "quarry-search-secret"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
POSIX_GROUPS = f"ou=posix,{SUFFIX}"
DIRECTORY_BACKEND = "kb.web.directory_signin.DirectoryBackend"
# Passwords of the people in directory.ldif.
PASSWORDS = {
    "mia": "mia-directory-password",
    "bob": "bob-directory-password",
    "admin": "admin-directory-password",
}
# Never run the directory as root: when the tests are root (CI), slapd drops to this account.
UNPRIVILEGED = "nobody"

CONFIG = """\
{includes}
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {folder}/slapd.pid
argsfile {folder}/slapd.args

TLSCertificateFile {folder}/server.pem
TLSCertificateKeyFile {folder}/server.key

database mdb
maxsize 16777216
suffix "{suffix}"
rootdn "{root_dn}"
rootpw {root_password}
directory {folder}/data
index objectClass eq
index member,memberUid,uid eq

access to attrs=userPassword
    by anonymous auth
    by * none
access to *
    by dn.exact="{search_dn}" read
    by self read
    by * none
"""


def person_dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE}"


def group_dn(name: str) -> str:
    return f"cn={name},{GROUPS}"


class PrivateSlapd:
    """One slapd of our own, so changing or stopping it harms nobody else."""

    def __init__(self) -> None:
        slapd, slapadd = shutil.which("slapd", path=_SBIN), shutil.which("slapadd", path=_SBIN)
        if slapd is None or slapadd is None:
            pytest.fail("needs OpenLDAP's slapd (Debian packages slapd ldap-utils): run make test")
        self.slapd, self.slapadd = slapd, slapadd
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="quarry-slapd-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        """The PEM that signed the server's certificate (self-signed, for 127.0.0.1)."""
        return self.folder / "server.pem"

    def start(self) -> None:
        config = self.folder / "slapd.conf"
        (self.folder / "data").mkdir()
        self_signed_certificate(self.folder / "server.pem", self.folder / "server.key")
        includes = "\n".join(f"include /etc/ldap/schema/{name}.schema" for name in SCHEMAS)
        config.write_text(
            CONFIG.format(
                includes=includes,
                folder=self.folder,
                suffix=SUFFIX,
                root_dn=ROOT_DN,
                root_password=ROOT_PASSWORD,
                search_dn=SEARCH_DN,
            )
        )
        subprocess.run(
            [self.slapadd, "-f", str(config), "-l", str(LDIF)], capture_output=True, check=True
        )
        user = _drop_privileges_to(self.folder)
        log = (self.folder / "slapd.log").open("wb")
        self.process = subprocess.Popen(
            [self.slapd, "-f", str(config), "-h", f"{self.uri}/", "-d", "0", *user],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if not poll_until(self._answers, bool, timeout=15, every=0.1):
            self.stop()
            pytest.fail(f"private slapd did not start:\n{self.log()}")

    def _answers(self) -> bool:
        try:
            self.admin().unbind_s()
        except ldap.LDAPError:
            return False
        return True

    def admin(self) -> Any:
        """A connection bound as the directory's root: what an administrator changes with."""
        connection = ldap.initialize(self.uri)
        connection.set_option(ldap.OPT_NETWORK_TIMEOUT, 2)
        connection.simple_bind_s(ROOT_DN, ROOT_PASSWORD)
        return connection

    def log(self) -> str:
        return (self.folder / "slapd.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


_SBIN = os.pathsep.join(["/usr/sbin", "/sbin", os.environ.get("PATH", "")])


def self_signed_certificate(certificate: Path, key: Path) -> None:
    """For StartTLS: a certificate for 127.0.0.1 (IP subject alternative name) valid a day."""
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    issued = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    certificate.write_bytes(issued.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _drop_privileges_to(folder: Path) -> list[str]:
    """slapd's `-u` option when the tests run as root: the folder is handed to UNPRIVILEGED."""
    if os.geteuid() != 0:
        return []
    account = pwd.getpwnam(UNPRIVILEGED)
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, account.pw_uid, account.pw_gid)
    return ["-u", UNPRIVILEGED, "-g", str(account.pw_gid)]
