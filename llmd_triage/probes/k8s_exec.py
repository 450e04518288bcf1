"""Run a read-only diagnostic in a pod: argv only, never a shell string; timeout and output cap."""

from __future__ import annotations

import shlex
from typing import Any

from llmd_triage.cluster.base import Cluster, ClusterError, TargetRef
from llmd_triage.parsers import parser_names, safe_parse
from llmd_triage.probes.allowlist import current_policy, refusal_hint
from llmd_triage.probes.base import Probe, ProbeFailure, ProbeResult, RbacNeed, target_namespace, target_pod


class Exec(Probe):
    name = "k8s.exec"
    description = "Run argv in a pod's container; binds {exit_code, stdout, stderr, parsed}."
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["argv"],
        "properties": {
            "pod": {"type": "string"},
            "namespace": {"type": "string"},
            "container": {"type": ["string", "null"]},
            "argv": {"type": "array", "minItems": 1, "items": {"type": "string"}},
            "parser": {"type": "string"},
            "limit_bytes": {"type": "integer", "minimum": 1024, "maximum": 67108864},
        },
    }
    rbac = (RbacNeed(("create",), "pods", subresource="exec"), RbacNeed(("get",), "pods"))

    def policy_problems(self, params: dict[str, Any]) -> list[str]:
        problem = current_policy().check([str(a) for a in params.get("argv") or []])
        return [problem] if problem else []

    async def run(self, params: dict[str, Any], target: TargetRef, cluster: Cluster) -> ProbeResult:
        ns, pod = target_namespace(params, target, cluster), target_pod(params, target)
        container, argv = params.get("container"), [str(a) for a in params["argv"]]
        if problem := current_policy().check(argv):
            raise ProbeFailure("refused", f"not run: {problem}", refusal_hint(argv))
        parser = params.get("parser")
        if parser and parser not in parser_names():
            raise ProbeFailure("error", f"no parser named {parser!r}", f"known parsers: {', '.join(parser_names())}")
        cmd = f"kubectl exec -n {ns} {pod}" + (f" -c {container}" if container else "") + " -- " + shlex.join(argv)
        try:
            res = await cluster.exec(ns, pod, container, argv, limit_bytes=params.get("limit_bytes", 1_048_576))
        except ClusterError as exc:
            raise ProbeFailure.from_cluster(exc, cmd) from None
        if res.exit_code in (126, 127):
            raise ProbeFailure(
                "exec_failed",
                f"`{argv[0]}` could not be run in {pod}/{container or 'default container'} (exit {res.exit_code})",
                f"the container image lacks {argv[0]}; run it from a pod that has it: {cmd}",
            )
        data: dict[str, Any] = {
            "exit_code": res.exit_code,
            "stdout": res.stdout,
            "stderr": res.stderr,
            "truncated": res.truncated,
            "parsed": None,
        }
        if parser:
            # some tools report "nothing found" on stderr only (ibv_devinfo: "No IB devices found")
            data["parsed"] = safe_parse(parser, res.stdout if res.stdout.strip() else res.stderr)
        lines = res.stdout.splitlines()
        summary = f"`{shlex.join(argv)}` exited {res.exit_code}, {len(lines)} lines"
        return ProbeResult(data, summary, lines[:15], cmd)
