"""`llmd-triage rbac` applied to the loopback API server's authorizer: with its rules as the only
permissions, a whole scan of the bundled demo and a preflighted run go through the real client with no
request denied; every rule those runs used was the only one allowing some request; and taking the
pods/exec rule away turns the exec steps into `unknown (forbidden)`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmd_triage.cli.main import main
from llmd_triage.cluster.snapshot import load_snapshot
from tests.integration.apiserver import FakeApiServer, JournalEntry
from tests.integration.rbac_eval import Entry, Grant, allowing, entries, grants_from_yaml

ROOT = Path(__file__).resolve().parents[2]
BUNDLED_DEMO = ROOT / "trees" / "snapshots" / "demo"
DECODE = "qwen3-32b-decode-5f7d9c8b6-7xk2p"


def _rbac(capsys: pytest.CaptureFixture[str], *args: str) -> list[Grant]:
    assert main(["rbac", *args]) == 0
    return grants_from_yaml(capsys.readouterr().out)


def _serve(grants: list[Grant]) -> FakeApiServer:
    srv = FakeApiServer(load_snapshot(BUNDLED_DEMO))
    srv.authorize = lambda verb, group, res, sub, ns, name: bool(allowing(grants, verb, group, res, sub, ns, name))
    return srv.start()


def _json(capsys: pytest.CaptureFixture[str], argv: list[str], expect: int) -> dict[str, Any]:
    assert main(argv) == expect
    return json.loads(capsys.readouterr().out)


def _steps(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for w in report["walks"] for s in w["steps"]]


def test_rbac_rules_allow_a_whole_scan_and_run_and_nothing_more(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grants = _rbac(capsys)
    srv = _serve(grants)
    try:
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig", namespace="llm-d-demo"))
        reports = [
            _json(capsys, ["scan", "--kubeconfig", kc, "-A", "-q", "-o", "json"], 1),
            _json(capsys, ["run", "--kubeconfig", kc, "--target", f"pod/{DECODE}", "-q", "-o", "json"], 1),
            _json(capsys, ["run", "--kubeconfig", kc, "--target", "node/gpu-node-c", "-q", "-o", "json"], 1),
        ]
        journal: list[JournalEntry] = list(srv.journal)
    finally:
        srv.stop()
    resource_requests = [j for j in journal if j.attrs is not None]
    assert resource_requests and all(j.allowed for j in resource_requests), [
        j.attrs for j in resource_requests if not j.allowed
    ]
    assert not [j for j in journal if j.status in (401, 403)]
    # no step went unknown for want of a permission (preflight found none denied either)
    assert not [s for r in reports for s in _steps(r) if (s.get("error") or {}).get("kind") == "forbidden"]
    assert any(j.verb == "exec" for j in journal) and any(j.verb == "logs" for j in journal)
    # nothing more: each entry the runs used was the only one allowing some request, so without it that
    # request is denied; an entry no request used is needed by a probe node the demo never reached
    used: set[Entry] = set()
    for j in resource_requests:
        assert j.attrs is not None
        verb, group, res, sub, ns, _name = j.attrs
        combined = f"{res}/{sub}" if sub else res
        matching = [
            e
            for e in entries(allowing(grants, verb, group, res, sub, ns))
            if e.verb == verb and e.group == group and e.resource == combined
        ]
        assert len(matching) == 1, (j.attrs, matching)
        used |= set(matching)
    visited = {n for r in reports for w in r["walks"] for n in w["path"]}
    for e in set(entries(grants)) - used:
        # e.g. NicClusterPolicy and NetworkAttachmentDefinition lists, on rdma-link-down branches the demo skips
        assert _needed_by_an_unvisited_probe(e, visited), f"{e} is granted but neither used nor needed"


def _needed_by_an_unvisited_probe(e: Entry, visited: set[str]) -> bool:
    from llmd_triage.cli.main import load_tree_set
    from llmd_triage.cluster.base import TargetRef
    from llmd_triage.probes.registry import default_registry
    from llmd_triage.tree.model import ProbeNode

    reg = default_registry()
    for tree in load_tree_set(ROOT / "trees").values():
        for node in tree.nodes.values():
            if not isinstance(node, ProbeNode) or node.id in visited:
                continue
            probe = reg.get(node.probe)
            for kind in tree.applies_to:
                for need in probe.needs(dict(node.params), TargetRef(kind, "x", "ns")) if probe else ():
                    res = need.resource + (f"/{need.subresource}" if need.subresource else "")
                    if (need.group, res) == (e.group, e.resource) and e.verb in need.verbs:
                        return True
    return False


def test_without_the_exec_rule_exec_steps_are_forbidden(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grants = _rbac(capsys)
    stripped = []
    for g in grants:
        rule = dict(g.rule, resources=[r for r in g.rule["resources"] if r != "pods/exec"])
        if rule["resources"]:
            stripped.append(Grant(g.namespace, rule, g.index))
    srv = _serve(stripped)
    try:
        kc = str(srv.write_kubeconfig(tmp_path / "kubeconfig", namespace="llm-d-demo"))
        target = ["--target", f"pod/{DECODE}", "--tree", "oom-kill", "-q", "-o", "json"]
        checked = _json(capsys, ["run", "--kubeconfig", kc, *target], 0)  # preflight: skipped up front
        raw = _json(capsys, ["run", "--kubeconfig", kc, "--no-preflight", *target], 0)  # the API server's 403
        journal = list(srv.journal)
    finally:
        srv.stop()
    for report in (checked, raw):
        shm = next(s for s in _steps(report) if s["node"] == "list-shm")
        assert shm["status"] == "unknown" and shm["error"]["kind"] == "forbidden"
        hint = shm["error"]["hint"]  # the can-i line, in the namespace asked (not across all of them)
        assert "kubectl auth can-i create pods" in hint and "exec -n llm-d-demo" in hint
    assert [j.attrs for j in journal if j.status == 403] == [("create", "", "pods", "exec", "llm-d-demo", DECODE)]


def test_debug_pod_rules_let_a_walk_make_use_and_delete_its_pod(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`rbac --with-debug-pods NS` is enough for --allow-debug-pods on a node without node pods."""
    grants = _rbac(capsys, "--tree", "gpu-xid", "--with-debug-pods", "llmd-debug")
    data = load_snapshot(BUNDLED_DEMO)
    dmesg = next(
        r for r in data.execs if r.get("pod") == "nvidia-driver-daemonset-z6k9d" and r["argv"] == ["dmesg", "-T"]
    )
    data.objects = {k: v for k, v in data.objects.items() if k[1] != "gpu-operator"}  # no node pod anywhere
    data.execs.append(
        {"pod": "*", "argv": ["chroot", "/host", "dmesg", "-T"], "stdout": dmesg["stdout"], "exit_code": 0}
    )
    srv = FakeApiServer(data)
    srv.authorize = lambda verb, group, res, sub, ns, name: bool(allowing(grants, verb, group, res, sub, ns, name))
    srv.allow_pod_writes = True
    srv.start()
    try:
        kc = srv.write_kubeconfig(tmp_path / "kubeconfig", namespace="llm-d-demo")
        argv = ["run", "--kubeconfig", str(kc), "--tree", "gpu-xid", "--target", "node/gpu-node-c", "-o", "json", "-q"]
        report = _json(capsys, [*argv, "--allow-debug-pods", "--debug-namespace", "llmd-debug"], 1)
    finally:
        srv.stop()
    klog = next(s for s in _steps(report) if s["node"] == "read-kernel-log")
    assert klog["status"] == "ok" and "debug pod" in klog["summary"]
    assert srv.created_pods and srv.deleted_pods == srv.created_pods
    assert all(p.startswith("llmd-debug/") for p in srv.created_pods)
    assert not [j for j in srv.journal if j.status == 403]
