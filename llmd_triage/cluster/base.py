"""The read-only Cluster protocol every backend (snapshot, live) implements.

Probes talk only to this; failures are ClusterError with a `kind` the engine can turn into an
`unknown` branch plus a hint for checking by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

#: kinds of failure; each maps to one sentence of what to check by hand
FAILURE_KINDS = (
    "forbidden",
    "unauthorized",
    "not_found",
    "not_installed",
    "timeout",
    "unavailable",
    "garbage",
    "exec_failed",
    "not_captured",
    "refused",
    "error",
)


class ClusterError(Exception):
    """A read that did not work. `kind` is one of FAILURE_KINDS; `hint` says what to check by hand."""

    def __init__(self, kind: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind if kind in FAILURE_KINDS else "error"
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class TargetRef:
    """What a walk is about: `pod/NAME`, `node/NAME`, or a workload like `deploy/NAME`."""

    kind: str  # pod | node | workload
    name: str
    namespace: str | None = None
    api_version: str = "v1"
    #: The API kind behind `kind`; left empty, it follows from `kind` so a `node/NAME` target can never be read
    #: as a Pod by accident.
    resource_kind: str = ""

    def __post_init__(self) -> None:
        if not self.resource_kind:
            object.__setattr__(self, "resource_kind", "Node" if self.kind == "node" else "Pod")

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "namespace": self.namespace,
            "apiVersion": self.api_version,
            "resourceKind": self.resource_kind,
        }


WORKLOAD_KINDS: dict[str, tuple[str, str]] = {
    "deploy": ("apps/v1", "Deployment"),
    "deployment": ("apps/v1", "Deployment"),
    "sts": ("apps/v1", "StatefulSet"),
    "statefulset": ("apps/v1", "StatefulSet"),
    "ds": ("apps/v1", "DaemonSet"),
    "daemonset": ("apps/v1", "DaemonSet"),
    "lws": ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet"),
    "leaderworkerset": ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet"),
}


def parse_target(text: str, namespace: str | None = None) -> TargetRef:
    """Parse `pod/NAME`, `node/NAME`, `deploy/NAME`, `lws/NAME`; raises ValueError with the accepted forms."""
    kind, sep, name = text.partition("/")
    kind = kind.strip().lower()
    name = name.strip()
    if not sep or not name or "/" in name:
        raise ValueError(f"target {text!r} is not KIND/NAME (e.g. pod/vllm-decode-0, node/gpu-node-1, lws/NAME)")
    if kind in ("pod", "pods", "po"):
        return TargetRef("pod", name, namespace, "v1", "Pod")
    if kind in ("node", "nodes", "no"):
        return TargetRef("node", name, None, "v1", "Node")
    if kind in WORKLOAD_KINDS:
        api_version, rkind = WORKLOAD_KINDS[kind]
        return TargetRef("workload", name, namespace, api_version, rkind)
    accepted = "pod, node, " + ", ".join(sorted({k for k in WORKLOAD_KINDS if len(k) <= 6}))
    raise ValueError(f"target kind {kind!r} is not one of: {accepted}")


@dataclass
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str = ""
    truncated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Cluster(Protocol):
    """Read-only access. No method here may change cluster state."""

    #: a name for reports: the kubeconfig context, or `snapshot:NAME`
    name: str
    #: the namespace used when a target names none
    default_namespace: str
    #: a Prometheus to query (llmd_triage.cluster.prometheus.MetricsSource), or None when none is configured
    prometheus: Any

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]: ...

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]: ...

    async def logs(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        previous: bool = False,
        tail_lines: int | None = None,
        limit_bytes: int | None = None,
        since_seconds: int | None = None,
    ) -> str: ...

    async def pod_proxy(self, namespace: str, pod: str, port: int, path: str = "/metrics") -> str:
        """GET a path on a pod's port through the API server's proxy (e.g. vLLM's /metrics)."""
        ...

    async def exec(
        self,
        namespace: str,
        pod: str,
        container: str | None,
        argv: list[str],
        timeout: float = 20.0,
        limit_bytes: int = 1_048_576,
    ) -> ExecResult: ...


@runtime_checkable
class ClusterWriter(Protocol):
    """The few writes a confirmed remediation needs. Only a live cluster has them; a snapshot never does, so an
    action is never offered there. `dry_run` asks the API server to check the write without persisting it."""

    #: kubeconfig user the writes are made as, for the audit log
    user: str

    async def patch(
        self, api_version: str, kind: str, name: str, namespace: str | None, patch: dict[str, Any], *, dry_run: bool
    ) -> dict[str, Any]: ...

    async def delete(
        self, api_version: str, kind: str, name: str, namespace: str | None, *, dry_run: bool
    ) -> dict[str, Any]: ...

    async def evict(self, namespace: str, name: str, *, dry_run: bool) -> dict[str, Any]: ...

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]: ...

    async def read_fresh(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        """A GET that skips the per-run cache: an action decides on the object as it is now."""
        ...
