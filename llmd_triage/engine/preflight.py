"""Preflight: ask once per distinct permission the chosen trees may need, before walking.

A walk can then mark branches it cannot evaluate as `unknown (forbidden)` up front instead of
failing late, and `llmd-triage preflight` prints the table with the `kubectl auth can-i` lines.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from llmd_triage.cluster.base import Cluster, ClusterError, TargetRef
from llmd_triage.probes.base import RbacNeed
from llmd_triage.probes.registry import Registry, default_registry
from llmd_triage.tree.model import ProbeNode, Tree


@dataclass(frozen=True)
class Permission:
    verb: str
    resource: str
    group: str
    subresource: str | None
    namespace: str | None

    @property
    def can_i(self) -> str:
        line = RbacNeed((self.verb,), self.resource, self.group, self.subresource).can_i(self.verb, self.namespace)
        return line + (" -A" if self.namespace is None and self.resource not in CLUSTER_SCOPED else "")

    def attrs(self) -> dict[str, Any]:
        out: dict[str, Any] = {"verb": self.verb, "resource": self.resource, "group": self.group}
        if self.subresource:
            out["subresource"] = self.subresource
        if self.namespace:
            out["namespace"] = self.namespace
        return out


@dataclass
class PermissionCheck:
    permission: Permission
    allowed: bool | None  # None: could not be asked
    probes: list[str]
    error: str | None = None


#: resources that live outside namespaces
CLUSTER_SCOPED = frozenset({"nodes", "namespaces", "persistentvolumes", "storageclasses", "selfsubjectaccessreviews"})


def need_namespace(need: RbacNeed, target: TargetRef) -> str | None:
    """The namespace a need applies in for this target; None for cluster-scoped resources and every namespace."""
    if need.resource in CLUSTER_SCOPED or need.scope == "*":
        return None
    return target.namespace if need.scope == "target" else need.scope


def permissions_for(
    trees: Iterable[Tree], target: TargetRef, registry: Registry | None = None
) -> dict[Permission, list[str]]:
    """Every distinct permission the trees' probes may need for this target -> the probes needing it."""
    registry = registry or default_registry()
    out: dict[Permission, list[str]] = {}
    for tree in trees:
        for node in tree.nodes.values():
            if not isinstance(node, ProbeNode):
                continue
            probe = registry.get(node.probe)
            if probe is None:
                continue
            for need in probe.needs(dict(node.params), target):
                if need.optional:
                    continue  # the probe answers without it: not a reason to skip it
                ns = need_namespace(need, target)
                for verb in need.verbs:
                    perm = Permission(verb, need.resource, need.group, need.subresource, ns)
                    out.setdefault(perm, [])
                    if node.probe not in out[perm]:
                        out[perm].append(node.probe)
    return out


async def preflight(
    trees: Iterable[Tree], target: TargetRef, cluster: Cluster, registry: Registry | None = None
) -> list[PermissionCheck]:
    perms = permissions_for(trees, target, registry)
    review = getattr(cluster, "self_subject_access_review", None)

    async def check(perm: Permission, probes: list[str]) -> PermissionCheck:
        if review is None:
            return PermissionCheck(perm, None, probes, "this cluster cannot answer access reviews (a snapshot)")
        try:
            return PermissionCheck(perm, await review(perm.attrs()), probes)
        except ClusterError as exc:
            return PermissionCheck(perm, None, probes, exc.message)

    return list(await asyncio.gather(*(check(p, probes) for p, probes in perms.items())))


def forbidden_probes(checks: Iterable[PermissionCheck]) -> dict[str, str]:
    """probe name -> why it cannot run, for walk(forbidden=...)."""
    out: dict[str, str] = {}
    for c in checks:
        if c.allowed is False:
            for probe in c.probes:
                out.setdefault(
                    probe,
                    f"not allowed to {c.permission.verb} {c.permission.resource}"
                    + (f"/{c.permission.subresource}" if c.permission.subresource else "")
                    + f"; check with: {c.permission.can_i}",
                )
    return out
