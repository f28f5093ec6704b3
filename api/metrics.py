"""Request counts, latencies and service events, rendered in the Prometheus text format."""

from __future__ import annotations

import threading
from collections import Counter

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Request counts, a latency histogram and a few event counters, in Prometheus text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str, int]] = Counter()
        self._latency: dict[str, list[float]] = {}  # path -> bucket counts, then sum, count
        self._events: Counter[str] = Counter()

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(method, path, status)] += 1
            row = self._latency.setdefault(path, [0.0] * (len(_BUCKETS) + 2))
            for i, bound in enumerate(_BUCKETS):
                if seconds <= bound:
                    row[i] += 1
            row[-2] += seconds
            row[-1] += 1

    def count(self, event: str) -> None:
        with self._lock:
            self._events[event] += 1

    def render(self, gauges: dict[str, tuple[str, float]]) -> str:
        """``gauges`` maps a metric name to (help text, value)."""
        out = [
            "# HELP rag_http_requests_total HTTP requests by method, route and status.",
            "# TYPE rag_http_requests_total counter",
        ]
        with self._lock:
            for (method, path, status), n in sorted(self._requests.items()):
                out.append(
                    f'rag_http_requests_total{{method="{_label(method)}",path="{_label(path)}",'
                    f'status="{status}"}} {n}'
                )
            out += [
                "# HELP rag_http_request_duration_seconds Time to answer an HTTP request.",
                "# TYPE rag_http_request_duration_seconds histogram",
            ]
            for path, row in sorted(self._latency.items()):
                p = _label(path)
                for bound, n in zip(_BUCKETS, row):
                    out.append(
                        f'rag_http_request_duration_seconds_bucket{{path="{p}",le="{bound}"}} {n:.0f}'
                    )
                out.append(
                    f'rag_http_request_duration_seconds_bucket{{path="{p}",le="+Inf"}} {row[-1]:.0f}'
                )
                out.append(f'rag_http_request_duration_seconds_sum{{path="{p}"}} {row[-2]:.6f}')
                out.append(f'rag_http_request_duration_seconds_count{{path="{p}"}} {row[-1]:.0f}')
            out += [
                "# HELP rag_answers_total Questions answered or abstained on.",
                "# TYPE rag_answers_total counter",
            ]
            for outcome in ("answered", "abstained"):
                out.append(f'rag_answers_total{{outcome="{outcome}"}} {self._events[outcome]}')
            out += [
                "# HELP rag_index_reloads_total Index updates swapped in since start.",
                "# TYPE rag_index_reloads_total counter",
                f"rag_index_reloads_total {self._events['reindex']}",
            ]
        for name, (help_text, value) in gauges.items():
            out += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value:g}"]
        return "\n".join(out) + "\n"
