"""The service's Prometheus metrics, with prometheus-client.

Requests by method, route and status, their latency histogram by route and status,
answers and abstentions, index reloads, and what is served: chunks, articles, the index's
build time, and an info gauge naming the index version, embedder and reader.

With several worker processes (``rag serve --workers N``) each worker writes its values to
files in ``PROMETHEUS_MULTIPROC_DIR`` (:func:`api.server.serve` makes the folder and sets
the variable before the workers start), and a scrape, whichever worker answers it, adds up
all of them (prometheus-client's multiprocess mode): counters and histograms are summed,
the served-index gauges take the most recent value any live worker set.
"""

from __future__ import annotations

import contextlib
import os
from datetime import datetime
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Metrics:
    """One app's metrics, in a registry of its own (several apps may live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "rag_http_requests",
            "HTTP requests by method, route and status.",
            ["method", "path", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "rag_http_request_duration_seconds",
            "Time to answer an HTTP request, by route and status.",
            ["path", "status"],
            buckets=BUCKETS,
            registry=r,
        )
        self.answers = Counter(
            "rag_answers", "Questions answered or abstained on.", ["outcome"], registry=r
        )
        self.reloads = Counter(
            "rag_index_reloads", "Index updates swapped in since start.", registry=r
        )
        mode = {"multiprocess_mode": "livemostrecent"}
        self.chunks = Gauge("rag_index_chunks", "Chunks in the live index.", registry=r, **mode)
        self.articles = Gauge(
            "rag_index_articles", "Articles in the live index.", registry=r, **mode
        )
        self.built = Gauge(
            "rag_index_build_timestamp_seconds",
            "When the live index was built (Unix time).",
            registry=r,
            **mode,
        )
        self.served = Gauge(
            "rag_served_info",
            "What is served: index version, embedder and reader (value 1).",
            ["index_version", "embedder", "embedder_backend", "reader", "reader_backend"],
            registry=r,
            **mode,
        )
        self._served_labels: tuple[str, ...] | None = None

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        self.requests.labels(method, path, str(status)).inc()
        self.latency.labels(path, str(status)).observe(seconds)

    def count(self, event: str) -> None:
        if event == "reindex":
            self.reloads.inc()
        else:
            self.answers.labels(event).inc()

    def describe_served(self, served: dict[str, Any]) -> None:
        """Set the served-index gauges from :meth:`rag.pipeline.Pipeline.describe`."""
        self.chunks.set(served["chunk_count"])
        self.articles.set(served["article_count"])
        built = served.get("index_built")
        if built:
            with contextlib.suppress(ValueError):  # an index written by hand: no build time
                self.built.set(datetime.strptime(built, "%Y-%m-%dT%H:%M:%S%z").timestamp())
        emb, rd = served["embedder"], served["reader"]
        labels = (
            str(served["index_version"]),
            str(emb["name"]),
            str(emb.get("backend") or ("offline" if emb.get("offline") else "")),
            str(rd["name"]),
            str(rd.get("backend") or ("offline" if rd.get("offline") else "")),
        )
        if labels != self._served_labels:
            if self._served_labels is not None:
                self.served.remove(*self._served_labels)
            self.served.labels(*labels).set(1)
            self._served_labels = labels

    def render(self) -> bytes:
        """The text a scrape reads: this process's metrics, or with several workers the sum
        of all of theirs."""
        if multiprocess():
            from prometheus_client import multiprocess as mp

            registry = CollectorRegistry()
            mp.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
