"""`llmd-triage rbac`: every permission the chosen trees' probes declare is granted, and nothing more.

Checked with a small RBAC evaluator (tests/integration/rbac_eval.py) over the printed YAML: each probe
node's needs, the walk target, scan's discovery and run's preflight are allowed; taking any one
(apiGroup, resource, verb) out of any rule denies one of them. test_rbac_live.py then serves the demo
from the loopback API server with only these rules and runs a whole scan through the real client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from llmd_triage.cli.main import load_tree_set, main
from llmd_triage.cluster.base import TargetRef
from llmd_triage.engine.preflight import CLUSTER_SCOPED
from llmd_triage.probes.registry import default_registry
from llmd_triage.tree.model import ProbeNode
from tests.integration.rbac_eval import allowing, entries, grants_from_yaml, without

ROOT = Path(__file__).resolve().parents[2]
TREES = load_tree_set(ROOT / "trees")
OTHER_NS = "gpu-operator"  # where node pods live: a need across namespaces must hold there too
NS = "llm-d"


def rbac_yaml(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["rbac", *args]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    return out.out


Request = tuple[str, str, str, str, str, str]  # verb, group, resource, subresource, namespace, why


def requests(
    tree_ids: list[str], namespace: str | None, *, workloads: bool = False, remediation: bool = False
) -> list[Request]:
    """What the trees may ask the API server, as (verb, group, resource, subresource, namespace, why); a need
    across namespaces is asked in a namespace that is not the target's."""
    target_ns = namespace or NS
    out: list[Request] = []

    def add(verb: str, group: str, resource: str, sub: str | None, scope: str, why: str) -> None:
        if resource in CLUSTER_SCOPED:
            out.append((verb, group, resource, sub or "", "", why))
        elif scope == "*":
            out.append((verb, group, resource, sub or "", OTHER_NS, why))
            out.append((verb, group, resource, sub or "", "", why + " (every namespace)"))
        else:
            out.append((verb, group, resource, sub or "", target_ns if scope == "target" else scope, why))

    reg = default_registry()
    for tid in tree_ids:
        tree = TREES[tid]
        for kind in tree.applies_to:
            target = TargetRef(kind, "x", None if kind == "node" else target_ns)
            add("get", "", "pods" if kind == "pod" else "nodes", None, "target", f"{tid}: target")
            for node in tree.nodes.values():
                if isinstance(node, ProbeNode):
                    probe = reg.get(node.probe)
                    assert probe is not None
                    for need in probe.needs(dict(node.params), target):
                        for verb in need.verbs:
                            add(verb, need.group, need.resource, need.subresource, need.scope, f"{tid}/{node.id}")
    add("list", "", "pods", None, "target" if namespace else "*", "scan discovery")
    add("list", "", "nodes", None, "*", "scan discovery")
    add("create", "authorization.k8s.io", "selfsubjectaccessreviews", None, "*", "preflight")
    if workloads:
        for group, resource in (
            ("apps", "deployments"),
            ("apps", "statefulsets"),
            ("apps", "daemonsets"),
            ("leaderworkerset.x-k8s.io", "leaderworkersets"),
        ):
            add("get", group, resource, None, "target", "workload")
        add("list", "", "pods", None, "target", "workload pods")
    if remediation:
        add("patch", "", "nodes", None, "*", "cordon")
        add("create", "", "pods", "eviction", "*", "drain")
        add("delete", "", "pods", None, "target", "delete pod")
    return out


def denied(grants: Any, reqs: list[Request]) -> list[Request]:
    return [r for r in reqs if not allowing(grants, r[0], r[1], r[2], r[3], r[4])]


CASES = [
    ([], ["gpu-xid", "oom-kill", "p2p-disabled", "rdma-link-down", "slow-model-load"], None),
    (["-n", NS], ["gpu-xid", "oom-kill", "p2p-disabled", "rdma-link-down", "slow-model-load"], NS),
    (["--tree", "oom-kill"], ["oom-kill"], None),
    (["--tree", "slow-model-load", "-n", NS], ["slow-model-load"], NS),
    (
        ["--with-remediation", "--workloads", "-n", NS],
        ["gpu-xid", "oom-kill", "p2p-disabled", "rdma-link-down", "slow-model-load"],
        NS,
    ),
]


@pytest.mark.parametrize("args,tree_ids,namespace", CASES, ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_every_need_is_allowed_and_nothing_more(
    args: list[str], tree_ids: list[str], namespace: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    grants = grants_from_yaml(rbac_yaml(capsys, *args))
    reqs = requests(tree_ids, namespace, workloads="--workloads" in args, remediation="--with-remediation" in args)
    assert denied(grants, reqs) == []
    for entry in entries(grants):
        assert denied(without(grants, entry), reqs), f"{entry} is granted but nothing needs it"


def test_read_only_but_exec_and_access_reviews(capsys: pytest.CaptureFixture[str]) -> None:
    text = rbac_yaml(capsys)
    docs = [d for d in yaml.safe_load_all(text) if d]
    assert [d["kind"] for d in docs] == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"]
    assert docs[0]["metadata"] == {
        "name": "llmd-triage",
        "namespace": "llmd-triage",
        "labels": docs[0]["metadata"]["labels"],
    }
    writes = set()
    for rule in docs[1]["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"]
        assert "watch" not in rule["verbs"]  # never used: each LIST happens once per run
        writes |= {(r, v) for r in rule["resources"] for v in rule["verbs"] if v not in ("get", "list")}
    assert writes == {("pods/exec", "create"), ("selfsubjectaccessreviews", "create")}
    assert "create on pods/exec is not a read" in text
    subject = docs[2]["subjects"][0]
    assert subject == {"kind": "ServiceAccount", "name": "llmd-triage", "namespace": "llmd-triage"}


def test_namespace_puts_target_reads_in_a_role(capsys: pytest.CaptureFixture[str]) -> None:
    docs = [d for d in yaml.safe_load_all(rbac_yaml(capsys, "-n", NS, "--service-account", "triage")) if d]
    assert [d["kind"] for d in docs] == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]
    role = docs[3]
    assert role["metadata"]["namespace"] == NS
    role_resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert {"pods/log", "persistentvolumeclaims"} <= role_resources and "nodes" not in role_resources
    cluster_resources = {(r, v) for rule in docs[1]["rules"] for r in rule["resources"] for v in rule["verbs"]}
    # node pods sit in the operators' namespaces: exec there and the cross-namespace list are cluster-wide
    assert ("pods/exec", "create") in cluster_resources and ("pods", "list") in cluster_resources
    assert docs[4]["subjects"][0] == {"kind": "ServiceAccount", "name": "triage", "namespace": NS}


def test_remediation_writes_only_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    def verbs(text: str) -> set[tuple[str, str]]:
        return {
            (r, v)
            for d in yaml.safe_load_all(text)
            if d and d["kind"] in ("ClusterRole", "Role")
            for rule in d["rules"]
            for r in rule["resources"]
            for v in rule["verbs"]
        }

    plain, fixing = verbs(rbac_yaml(capsys)), verbs(rbac_yaml(capsys, "--with-remediation"))
    assert fixing - plain == {("nodes", "patch"), ("pods/eviction", "create"), ("pods", "delete")}


def test_remediation_grants_follow_the_declared_action_kinds() -> None:
    """Only what the chosen trees' actions write: slow-model-load declares none, gpu-xid cordons and drains."""
    from llmd_triage.engine.rbac import remediation_needs

    trees = load_tree_set(Path(__file__).resolve().parents[2] / "trees")

    def grants(*ids: str) -> set[tuple[str, str, str]]:
        return {
            (n.resource + (f"/{n.subresource}" if n.subresource else ""), v, n.group)
            for n, _ in remediation_needs([trees[i] for i in ids])
            for v in n.verbs
        }

    assert grants("slow-model-load", "p2p-disabled", "rdma-link-down") == set()
    assert grants("oom-kill") == {("pods", "delete", "")}
    assert ("pods/eviction", "create", "") in grants("gpu-xid") and ("nodes", "patch", "") in grants("gpu-xid")
    assert not {g for g in grants("gpu-xid", "oom-kill") if g[2] == "apps"}  # no tree restarts or scales
