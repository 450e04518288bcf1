"""The Probe contract: a name, a JSON Schema for parameters, the RBAC it needs, and an async run.

A probe reads through a Cluster and returns plain data (what conditions see), a one-line
summary and the evidence lines that matter. Failures are ProbeFailure, which the engine turns
into an `unknown` branch; a probe never lets a traceback reach the user.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from llmd_triage.cluster.base import Cluster, ClusterError, TargetRef

HINTS = {
    "forbidden": "your credentials may not read this; check with the `kubectl auth can-i` line",
    "unauthorized": "credentials were rejected; refresh them (e.g. re-login to the cluster)",
    "not_found": "the object is gone or the name is wrong; list it with kubectl",
    "not_installed": "the cluster does not serve this resource (its CRD or operator is not installed)",
    "timeout": "the read took too long; retry, or run the command by hand",
    "unavailable": "the API server could not be reached; check connectivity and the context",
    "garbage": "the answer could not be understood; run the command by hand and read it",
    "exec_failed": "the command failed in the pod; run it by hand",
    "not_captured": "the snapshot did not record this; run the command on the live cluster",
    "refused": "the command is outside the read-only allowlist; read the tree, then allow it with --allow-exec",
    "error": "run the command by hand",
}


class ProbeFailure(Exception):
    """A probe that could not produce a result; `kind` as in cluster.base.FAILURE_KINDS."""

    def __init__(self, kind: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.hint = hint or HINTS.get(kind, HINTS["error"])

    @classmethod
    def from_cluster(cls, exc: ClusterError, manual: str | None = None) -> ProbeFailure:
        hint = exc.hint or HINTS.get(exc.kind, HINTS["error"])
        if manual and manual not in hint:
            hint = f"{hint}; by hand: {manual}"
        return cls(exc.kind, exc.message, hint)

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message, "hint": self.hint}


@dataclass
class ProbeResult:
    data: Any
    summary: str
    evidence: list[str] = field(default_factory=list)
    #: the command a person would run to see the same thing
    command: str | None = None


@dataclass(frozen=True)
class RbacNeed:
    """A permission a probe needs. `scope` says where, for namespaced resources: `target` (the walk target's
    namespace), `*` (every namespace: a ClusterRole), or a namespace name; cluster-scoped resources ignore it.
    `optional`: the probe still answers without it, with less detail (preflight does not skip the probe for
    it; `llmd-triage rbac` grants it)."""

    verbs: tuple[str, ...]
    resource: str
    group: str = ""
    subresource: str | None = None
    scope: str = "target"
    optional: bool = False

    def can_i(self, verb: str, namespace: str | None) -> str:
        """The kubectl line a person runs to check this permission by hand."""
        res = self.resource + (f".{self.group}" if self.group else "")
        sub = f" --subresource={self.subresource}" if self.subresource else ""
        ns = f" -n {namespace}" if namespace else ""
        return f"kubectl auth can-i {verb} {res}{sub}{ns}"

    def scoped(self, scope: str) -> RbacNeed:
        return RbacNeed(self.verbs, self.resource, self.group, self.subresource, scope, self.optional)


def is_template(value: Any) -> bool:
    """A parameter computed at walk time (`{{ ... }}`), so unknown when permissions are planned."""
    return isinstance(value, str) and "{{" in value


def namespace_scope(params: dict[str, Any], key: str = "namespace") -> str:
    """Where a probe reads, from its `namespace` parameter: the target's, every namespace ('*' or a value only
    known at walk time), or the one named."""
    value = params.get(key)
    if value is None or value == "":
        return "target"
    if value == "*" or is_template(value):
        return "*"
    return str(value)


class Probe(ABC):
    """Subclass, set the class attributes, implement run(); the registry finds it by module."""

    name: ClassVar[str]
    description: ClassVar[str]
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {},
    }
    rbac: ClassVar[tuple[RbacNeed, ...]] = ()
    parser: ClassVar[str | None] = None

    def needs(self, params: dict[str, Any], target: TargetRef) -> tuple[RbacNeed, ...]:
        """The permissions this probe needs with these parameters (values may be `{{ }}` templates, known only
        during a walk). Default: the class's `rbac`, in the namespace the `namespace` parameter names."""
        scope = namespace_scope(params)
        return tuple(n if n.scope != "target" else n.scoped(scope) for n in self.rbac)

    def policy_problems(self, params: dict[str, Any]) -> list[str]:
        """Why these parameters may not run under the trust policy (an exec outside the allowlist); lint asks
        with the literal parameters, the probe asks again with the rendered ones before it runs."""
        return []

    @abstractmethod
    async def run(self, params: dict[str, Any], target: TargetRef, cluster: Cluster) -> ProbeResult: ...


def target_namespace(params: dict[str, Any], target: TargetRef, cluster: Cluster) -> str:
    return params.get("namespace") or target.namespace or cluster.default_namespace


async def read_pod(params: dict[str, Any], target: TargetRef, cluster: Cluster) -> tuple[dict[str, Any], str]:
    """The pod a probe is about, and the kubectl line to read it by hand; a failure or a non-Pod is a
    ProbeFailure that names that line."""
    ns, name = target_namespace(params, target, cluster), target_pod(params, target)
    cmd = f"kubectl get pod -n {ns} {name} -o yaml"
    try:
        pod = await cluster.get("v1", "Pod", name, ns)
    except ClusterError as exc:
        raise ProbeFailure.from_cluster(exc, cmd) from None
    if (
        not isinstance(pod, dict)
        or not isinstance(pod.get("spec", {}), dict)
        or not isinstance(pod.get("status", {}), dict)
    ):
        raise ProbeFailure("garbage", f"pod {name} came back in a shape that is not a Pod", cmd)
    return pod, cmd


def target_pod(params: dict[str, Any], target: TargetRef) -> str:
    pod = params.get("pod") or (target.name if target.kind == "pod" else None)
    if not pod:
        raise ProbeFailure("error", "no pod given and the target is not a pod", "name the pod in the probe's params")
    return str(pod)
