"""A small RBAC evaluator for tests: does a set of PolicyRules, bound cluster-wide (ClusterRole +
ClusterRoleBinding) or in one namespace (Role + RoleBinding), allow a request? The same rules as the
Kubernetes RBAC authorizer: apiGroups, resources (with `pods/log` subresources, `*`, `pods/*`, `*/log`),
verbs and resourceNames; a Role applies only to requests in its namespace."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Entry:
    """One (apiGroup, resource, verb) of one rule: the unit a minimality check removes."""

    binding: str  # "cluster" or the Role's namespace
    rule: int
    group: str
    resource: str
    verb: str


@dataclass(frozen=True)
class Grant:
    namespace: str | None  # None: bound by a ClusterRoleBinding
    rule: dict[str, Any]
    index: int


def grants_from_yaml(text: str) -> list[Grant]:
    """The rules the rbac output binds: ClusterRoles bound by a ClusterRoleBinding, Roles by a RoleBinding."""
    docs = [d for d in yaml.safe_load_all(text) if d]
    roles = {
        (d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d
        for d in docs
        if d["kind"] in ("ClusterRole", "Role")
    }
    out: list[Grant] = []
    for d in docs:
        if d["kind"] not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        ref = d["roleRef"]
        ns = d["metadata"].get("namespace") if d["kind"] == "RoleBinding" else None
        role = roles[(ref["kind"], ns if ref["kind"] == "Role" else None, ref["name"])]
        for rule in role.get("rules") or []:
            out.append(Grant(ns, rule, len(out)))
    return out


def _resource_matches(rule_resources: Iterable[str], resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for r in rule_resources:
        if r == "*" or r == combined:
            return True
        if subresource and (r == f"{resource}/*" or r == f"*/{subresource}"):
            return True
    return False


def rule_allows(
    rule: dict[str, Any], verb: str, group: str, resource: str, subresource: str = "", name: str = ""
) -> bool:
    verbs, groups = rule.get("verbs") or [], rule.get("apiGroups") or []
    if "*" not in verbs and verb not in verbs:
        return False
    if "*" not in groups and group not in groups:
        return False
    if not _resource_matches(rule.get("resources") or [], resource, subresource):
        return False
    names = rule.get("resourceNames") or []
    return not names or name in names


def allowing(
    grants: Iterable[Grant],
    verb: str,
    group: str,
    resource: str,
    subresource: str = "",
    namespace: str = "",
    name: str = "",
) -> list[Grant]:
    """The grants that allow a request (empty: denied). `namespace` is empty for cluster-scoped resources and
    for requests across every namespace."""
    return [
        g
        for g in grants
        if (g.namespace is None or (namespace and g.namespace == namespace))
        and rule_allows(g.rule, verb, group, resource, subresource, name)
    ]


def entries(grants: Iterable[Grant]) -> list[Entry]:
    return [
        Entry(g.namespace or "cluster", g.index, group, resource, verb)
        for g in grants
        for group in g.rule.get("apiGroups") or []
        for resource in g.rule.get("resources") or []
        for verb in g.rule.get("verbs") or []
    ]


def without(grants: list[Grant], entry: Entry) -> list[Grant]:
    """The grants with one (apiGroup, resource, verb) taken out of one rule."""
    out = []
    for g in grants:
        if g.index != entry.rule:
            out.append(g)
            continue
        rule = dict(g.rule)
        if len(rule["resources"]) > 1:
            rule["resources"] = [r for r in rule["resources"] if r != entry.resource]
            out.append(Grant(g.namespace, rule, g.index))
            rest = dict(g.rule, resources=[entry.resource], verbs=[v for v in g.rule["verbs"] if v != entry.verb])
        else:
            rest = dict(rule, verbs=[v for v in rule["verbs"] if v != entry.verb])
        if rest["verbs"]:
            out.append(Grant(g.namespace, rest, g.index))
    return out
