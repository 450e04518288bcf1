"""A PromQL query against the cluster's Prometheus (instant, or a range ending now).

Binds parsers.prometheus.vector_summary of the answer plus `query`: {query, result_type, series,
count, max, min, sum, truncated, errors}. An empty answer is a result (count 0), not a failure.
"""

from __future__ import annotations

import math
import shlex
import time
from typing import Any

from llmd_triage.cluster.base import Cluster, ClusterError, TargetRef
from llmd_triage.parsers.prometheus import format_labels, vector_summary
from llmd_triage.probes.base import Probe, ProbeFailure, ProbeResult

MAX_EVIDENCE = 10
DEFAULT_RANGE = 1800
#: Prometheus refuses a range query of more than 11,000 points per series
MAX_POINTS = 11000


def _num(value: float | None) -> str:
    if value is None:
        return "NaN"
    return f"{value:g}" if math.isfinite(value) else ("+Inf" if value > 0 else "-Inf")


def _evidence(series: dict[str, Any]) -> str:
    line = f"{format_labels(series['labels']) or '{}'} => {_num(series['value'])}"
    values = series.get("values")
    if values and len(values) > 1:
        line += f" (from {_num(values[0])}, {len(values)} points)"
    return line


class PromQuery(Probe):
    name = "prom.query"
    description = (
        "A PromQL query against the configured Prometheus; binds {query, result_type, series: [{labels, value, "
        "time}], count, max, min, sum, truncated, errors}. A range query (type: range) covers the last `range` "
        "seconds at `step` and adds each series' `values` and `timestamps`; `value` is the last one."
    )
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["query"],
        "properties": {
            "query": {"type": "string", "minLength": 1, "description": "PromQL"},
            "type": {"enum": ["instant", "range"], "description": "default instant"},
            "range": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 2678400,
                "description": "seconds back from now (range queries; default 1800)",
            },
            "step": {
                "type": "number",
                "exclusiveMinimum": 0,
                "description": "seconds between points (range queries; default: range / 120, at least 15)",
            },
        },
    }
    rbac = ()

    async def run(self, params: dict[str, Any], target: TargetRef, cluster: Cluster) -> ProbeResult:
        expr = str(params["query"])
        kind = params.get("type", "instant")
        prom = getattr(cluster, "prometheus", None)
        base = getattr(prom, "url", None) or "$PROMETHEUS_URL"
        auth = ""
        if str(base).startswith("https:"):
            if getattr(prom, "verify_tls", True) is False:
                auth += " -k"
            elif getattr(prom, "ca_file", None):
                auth += f" --cacert {shlex.quote(str(prom.ca_file))}"
        token_file = getattr(prom, "bearer_token_file", None)
        if token_file:
            auth += f' -H "Authorization: Bearer $(cat {shlex.quote(str(token_file))})"'
        q = f"curl -sG{auth} --data-urlencode {shlex.quote('query=' + expr)}"
        if kind == "range":
            span = float(params.get("range", DEFAULT_RANGE))
            step = float(params.get("step", max(15.0, span / 120)))
            if span / step > MAX_POINTS:
                raise ProbeFailure(
                    "error",
                    f"range {span:g}s at step {step:g}s is {span / step:.0f} points; Prometheus allows {MAX_POINTS}",
                    "raise `step` or shorten `range` in the tree",
                )
            end = round(time.time(), 3)
            start = round(end - span, 3)
            cmd = f"{q} -d start={start:.0f} -d end={end:.0f} -d step={step:g} {base}/api/v1/query_range"
        else:
            cmd = f"{q} {base}/api/v1/query"
        if prom is None:
            snapshot = str(getattr(cluster, "name", "")).startswith("snapshot:")
            raise ProbeFailure(
                "not_installed" if not snapshot else "not_captured",
                "no Prometheus is configured" if not snapshot else "this snapshot recorded no Prometheus answers",
                "pass --prometheus-url URL (and --prometheus-token-file FILE)"
                if not snapshot
                else f"run the query on the live cluster's Prometheus: {cmd}",
            )
        if kind == "range" and not callable(getattr(prom, "query_range", None)):
            raise ProbeFailure(
                "not_installed", "the configured metrics source answers no range queries", f"by hand: {cmd}"
            )
        try:
            if kind == "range":
                answer = await prom.query_range(expr, start, end, step)
            else:
                answer = await prom.query(expr)
        except ClusterError as exc:
            raise ProbeFailure.from_cluster(exc, cmd) from None
        data = {"query": expr, **vector_summary(answer)}
        if data["result_type"] is None:
            raise ProbeFailure("garbage", f"the answer to {expr!r} is not a query result: {'; '.join(data['errors'])}")
        ranked = sorted(
            data["series"], key=lambda s: (s["value"] is None, -(s["value"] if s["value"] is not None else 0))
        )
        evidence = [_evidence(s) for s in ranked[:MAX_EVIDENCE]]
        if data["count"] > MAX_EVIDENCE:
            evidence.append(f"… {data['count'] - MAX_EVIDENCE} more series")
        if data["count"] == 0:
            summary = "no series (the query matched nothing)"
        elif data["count"] == 1:
            summary = f"1 series: {_num(data['series'][0]['value'])}"
        else:
            summary = f"{data['count']} series; max {_num(data['max'])}, min {_num(data['min'])}"
        if kind == "range":
            summary = f"range {float(params.get('range', DEFAULT_RANGE)):g}s: {summary}"
        return ProbeResult(data, summary, evidence, cmd)
