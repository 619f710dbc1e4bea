"""docker-compose.yml: every service present and wired to the others the way settings expect."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from qdrant_client.common.version_check import is_compatible

from kb.celery import all_queues
from tests.support.environment import unconfigured_environ
from tests.support.paths import ROOT

pytestmark = pytest.mark.unit
APP_SERVICES = ("web", "worker", "beat", "migrate")
REQUIRED = {"web", "worker", "llm", "postgres", "redis", "qdrant", "neo4j", "proxy"}
# name:tag@sha256:<digest>, as Renovate pins it: the tag says which, the digest makes it so.
PINNED = re.compile(r"[a-z0-9][a-z0-9./_-]*:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}")
DOCKERFILES = sorted((ROOT / "kb" / "deploy").glob("*Dockerfile"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_service_of_the_topology_is_defined(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) >= REQUIRED


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_point_at_the_compose_servers(compose: dict[str, Any], name: str) -> None:
    env = compose["services"][name]["environment"]

    assert env["DJANGO_SETTINGS_MODULE"] == "kb.settings.production"
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379/")
    assert env["QDRANT_URL"] == "http://qdrant:6333"
    assert env["NEO4J_URI"] == "bolt://neo4j:7687"
    assert env["KB_LLM_BASE_URL"].startswith("http://llm:8080/")


@pytest.mark.parametrize(
    "secret",
    ["DJANGO_SECRET_KEY", "KB_LOG_PSEUDONYM_KEY", "KB_CONVERSATION_KEY", "NEO4J_PASSWORD"],
)
def test_secrets_are_required_not_defaulted(compose: dict[str, Any], secret: str) -> None:
    value = compose["services"]["web"]["environment"][secret]
    assert value.startswith("${" + secret + ":?"), "a missing secret must stop `compose up`"


def test_dependencies_wait_for_healthy_servers(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("web", "worker"):
        for dep, rule in services[name]["depends_on"].items():
            if dep == "migrate":
                assert rule["condition"] == "service_completed_successfully"
            else:
                assert rule["condition"] == "service_healthy"
                assert "healthcheck" in services[dep], f"{dep} has no healthcheck"


def test_stateful_services_keep_data_in_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    for name in ("postgres", "redis", "qdrant", "neo4j"):
        mounts = compose["services"][name]["volumes"]
        assert any(m.split(":")[0] in declared for m in mounts), name
    assert "media:/data/media" in compose["services"]["worker"]["volumes"]
    assert "media:/data/media" in compose["services"]["web"]["volumes"]


def _llm_arguments(
    compose: dict[str, Any], tmp_path: Path, **env: str
) -> tuple[list[str], str | None]:
    """What the llm service's shell starts llama-server with, and the LLAMA_API_KEY it exports:
    its command run by sh as compose would (`$$` unescaped, each `${VAR:-default}` of the
    service's environment at its default unless `env` sets it), with a stand-in at
    /app/llama-server that prints what it got."""
    llm = compose["services"]["llm"]
    environment: dict[str, str] = {}
    for name, value in llm["environment"].items():
        default = re.fullmatch(r"\$\{" + name + r":-(.*)\}", value)
        assert default, f"{name} should be passed through from .env: {value}"
        environment[name] = env.get(name, str(default.group(1)))
    stand_in = tmp_path / "llama-server"
    stand_in.write_text(
        '#!/bin/sh\nprintf "%s\\n" "$@"; printf "LLAMA_API_KEY=%s\\n" "${LLAMA_API_KEY-<unset>}"\n'
    )
    stand_in.chmod(0o755)
    script = llm["command"][0].replace("$$", "$").replace("/app/llama-server", str(stand_in))

    assert llm["entrypoint"] == ["/bin/sh", "-c"]
    result = subprocess.run(
        ["/bin/sh", "-c", script],
        env={"PATH": "/usr/bin:/bin", **environment},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert result.returncode == 0, result.stderr
    *arguments, key = result.stdout.splitlines()
    exported = key.removeprefix("LLAMA_API_KEY=")
    return arguments, None if exported == "<unset>" else exported


def _value(arguments: list[str], flag: str) -> str:
    return arguments[arguments.index(flag) + 1]


def test_llm_reserves_the_gpu_and_offloads_every_layer(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    llm = compose["services"]["llm"]
    devices = llm["deploy"]["resources"]["reservations"]["devices"]
    arguments, _ = _llm_arguments(compose, tmp_path)

    assert devices[0]["capabilities"] == ["gpu"]
    assert _value(arguments, "--n-gpu-layers") == "99"
    assert "./models:/models:ro" in llm["volumes"]
    assert _value(arguments, "--model") == "/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


def test_llm_answers_several_questions_at_once(compose: dict[str, Any], tmp_path: Path) -> None:
    """Parallel slots with continuous batching, the context split evenly among them: each
    slot holds what the app's context setting promises one question, at the settings' default
    too."""
    settings_default = re.search(
        r'env_int\("KB_LLM_N_CTX", (\d+)\)', (ROOT / "kb/settings/base.py").read_text()
    )
    defaults, _ = _llm_arguments(compose, tmp_path)
    eight, _ = _llm_arguments(compose, tmp_path, KB_LLM_PARALLEL="8", KB_LLM_N_CTX="8192")

    assert settings_default
    assert compose["services"]["llm"]["environment"]["KB_LLM_N_CTX"] == (
        "${KB_LLM_N_CTX:-" + settings_default.group(1) + "}"
    )
    assert int(_value(defaults, "--parallel")) > 1
    assert {"--cont-batching", "--no-kv-unified"} <= set(defaults)
    assert int(_value(defaults, "--ctx-size")) == int(_value(defaults, "--parallel")) * int(
        settings_default.group(1)
    )
    assert (_value(eight, "--parallel"), _value(eight, "--ctx-size")) == ("8", str(8 * 8192))


def test_llm_chat_template_is_chatml_as_in_process(compose: dict[str, Any], tmp_path: Path) -> None:
    """The template the in-process model uses (docs/models.md); --no-jinja before it, else
    llama-server reads the name "chatml" as a Jinja template."""
    arguments, _ = _llm_arguments(compose, tmp_path)

    assert _value(arguments, "--chat-template") == "chatml"
    assert arguments.index("--no-jinja") < arguments.index("--chat-template")


def test_llm_requires_the_apps_key_only_when_one_is_set(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    """One KB_LLM_API_KEY for both ends: the server's LLAMA_API_KEY (its --api-key, kept off
    the command line) and the app's bearer token; unset, the server asks for none."""
    with_key, exported = _llm_arguments(compose, tmp_path, KB_LLM_API_KEY="sk-llm-key")
    without_key, unset = _llm_arguments(compose, tmp_path)
    app_key = compose["services"]["web"]["environment"]["KB_LLM_API_KEY"]

    assert exported == "sk-llm-key"
    assert "sk-llm-key" not in with_key
    assert "--api-key" not in with_key
    assert unset is None
    assert with_key == without_key
    assert app_key == compose["services"]["llm"]["environment"]["KB_LLM_API_KEY"]
    assert app_key == "${KB_LLM_API_KEY:-}"


def test_llm_is_healthy_once_the_model_is_loaded(compose: dict[str, Any], tmp_path: Path) -> None:
    """llama-server's /health: 503 while loading, 200 once it answers (no key needed), on the
    port the app's KB_LLM_BASE_URL names."""
    test = compose["services"]["llm"]["healthcheck"]["test"]
    arguments, _ = _llm_arguments(compose, tmp_path)

    assert test[0] == "CMD"
    assert test[-1] == "http://127.0.0.1:8080/health"
    assert _value(arguments, "--port") == "8080"


def test_documents_and_upkeep_have_their_own_workers(compose: dict[str, Any]) -> None:
    """Every queue a task can be sent to is consumed, each by its own service."""
    consumed = {}
    for name, service in compose["services"].items():
        command = service.get("command") or []
        if "worker" in command:
            consumed[command[command.index("-Q") + 1]] = name

    assert consumed == {"ingest": "worker", "maintenance": "maintenance"}
    assert set(consumed) == set(all_queues())


@pytest.mark.parametrize("name", ["web", "worker", "maintenance"])
def test_processes_that_count_in_several_processes_merge_a_metrics_folder(
    compose: dict[str, Any], name: str
) -> None:
    """uvicorn's web workers and a Celery pool's children each count on their own: without the
    folder, a scrape would see one process's numbers (a worker's main process: none)."""
    service = compose["services"][name]
    folder = service["environment"]["PROMETHEUS_MULTIPROC_DIR"]

    assert folder
    if name == "web":  # emptied by its command; a Celery worker empties its own at start
        assert f"rm -rf {folder} " in " ".join(service["command"])
    else:
        assert int(service["environment"]["KB_WORKER_METRICS_PORT"]) > 0


def test_dockerfiles_named_by_compose_exist(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        build = service.get("build")
        if build:
            assert (ROOT / build["context"] / build["dockerfile"]).is_file()


def test_ldap_settings_left_unset_in_env_leave_ldap_off_and_start(compose: dict[str, Any]) -> None:
    """Compose passes every KB_LDAP_* variable; unset in .env, each becomes its `:-` default,
    and the settings must load from those (an empty group type or filter would not)."""
    env = compose["services"]["web"]["environment"]
    ldap_env = {}
    for name, value in env.items():
        if name.startswith("KB_LDAP_"):
            default = re.fullmatch(r"\$\{" + name + r":-(.*)\}", value)
            assert default, f"{name} should be passed through from .env: {value}"
            ldap_env[name] = default.group(1)
    code = (
        "from kb.settings import base as s; "
        "print(s.KB_LDAP_SERVER_URI == '', s.KB_LDAP_USER_FILTER)"
    )

    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=unconfigured_environ(**ldap_env),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert len(ldap_env) == 12
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "(uid=%(user)s)"]


def test_the_qdrant_server_is_one_the_installed_client_accepts(compose: dict[str, Any]) -> None:
    """qdrant-client checks the server's version when it connects and warns outside its range
    (same major, minor at most 1 apart): asked here with the client's own rule."""
    image = compose["services"]["qdrant"]["image"]
    server = re.fullmatch(r"qdrant/qdrant:v(\d+\.\d+\.\d+)@sha256:[0-9a-f]{64}", image)
    client = importlib.metadata.version("qdrant-client")

    assert server, image
    assert is_compatible(client, server.group(1)), f"client {client}, server {server.group(1)}"


def test_every_image_pulled_from_a_registry_is_pinned_by_digest(compose: dict[str, Any]) -> None:
    pulled = {
        name: service["image"]
        for name, service in compose["services"].items()
        if "build" not in service  # built here: quarry
    }

    assert set(pulled) >= {"postgres", "redis", "qdrant", "neo4j", "proxy", "llm"}
    assert {name: image for name, image in pulled.items() if not PINNED.fullmatch(image)} == {}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_every_base_image_is_pinned_by_digest(dockerfile: Path) -> None:
    bases = re.findall(r"^FROM\s+(\S+)", dockerfile.read_text(), flags=re.MULTILINE)

    assert bases
    assert [base for base in bases if not PINNED.fullmatch(base)] == []


def test_only_the_tls_proxy_is_reachable_from_outside(compose: dict[str, Any]) -> None:
    """The production settings send cookies only over HTTPS: the way in is the proxy's 443
    (80 redirects), never the app's plain HTTP."""
    services = compose["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    proxy = services["proxy"]

    assert published == {"proxy"}
    assert sorted(port.rsplit(":", 1)[1] for port in proxy["ports"]) == ["443", "80"]
    assert "./kb/deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert (ROOT / "kb" / "deploy" / "Caddyfile").is_file()
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"


def test_web_takes_the_client_address_and_https_from_the_proxy(compose: dict[str, Any]) -> None:
    """Without trusting the proxy's X-Forwarded-For, every sign-in would come from its address,
    and one person's failures would lock everyone out (KB_SIGNIN_FAILURE_LIMIT per address)."""
    command = " ".join(compose["services"]["web"]["command"])

    assert "--proxy-headers" in command
    assert "--forwarded-allow-ips '*'" in command


def test_the_proxy_refuses_bodies_at_the_apps_limit(compose: dict[str, Any]) -> None:
    """Both read the one KB_MAX_REQUEST_MB, with the settings' default: an upload the app takes
    is never cut short by the proxy."""
    settings_default = re.search(
        r'env_int\("KB_MAX_REQUEST_MB", (\d+)\)', (ROOT / "kb/settings/base.py").read_text()
    )
    caddyfile = (ROOT / "kb" / "deploy" / "Caddyfile").read_text()
    proxy = compose["services"]["proxy"]["environment"]["KB_MAX_REQUEST_MB"]
    app = compose["services"]["web"]["environment"]["KB_MAX_REQUEST_MB"]

    assert settings_default
    default = settings_default.group(1)
    assert proxy == app == "${KB_MAX_REQUEST_MB:-" + default + "}"
    assert "max_size {$KB_MAX_REQUEST_MB:" + default + "}MiB" in caddyfile  # kb.uploads.MB
