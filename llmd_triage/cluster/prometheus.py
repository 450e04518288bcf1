"""Prometheus as a metrics source for probes: a live HTTP client and a recorded (snapshot) replay.

Placeholder interface; the HTTP client and the replay are filled in by the live-access work.
"""

from __future__ import annotations

from typing import Any, Protocol

from llmd_triage.cluster.base import ClusterError


class MetricsSource(Protocol):
    async def query(self, expr: str, time: str | None = None) -> dict[str, Any]:
        """The `data` object of /api/v1/query: {resultType, result}."""
        ...


class RecordedPrometheus:
    """Answers queries from recorded results (a snapshot's prometheus.yaml)."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records

    async def query(self, expr: str, time: str | None = None) -> dict[str, Any]:
        for rec in self.records:
            if rec.get("query") == expr and rec.get("type", "instant") == "instant":
                if rec.get("error"):
                    err = rec["error"]
                    raise ClusterError(err.get("kind", "error"), err.get("message", "recorded failure"))
                return rec.get("result") or {"resultType": "vector", "result": []}
        raise ClusterError("not_captured", f"this snapshot holds no answer to the query {expr!r}")
