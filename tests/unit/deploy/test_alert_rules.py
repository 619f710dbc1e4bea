"""kb/deploy/alerts.yml: every rule names only series Quarry exports, and says how bad and what."""

from __future__ import annotations

import re
from typing import Any

import prometheus_client
import pytest
import yaml

from kb.observability import metrics  # noqa: F401 - registers Quarry's metrics
from tests.support.paths import ROOT

pytestmark = pytest.mark.unit
ALERTS = ROOT / "kb/deploy/alerts.yml"
# Made by Prometheus itself for every target, not by Quarry.
PROMETHEUS_SERIES = {"up"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
}


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


RULES = _rules()


def series_in(expr: str) -> set[str]:
    """The series names a PromQL expression reads: identifiers that are not functions, keywords,
    label names (matchers, `by (...)`), label values or range durations."""
    expr = re.sub(r'"[^"]*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = re.findall(r"(?<![\w.])([a-zA-Z_:][\w:]*)\b(?!\s*\()", expr)
    return {name for name in names if name.lower() not in KEYWORDS}


def _exported() -> set[str]:
    """Every sample name the registry's families can have, with or without samples yet."""
    families = prometheus_client.REGISTRY.collect()
    return {f.name + suffix for f in families for suffix in SAMPLE_SUFFIXES.get(f.type, ("",))}


@pytest.mark.parametrize("rule", RULES, ids=[r["alert"] for r in RULES])
def test_a_rule_reads_only_series_quarry_exports(rule: dict[str, Any]) -> None:
    read = series_in(rule["expr"])

    unknown = read - _exported() - PROMETHEUS_SERIES

    assert read and not unknown, f"{rule['alert']} reads series nobody exports: {unknown}"


@pytest.mark.parametrize("rule", RULES, ids=[r["alert"] for r in RULES])
def test_a_rule_has_a_severity_and_a_summary(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert rule["annotations"]["summary"].strip()
    assert rule["annotations"]["description"].strip()


def test_the_rules_watch_ingestion_refusals_queues_and_the_model() -> None:
    watched = set().union(*(series_in(rule["expr"]) for rule in RULES))
    refused = [r for r in RULES if 'refused="true"' in r["expr"]]

    assert {
        "quarry_ingest_failures_total",
        "quarry_queue_depth",
        "quarry_model_busy_total",
        "quarry_answers_in_progress",
        "quarry_llm_first_token_seconds_bucket",
    } <= watched
    assert refused


def test_series_in_skips_functions_labels_and_numbers() -> None:
    expr = (
        'sum by (le) (rate(quarry_x_bucket{queue="ingest", le=~"1e-9"}[5m])) / 2'
        ' > 0.05 and on() up{job=~"quarry-.*"} == 0 or vector(1e-9)'
    )

    assert series_in(expr) == {"quarry_x_bucket", "up"}
