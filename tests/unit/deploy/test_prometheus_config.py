"""kb/deploy/prometheus.yml: every compose service that serves metrics is scraped, found by DNS so
that scaled replicas are too, and the alert rules it loads exist."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.support.paths import ROOT

pytestmark = pytest.mark.unit
CONFIG = ROOT / "kb/deploy/prometheus.yml"


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return yaml.safe_load(CONFIG.read_text())


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def _discovered(config: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """Compose service name -> (port, metrics path) of the job that finds it by DNS."""
    found = {}
    for job in config["scrape_configs"]:
        for sd in job.get("dns_sd_configs", []):
            for name in sd["names"]:
                found[name] = (sd["port"], job.get("metrics_path", "/metrics"))
    return found


def test_every_celery_worker_is_scraped_on_its_metrics_port(
    config: dict[str, Any], services: dict[str, Any]
) -> None:
    workers = {
        name: int(service["environment"]["KB_WORKER_METRICS_PORT"])
        for name, service in services.items()
        if "worker" in (service.get("command") or [])
    }

    found = _discovered(config)

    assert set(workers) == {"worker", "maintenance"}
    assert {name: found.get(name, (0, ""))[0] for name in workers} == workers


def test_web_is_scraped_at_metrics_with_the_token(config: dict[str, Any]) -> None:
    web = next(job for job in config["scrape_configs"] if job["job_name"] == "quarry-web")

    assert _discovered(config)["web"] == (8000, "/metrics")
    assert web["authorization"]["credentials_file"]


def test_no_target_is_a_fixed_address(config: dict[str, Any]) -> None:
    """A fixed `worker:9100` is one container of a scaled service: the others go unseen."""
    assert not [job["job_name"] for job in config["scrape_configs"] if "static_configs" in job]


def test_the_alert_rules_it_loads_exist(config: dict[str, Any]) -> None:
    assert config["rule_files"] == ["alerts.yml"]
    assert all((CONFIG.parent / name).is_file() for name in config["rule_files"])
