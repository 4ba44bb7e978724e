"""lib/metrics.py at unit level (the served metrics after a real scenario: tests/e2e/test_metrics_e2e.py)."""

from __future__ import annotations

import gc
import time

from support_api.lib import metrics


def _sample(name: str, **labels: str) -> float:
    value = metrics.REGISTRY.get_sample_value(name, labels)
    assert value is not None, (name, labels)
    return value


def test_garbage_collection_pauses_are_timed_per_generation() -> None:
    metrics.watch_garbage_collector()
    metrics.watch_garbage_collector()  # once per process, however often it is called
    assert gc.callbacks.count(metrics.GC_PAUSES.callback) == 1
    count, total = _sample("support_api_gc_pause_seconds_count", generation="2"), \
        _sample("support_api_gc_pause_seconds_sum", generation="2")
    gc.collect()
    assert _sample("support_api_gc_pause_seconds_count", generation="2") == count + 1
    assert _sample("support_api_gc_pause_seconds_sum", generation="2") > total

    # A 30 ms pause lands in the buckets from 0.05 s up, not below.
    below = _sample("support_api_gc_pause_seconds_bucket", generation="1", le="0.025")
    above = _sample("support_api_gc_pause_seconds_bucket", generation="1", le="0.25")
    metrics.GC_PAUSES.callback("start", {"generation": 1, "collected": 0, "uncollectable": 0})
    time.sleep(0.03)
    metrics.GC_PAUSES.callback("stop", {"generation": 1, "collected": 0, "uncollectable": 0})
    assert _sample("support_api_gc_pause_seconds_bucket", generation="1", le="0.025") == below
    assert _sample("support_api_gc_pause_seconds_bucket", generation="1", le="0.25") == above + 1
    assert _sample("support_api_gc_pause_seconds_bucket", generation="1", le="+Inf") == \
        _sample("support_api_gc_pause_seconds_count", generation="1")
