"""The live backend's per-run cache answers from the LISTs it holds, exactly as the API server would.

A GET of an object in a held LIST, and a LIST with selectors in the scope of a held whole LIST, cost
no request; a kind asked for with selectors again and again in one scope is read whole once. Every
answer is compared with what the server itself gives for the same request.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmd_triage.cluster.base import ClusterError
from llmd_triage.cluster.live import SELECTOR_LISTS_BEFORE_WHOLE, KubeContext, LiveCluster
from llmd_triage.cluster.snapshot import load_snapshot
from tests.integration.apiserver import FakeApiServer

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "trees" / "snapshots" / "demo"
NS = "llm-d-demo"
DECODE = "qwen3-32b-decode-5f7d9c8b6-7xk2p"


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    srv = FakeApiServer(load_snapshot(DEMO)).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def kubeconfig(server: FakeApiServer, tmp_path: Path) -> Path:
    return server.write_kubeconfig(tmp_path / "kubeconfig", namespace=NS)


def live(kubeconfig: Path) -> LiveCluster:
    return LiveCluster(KubeContext(str(kubeconfig)), timeout=5.0)


def direct(kubeconfig: Path) -> LiveCluster:
    """A client that sends every selector LIST as it is: what the server answers."""
    c = live(kubeconfig)
    c.selector_lists_before_whole = 10**9
    return c


def names(items: list[dict[str, Any]]) -> list[str]:
    return [f"{i['metadata'].get('namespace')}/{i['metadata']['name']}" for i in items]


async def test_get_of_an_object_in_a_held_list_costs_no_request(kubeconfig: Path, server: FakeApiServer) -> None:
    c = live(kubeconfig)
    pods = await c.list("v1", "Pod", NS)
    before = len(server.journal)
    pod = await c.get("v1", "Pod", DECODE, NS)
    assert pod is next(p for p in pods if p["metadata"]["name"] == DECODE)
    assert pod["kind"] == "Pod" and pod["apiVersion"] == "v1"
    assert len(server.journal) == before
    # not in the held LIST (another namespace): asked for
    await c.get("v1", "Pod", "nvidia-driver-daemonset-h8m2x", "gpu-operator")
    assert [j.verb for j in server.journal[before:]] == ["get"]


async def test_a_node_get_is_answered_from_the_node_list(kubeconfig: Path, server: FakeApiServer) -> None:
    c = live(kubeconfig)
    await c.list("v1", "Node")
    before = len(server.journal)
    assert (await c.get("v1", "Node", "gpu-node-c"))["status"]["allocatable"]["nvidia.com/gpu"] == "7"
    assert len(server.journal) == before


@pytest.mark.parametrize(
    "namespace,labels,fields",
    [
        (None, "llm-d.ai/role=prefill", None),
        (None, None, "spec.nodeName=gpu-node-b"),
        (None, "app=nvidia-driver-daemonset", "spec.nodeName=gpu-node-c"),
        (NS, "llm-d.ai/role in (prefill,decode),llm-d.ai/model!=qwen3-32b", None),
        (NS, None, "status.phase=Running,spec.nodeName!=gpu-node-a"),
        ("gpu-operator", "app", "metadata.name=nvidia-driver-daemonset-z6k9d"),
        (NS, "!leaderworkerset.sigs.k8s.io/name", "spec.nodeName==gpu-node-a"),
        (None, None, "spec.nodeName=no-such-node"),
    ],
)
async def test_selector_lists_from_a_held_whole_list_match_the_server(
    kubeconfig: Path, server: FakeApiServer, namespace: str | None, labels: str | None, fields: str | None
) -> None:
    c = live(kubeconfig)
    await c.list("v1", "Pod")  # every namespace, as a scan with -A reads it
    before = len(server.journal)
    got = await c.list("v1", "Pod", namespace, labels, fields)
    assert len(server.journal) == before
    want = await direct(kubeconfig).list("v1", "Pod", namespace, labels, fields)
    assert names(got) == names(want)


async def test_a_kind_asked_with_selectors_again_and_again_is_read_whole_once(
    kubeconfig: Path, server: FakeApiServer
) -> None:
    c = live(kubeconfig)
    targets = ["qwen3-32b-decode-5f7d9c8b6-7xk2p", "qwen3-32b-prefill-6b8c7d9f5-w9r3t", "deepseek-r1-0", "nope"]
    before = len(server.journal)
    got = [
        await c.list("v1", "Event", NS, field_selector=f"involvedObject.name={t},involvedObject.kind=Pod")
        for t in targets
    ]
    sent = server.journal[before:]
    assert [(j.verb, "fieldSelector" in j.query) for j in sent] == [("list", True)] * SELECTOR_LISTS_BEFORE_WHOLE + [
        ("list", False)
    ]
    ref = direct(kubeconfig)
    for t, items in zip(targets, got, strict=True):
        want = await ref.list("v1", "Event", NS, field_selector=f"involvedObject.name={t},involvedObject.kind=Pod")
        assert names(items) == names(want)
    assert got[0] and not got[-1]


async def test_one_object_asked_about_with_many_selectors_never_reads_the_whole_kind(
    kubeconfig: Path, server: FakeApiServer
) -> None:
    """A walk of one target asks for the pods on its node five times (one label selector per kind of node
    pod): five small LISTs, not every pod of the cluster."""
    c = live(kubeconfig)
    labels = ["app.kubernetes.io/name=llmd-triage-toolbox", "app=nvidia-driver-daemonset", "app=nvidia-dcgm-exporter",
              "app=mofed-ubuntu22.04-ds", "nvidia.com/ofed-driver"]  # fmt: skip
    before = len(server.journal)
    for label in labels:
        await c.list("v1", "Pod", None, label, "spec.nodeName=gpu-node-c")
    sent = server.journal[before:]
    assert len(sent) == 5 and all("labelSelector" in j.query and "fieldSelector" in j.query for j in sent)


async def test_a_whole_list_that_fails_falls_back_to_the_selector_list(kubeconfig: Path, server: FakeApiServer) -> None:
    c = live(kubeconfig)
    sel = "involvedObject.kind=Pod,involvedObject.name="
    for t in range(SELECTOR_LISTS_BEFORE_WHOLE):
        await c.list("v1", "Event", NS, field_selector=f"{sel}x{t}")
    server.add_fault(path=f"/api/v1/namespaces/{NS}/events$", status=403, times=1)
    before = len(server.journal)
    got = await c.list("v1", "Event", NS, field_selector=f"{sel}{DECODE}")
    assert {e["reason"] for e in got} == {"Pulled", "BackOff"}
    sent = server.journal[before:]
    assert [(j.status, "fieldSelector" in j.query) for j in sent] == [(403, False), (200, True)]


async def test_a_malformed_selector_still_gets_the_servers_answer(kubeconfig: Path) -> None:
    c = live(kubeconfig)
    await c.list("v1", "Pod")
    with pytest.raises(ClusterError):
        await c.list("v1", "Pod", NS, label_selector="a in (b")
