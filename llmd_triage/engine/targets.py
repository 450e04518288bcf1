"""Workload targets resolved to their pods, so `run --target deploy/NAME` walks the pod trees on each pod.

A Deployment, StatefulSet, DaemonSet or ReplicaSet by its own label selector; a LeaderWorkerSet by the
label every pod of its groups carries (`leaderworkerset.sigs.k8s.io/name`: leader and workers alike).
The trees stay about pods and nodes; this is the one place that knows how workloads own pods.
"""

from __future__ import annotations

from typing import Any

from llmd_triage.cluster.base import Cluster, ClusterError, TargetRef

LWS_NAME_LABEL = "leaderworkerset.sigs.k8s.io/name"
LWS_WORKER_INDEX_LABEL = "leaderworkerset.sigs.k8s.io/worker-index"


def selector_string(selector: dict[str, Any] | None) -> str:
    """A LabelSelector object as the `-l` string the API server takes."""
    selector = selector or {}
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or []:
        key, op, values = e.get("key", ""), e.get("operator", ""), ",".join(e.get("values") or [])
        if op == "In":
            terms.append(f"{key} in ({values})")
        elif op == "NotIn":
            terms.append(f"{key} notin ({values})")
        elif op == "Exists":
            terms.append(key)
        elif op == "DoesNotExist":
            terms.append(f"!{key}")
    return ",".join(terms)


def _pod_order(pod: dict[str, Any]) -> tuple[Any, ...]:
    """Leaders before their workers, then by name."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    index = labels.get(LWS_WORKER_INDEX_LABEL)
    return (int(index) if str(index).isdigit() else 0, (pod.get("metadata") or {}).get("name", ""))


async def workload_pods(cluster: Cluster, target: TargetRef) -> list[tuple[TargetRef, dict[str, Any]]]:
    """The pods of a workload target, leaders first. ClusterError when the workload cannot be read;
    not_found with a hint when it has no pods."""
    ns = target.namespace or cluster.default_namespace
    if target.resource_kind == "LeaderWorkerSet":
        selector = f"{LWS_NAME_LABEL}={target.name}"
        pods = await cluster.list("v1", "Pod", ns, selector)
        if not pods:
            await cluster.get(target.api_version, target.resource_kind, target.name, ns)  # not_found says it best
    else:
        obj = await cluster.get(target.api_version, target.resource_kind, target.name, ns)
        selector = selector_string((obj.get("spec") or {}).get("selector"))
        if not selector:
            raise ClusterError(
                "garbage",
                f"{target.resource_kind} {target.name} has no pod selector",
                f"kubectl get {target.resource_kind.lower()} -n {ns} {target.name} -o yaml",
            )
        pods = await cluster.list("v1", "Pod", ns, selector)
    if not pods:
        raise ClusterError(
            "not_found",
            f"{target.resource_kind} {target.name} in namespace {ns} has no pods",
            f"kubectl get pods -n {ns} -l {selector}",
        )
    out = []
    for pod in sorted(pods, key=_pod_order):
        name = (pod.get("metadata") or {}).get("name", "")
        out.append((TargetRef("pod", name, (pod.get("metadata") or {}).get("namespace") or ns), pod))
    return out
