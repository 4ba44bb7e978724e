"""lib/metrics.py at unit level (the served metrics after a real scenario: tests/e2e/test_metrics_e2e.py)."""

from __future__ import annotations

import gc
import json
import re
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from support_api.lib import metrics


def _sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    assert value is not None, (name, labels)
    return value


def test_the_process_times_its_garbage_collections() -> None:
    metrics.watch_garbage_collector()
    metrics.watch_garbage_collector()  # once per process, however often it is called
    assert gc.callbacks.count(metrics.GC_PAUSES.callback) == 1
    registry = metrics.REGISTRY
    count = _sample(registry, "support_api_gc_pause_seconds_count", generation="2")
    total = _sample(registry, "support_api_gc_pause_seconds_sum", generation="2")
    gc.collect()
    # (Other threads may have set off collections of their own meanwhile: at least this one.)
    assert _sample(registry, "support_api_gc_pause_seconds_count", generation="2") >= count + 1
    assert _sample(registry, "support_api_gc_pause_seconds_sum", generation="2") > total


def test_a_pause_lands_in_its_buckets() -> None:
    """On a collector of its own, out of the process's collections: a 30 ms pause counts in the
    buckets from 0.05 s up, not below, in its generation only."""
    pauses = metrics.GcPauses()
    registry = CollectorRegistry()
    registry.register(pauses)
    pauses.callback("start", {"generation": 1, "collected": 0, "uncollectable": 0})
    time.sleep(0.03)
    pauses.callback("stop", {"generation": 1, "collected": 0, "uncollectable": 0})
    assert _sample(registry, "support_api_gc_pause_seconds_bucket", generation="1", le="0.025") == 0
    assert _sample(registry, "support_api_gc_pause_seconds_bucket", generation="1", le="0.25") == 1
    assert _sample(registry, "support_api_gc_pause_seconds_bucket", generation="1", le="+Inf") == 1
    assert _sample(registry, "support_api_gc_pause_seconds_count", generation="1") == 1
    assert 0.03 <= _sample(registry, "support_api_gc_pause_seconds_sum", generation="1") < 1
    assert _sample(registry, "support_api_gc_pause_seconds_count", generation="0") == 0
    assert _sample(registry, "support_api_gc_pause_seconds_count", generation="2") == 0


def test_the_dashboard_plots_every_metric_and_only_those_that_exist() -> None:
    dashboard = json.loads((Path(__file__).resolve().parents[1] / "deploy" / "grafana-dashboard.json").read_text())
    plotted = {name for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"support_api_\w+", target["expr"])}
    families = {family.name for family in metrics.REGISTRY.collect() if family.name.startswith("support_api_")}
    assert "support_api_socket_events_waiting" in families
    assert {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in plotted} == families
