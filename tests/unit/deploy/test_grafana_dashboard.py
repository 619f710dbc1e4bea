"""The dashboard in the repository only queries metrics the code exports."""

from __future__ import annotations

import json
import re

import prometheus_client
import pytest

from kb.observability import metrics  # noqa: F401 - registers Quarry's metrics
from tests.support.paths import ROOT

pytestmark = pytest.mark.unit
DASHBOARD = ROOT / "kb/deploy/grafana/quarry.json"


def test_every_quarry_metric_in_the_dashboard_is_exported() -> None:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    queried = {
        name
        for p in panels
        for t in p["targets"]
        for name in re.findall(r"\bquarry_[a-z_]+", t["expr"])
    }
    exported = prometheus_client.generate_latest().decode()

    missing = {name for name in queried if f"# TYPE {_family(name)} " not in exported}

    assert queried and not missing


def _family(sample: str) -> str:
    """quarry_x_total / _bucket / _count -> the family name in `# TYPE` lines."""
    for suffix in ("_bucket", "_count", "_sum"):
        if sample.endswith(suffix):
            return sample.removesuffix(suffix)
    return sample
