"""A container's log, current or previous, optionally parsed; capped so a huge log cannot hurt."""

from __future__ import annotations

from typing import Any

from llmd_triage.cluster.base import Cluster, ClusterError, TargetRef
from llmd_triage.parsers import parser_names, safe_parse
from llmd_triage.probes.base import Probe, ProbeFailure, ProbeResult, RbacNeed, target_namespace, target_pod

DEFAULT_LIMIT = 8 * 1024 * 1024


class Logs(Probe):
    name = "k8s.logs"
    description = (
        "A container log (previous: the last terminated instance). With `parser`, binds the parsed data plus "
        "`lines`; without, binds {text, lines}."
    )
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "pod": {"type": "string"},
            "namespace": {"type": "string"},
            "container": {"type": ["string", "null"]},
            "previous": {"type": "boolean"},
            "tail_lines": {"type": "integer", "minimum": 1},
            "since_seconds": {"type": "integer", "minimum": 1},
            "limit_bytes": {"type": "integer", "minimum": 1024, "maximum": 268435456},
            "parser": {"type": "string", "description": "name of a log parser, e.g. vllm"},
        },
    }
    rbac = (RbacNeed(("get",), "pods", subresource="log"),)

    async def run(self, params: dict[str, Any], target: TargetRef, cluster: Cluster) -> ProbeResult:
        ns, pod = target_namespace(params, target, cluster), target_pod(params, target)
        container, previous = params.get("container"), bool(params.get("previous", False))
        parser = params.get("parser")
        if parser and parser not in parser_names():
            raise ProbeFailure("error", f"no parser named {parser!r}", f"known parsers: {', '.join(parser_names())}")
        cmd = f"kubectl logs -n {ns} {pod}" + (f" -c {container}" if container else "")
        cmd += " --previous" if previous else ""
        try:
            text = await cluster.logs(
                ns,
                pod,
                container,
                previous=previous,
                tail_lines=params.get("tail_lines"),
                limit_bytes=params.get("limit_bytes", DEFAULT_LIMIT),
                since_seconds=params.get("since_seconds"),
            )
        except ClusterError as exc:
            raise ProbeFailure.from_cluster(exc, cmd) from None
        lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
        which = "previous log" if previous else "log"
        if not parser:
            tail = text.splitlines()[-5:]
            return ProbeResult({"text": text, "lines": lines}, f"{which}: {lines} lines", tail, cmd)
        data = safe_parse(parser, text)
        data["lines"] = lines
        evidence = [f"line {e['line']}: {e['text']}" for e in data.get("evidence", [])]
        signals = sorted({e["signal"] for e in data.get("evidence", [])})
        if "evidence" not in data:  # parsers without an evidence list (nccl, ucx_nixl...) say nothing of signals
            summary = f"{which}: {lines} lines, read by the {parser} parser"
        else:
            summary = f"{which}: {lines} lines" + (f"; signals: {', '.join(signals)}" if signals else "; no signal")
        return ProbeResult(data, summary, evidence, cmd)
