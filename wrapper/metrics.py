"""Prometheus metrics for the read path, exposed at `/metrics`.

Each app owns its registry (no module-level state). Under several worker
processes, prometheus_client's multiprocess mode is used when
`PROMETHEUS_MULTIPROC_DIR` is set (`legacy-wrapper serve` sets it to a fresh
directory when it starts more than one worker): every worker writes its
values there and `/metrics` on any worker reports the sum over all workers.
Only counters and histograms are used, so no gauge needs a multiprocess mode;
the state of files sources (rows loaded, records rejected, age of the export)
is read from the sources at scrape time, by the worker that answers.

A worker creates its files when it starts, and each is empty for a moment
before it is sized; one left empty for good by a worker killed in that moment
would make prometheus_client's collector fail every later scrape
(prometheus/client_python#1199). Empty files carry no value: they are skipped.
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from flask import Blueprint, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """The wrapper's metrics; also the bulkhead's `QueryObserver`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.legacy_queries = Counter(
            "lw_legacy_queries", "Queries run on the legacy database", ["kind", "outcome"],
            registry=r,
        )  # fmt: skip
        self.legacy_seconds = Histogram(
            "lw_legacy_query_seconds", "Legacy query latency", ["kind"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.bulkhead_rejections = Counter(
            "lw_bulkhead_rejections", "Queries refused because the bulkhead was full", registry=r
        )
        self.cache_requests = Counter(
            "lw_cache_requests",
            "Shared response cache lookups by result (hit, miss, coalesced, bypass)",
            ["resource", "result"],
            registry=r,
        )
        self.coalesced_wait_seconds = Histogram(
            "lw_coalesced_wait_seconds", "Time identical requests waited for the first one",
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.not_modified = Counter(
            "lw_not_modified", "Conditional requests answered 304", registry=r
        )
        self.rate_limited = Counter(
            "lw_rate_limited", "Requests refused with 429", ["limit"], registry=r
        )
        self._children: dict[tuple[str, bool], tuple[Any, Any]] = {}

    # QueryObserver
    def query(self, kind: str, seconds: float, failed: bool) -> None:
        children = self._children.get((kind, failed))
        if children is None:  # `labels()` once per kind and outcome, not per query
            children = self._children[(kind, failed)] = (
                self.legacy_queries.labels(kind, "error" if failed else "ok"),
                self.legacy_seconds.labels(kind),
            )
        children[0].inc()
        children[1].observe(seconds)

    def rejected(self) -> None:
        self.bulkhead_rejections.inc()

    def watch_sources(self, states: Any) -> None:
        """`states()` gives the reported state of sources by name (`health.source_states`)."""
        self._sources = _SourceStates(states)
        self.registry.register(self._sources)

    def exposition(self) -> bytes:
        folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if folder:
            registry = CollectorRegistry()
            registry.register(_WorkerFiles(folder))
            if getattr(self, "_sources", None) is not None:
                registry.register(self._sources)
            return generate_latest(registry)
        return generate_latest(self.registry)


class _WorkerFiles:
    """The sum over every worker's files, as `multiprocess.MultiProcessCollector`,
    without the files a starting (or killed) worker has not sized yet."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def collect(self):  # type: ignore[no-untyped-def]
        files = [f for f in glob.glob(os.path.join(self.folder, "*.db")) if _sized(f)]
        return multiprocess.MultiProcessCollector.merge(files, accumulate=True)


class _SourceStates:
    """Per table of each files source: rows served, bad records met, export age."""

    def __init__(self, states: Any) -> None:
        self.states = states

    def collect(self) -> Iterator[Metric]:
        labels = ["source", "table"]
        rows = GaugeMetricFamily(
            "lw_file_rows_loaded", "Rows of the export a file table serves", labels=labels
        )
        rejected = CounterMetricFamily(
            "lw_file_records_rejected",
            "Bad records met in a file table's exports (refused or quarantined)",
            labels=labels,
        )
        age = GaugeMetricFamily(
            "lw_file_export_age_seconds",
            "Seconds since the served export file was written",
            labels=labels,
        )
        refused = GaugeMetricFamily(
            "lw_file_export_refused", "1 when the newest export was refused", labels=labels
        )
        states: Mapping[str, dict] = self.states()
        for source, state in states.items():
            for table, entry in state.get("tables", {}).items():
                key = [source, table]
                rejected.add_metric(key, entry.get("records_rejected_total", 0))
                refused.add_metric(key, 1 if entry.get("last_error") else 0)
                if entry.get("export"):
                    rows.add_metric(key, entry["rows"])
                    modified = datetime.fromisoformat(entry["modified_at"]).timestamp()
                    age.add_metric(key, max(0.0, time.time() - modified))
        yield from (rows, rejected, age, refused)


def _sized(path: str) -> bool:
    try:
        return os.path.getsize(path) > 0
    except OSError:
        return False


def metrics_blueprint(metrics: Metrics) -> Blueprint:
    blp = Blueprint("metrics", __name__)

    @blp.get("/metrics")
    def exposition() -> Response:
        return Response(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)

    return blp
