"""The loopback API server, checked through the real clients: kubectl and the kubernetes package.

No mocking: every test talks HTTPS to a server on 127.0.0.1 that serves the demo snapshot.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import urllib3
import websocket
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream

from llmd_triage.cluster.snapshot import SnapshotData
from tests.integration.apiserver import FakeApiServer, plural_of

NS = "llm-d-demo"
DECODE = "qwen3-32b-decode-5f7d9c8b6-7xk2p"
PREFILL = "qwen3-32b-prefill-6b8c7d9f5-m4q8z"
EPP = "qwen3-32b-epp-7d9c5b8f4-p2v6n"
USER = "system:serviceaccount:llm-d-demo:llmd-triage"
READ_VERBS = {"discovery", "get", "list", "logs", "exec"}

Kubectl = Callable[..., Any]
_OPEN: list[Any] = []  # clients and websockets a test opened; closed after it


@pytest.fixture(autouse=True)
def _close_clients() -> Any:
    yield
    while _OPEN:
        thing = _OPEN.pop()
        sock = getattr(thing, "sock", None)  # a kubernetes.stream WSClient wraps a websocket.WebSocket
        if isinstance(thing, websocket.WebSocket):
            thing.shutdown()  # close() keeps the socket once the server has closed the stream
        elif isinstance(sock, websocket.WebSocket):
            sock.shutdown()
        else:
            thing.close()


# ---------------------------------------------------------------------------- helpers


def api_client(kubeconfig: Path, *, retries: Any = None) -> client.ApiClient:
    """The official client from a kubeconfig; retries=False turns off urllib3's own retries."""
    cfg = client.Configuration()
    if retries is not None:
        cfg.retries = retries
    api = config.new_client_from_config(config_file=str(kubeconfig), client_configuration=cfg)
    _OPEN.append(api)
    return api


def core(kubeconfig: Path, **kw: Any) -> client.CoreV1Api:
    return client.CoreV1Api(api_client(kubeconfig, **kw))


def raw(
    server: FakeApiServer,
    path: str,
    *,
    method: str = "GET",
    token: str | None = "default",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> urllib3.BaseHTTPResponse:
    """One request, no retries, no client library in between."""
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["Authorization"] = f"Bearer {server.token if token == 'default' else token}"
    with urllib3.PoolManager(ca_cert_data=server.ca_pem.decode() if server.ca_pem else None, retries=False) as pool:
        return pool.request(method, server.url + path, headers=hdrs, body=body, timeout=5)


def wrong_token(server: FakeApiServer, tmp_path: Path) -> Path:
    kc = server.write_kubeconfig(tmp_path / "wrong-token")
    kc.write_text(kc.read_text().replace(server.token, "not-the-token"))
    return kc


def items(resp: Any) -> list[dict[str, Any]]:
    return json.loads(resp.data)["items"]


def names(objs: list[dict[str, Any]]) -> list[str]:
    return [o["metadata"]["name"] for o in objs]


def status_of(exc: ApiException) -> dict[str, Any]:
    return json.loads(exc.body)


def exec_ws(v1: client.CoreV1Api, pod: str, argv: list[str], container: str | None = "vllm") -> Any:
    kw: dict[str, Any] = {
        "command": argv,
        "stderr": True,
        "stdin": False,
        "stdout": True,
        "tty": False,
        "_preload_content": False,
    }
    if container:
        kw["container"] = container
    ws = stream(v1.connect_get_namespaced_pod_exec, pod, NS, **kw)
    _OPEN.append(ws)
    ws.run_forever(timeout=5)
    return ws


def add_exec_records(data: SnapshotData) -> SnapshotData:
    data.execs += [
        {
            "namespace": NS,
            "pod": DECODE,
            "container": "vllm",
            "argv": ["df", "-h", "/dev/shm"],
            "exit_code": 1,
            "stdout": "Filesystem Size\n",
            "stderr": "df: /dev/shm: stale\n",
        },
        {
            "namespace": NS,
            "pod": DECODE,
            "container": "vllm",
            "argv": ["cat", "/proc/1/status"],
            "error": {"kind": "exec_failed", "message": "container vllm is not running"},
        },
        {
            "namespace": NS,
            "pod": DECODE,
            "container": "vllm",
            "argv": ["nvidia-smi", "-L"],
            "delay_s": 0.3,
            "stdout": "GPU 0: NVIDIA H100\n",
        },
    ]
    return data


@pytest.fixture
def exec_server(
    apiserver_factory: Callable[..., FakeApiServer], demo_data: SnapshotData, tmp_path: Path
) -> tuple[FakeApiServer, Path]:
    server = apiserver_factory(add_exec_records(demo_data))
    return server, server.write_kubeconfig(tmp_path / "exec-kubeconfig", namespace=NS)


# ---------------------------------------------------------------------------- kubectl


def test_kubectl_get_pods_all_namespaces_and_crds(kubectl: Kubectl) -> None:
    r = kubectl("get", "pods", "-A")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    decode = next(line for line in lines if DECODE in line).split()
    assert decode[:4] == [NS, DECODE, "1/2", "CrashLoopBackOff"] and decode[4] == "4"
    r = kubectl("get", "inferencepools", "-n", NS)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:3] == ["NAME", "AGE", "qwen3-32b"]
    r = kubectl("get", "nodes", "-o", "name")
    assert r.stdout.split() == ["node/gpu-node-a", "node/gpu-node-b"]


def test_kubectl_api_resources(kubectl: Kubectl) -> None:
    r = kubectl("api-resources")
    assert r.returncode == 0, r.stderr
    rows = {tuple(line.split()) for line in r.stdout.splitlines()}
    assert ("inferencepools", "inference.networking.k8s.io/v1", "true", "InferencePool") in rows
    assert ("nodes", "no", "v1", "false", "Node") in rows
    assert ("selfsubjectaccessreviews", "authorization.k8s.io/v1", "false", "SelfSubjectAccessReview") in rows


def test_kubectl_output_formats_and_selectors(kubectl: Kubectl) -> None:
    r = kubectl("get", "pods", "-l", "llm-d.ai/role=decode", "-o", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert names(doc["items"]) == [DECODE] and doc["items"][0]["kind"] == "Pod"
    r = kubectl("get", "pods", "--field-selector", "spec.nodeName=gpu-node-b", "-o", "yaml")
    assert r.returncode == 0, r.stderr
    assert f"name: {EPP}" in r.stdout and f"name: {PREFILL}" in r.stdout and DECODE not in r.stdout
    r = kubectl("get", "pods", "-l", "llm-d.ai/role in (prefill),!nope", "-o", "jsonpath={.items[*].metadata.name}")
    assert r.stdout == PREFILL
    r = kubectl("get", "pod", "nope")
    assert r.returncode == 1 and 'Error from server (NotFound): pods "nope" not found' in r.stderr


def test_kubectl_describe_pod_lists_its_events(kubectl: Kubectl, apiserver: FakeApiServer) -> None:
    r = kubectl("describe", "pod", DECODE)
    assert r.returncode == 0, r.stderr
    assert "CrashLoopBackOff" in r.stdout and "OOMKilled" in r.stdout
    assert "Back-off restarting failed container vllm" in r.stdout
    events = [e for e in apiserver.journal if e.path == f"/api/v1/namespaces/{NS}/events"]
    assert events and f"involvedObject.name={DECODE}" in events[-1].query["fieldSelector"][0]


def test_kubectl_logs(kubectl: Kubectl) -> None:
    r = kubectl("logs", DECODE, "-c", "vllm", "--previous", "--tail", "2")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 2 and "Avg generation throughput" in r.stdout
    r = kubectl("logs", DECODE, "-c", "routing-proxy", "--previous")
    assert r.returncode == 1
    assert f'previous terminated container "routing-proxy" in pod "{DECODE}" not found' in r.stderr
    r = kubectl("logs", PREFILL)
    assert r.returncode == 0 and r.stdout.strip()


def test_kubectl_exec_exit_codes(exec_server: tuple[FakeApiServer, Path], kubectl: Kubectl) -> None:
    server, kc = exec_server
    r = kubectl("exec", DECODE, "-c", "vllm", "--", "ls", "-la", "/dev/shm", kubeconfig=kc)
    assert r.returncode == 0, r.stderr
    assert "nccl-3BpXq1" in r.stdout
    r = kubectl("exec", DECODE, "-c", "vllm", "--", "df", "-h", "/dev/shm", kubeconfig=kc)
    assert (r.returncode, r.stdout) == (1, "Filesystem Size\n")
    assert "df: /dev/shm: stale" in r.stderr and "command terminated with exit code 1" in r.stderr
    r = kubectl("exec", DECODE, "-c", "vllm", "--", "nvidia-smi", kubeconfig=kc)
    assert r.returncode == 127
    assert 'exec: "nvidia-smi": executable file not found in $PATH' in r.stderr
    r = kubectl("exec", DECODE, "-c", "vllm", "--", "cat", "/proc/1/status", kubeconfig=kc)
    assert r.returncode != 0 and "container vllm is not running" in r.stderr
    execs = [e for e in server.journal if e.verb == "exec"]
    assert len(execs) == 4 and {e.method for e in execs} == {"GET"} and {e.status for e in execs} == {101}
    assert execs[0].query["command"] == ["ls", "-la", "/dev/shm"] and execs[0].query["container"] == ["vllm"]


def test_kubectl_errors_from_faults_and_rbac(kubectl: Kubectl, apiserver: FakeApiServer, tmp_path: Path) -> None:
    apiserver.deny("list", "pods", namespace=NS)
    r = kubectl("get", "pods")
    assert r.returncode == 1
    assert (
        f'Error from server (Forbidden): pods is forbidden: User "{USER}" cannot list resource "pods" in API group "" in the namespace "{NS}"'
        in r.stderr
    )
    assert kubectl("get", "pods", "-n", "kube-system").returncode == 0
    r = kubectl("auth", "can-i", "list", "pods")
    assert (r.returncode, r.stdout.strip()) == (1, "no")
    r = kubectl("auth", "can-i", "get", "pods/log")
    assert (r.returncode, r.stdout.strip()) == (0, "yes")
    apiserver.clear_faults()
    apiserver.add_fault(path="/nodes$", status=500, times=1)
    r = kubectl("get", "nodes")
    assert (
        r.returncode == 1 and "Error from server (InternalError): Internal error occurred: injected fault" in r.stderr
    )
    assert kubectl("get", "nodes").returncode == 0
    r = kubectl("get", "widgets")
    assert r.returncode == 1 and 'the server doesn\'t have a resource type "widgets"' in r.stderr
    r = kubectl("get", "pods", kubeconfig=wrong_token(apiserver, tmp_path))
    assert r.returncode == 1 and "You must be logged in to the server" in r.stderr
    assert any(e.status == 401 for e in apiserver.journal)


def test_kubectl_cluster_info_dump(kubectl: Kubectl, tmp_path: Path) -> None:
    out = tmp_path / "dump"
    r = kubectl("cluster-info", "dump", "--namespaces", NS, "--output-directory", str(out))
    assert r.returncode == 0, r.stderr
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert {
        "nodes.json",
        f"{NS}/pods.json",
        f"{NS}/events.json",
        f"{NS}/deployments.json",
        f"{NS}/{DECODE}/logs.txt",
    } <= files
    assert names(json.loads((out / "nodes.json").read_text())["items"]) == ["gpu-node-a", "gpu-node-b"]
    assert len(json.loads((out / NS / "pods.json").read_text())["items"]) == 3
    logs = (out / NS / DECODE / "logs.txt").read_text()
    assert "==== START logs for container vllm" in logs and "vLLM API server version 0.11.0" in logs


# ---------------------------------------------------------------------------- the Python client


def test_client_get_list_selectors(kubeconfig: Path) -> None:
    v1 = core(kubeconfig)
    pods = json.loads(v1.list_namespaced_pod(NS, _preload_content=False).data)
    assert pods["kind"] == "PodList" and pods["apiVersion"] == "v1" and pods["metadata"] == {"resourceVersion": "1"}
    assert names(pods["items"]) == [DECODE, EPP, PREFILL] and {p["kind"] for p in pods["items"]} == {"Pod"}
    assert names(
        items(
            v1.list_pod_for_all_namespaces(label_selector="llm-d.ai/role in (decode,prefill)", _preload_content=False)
        )
    ) == [DECODE, PREFILL]
    assert names(items(v1.list_namespaced_pod(NS, label_selector="!llm-d.ai/role", _preload_content=False))) == [EPP]
    assert names(
        items(v1.list_namespaced_pod(NS, field_selector="spec.nodeName=gpu-node-a", _preload_content=False))
    ) == [DECODE]
    assert names(items(v1.list_namespaced_pod("other", _preload_content=False))) == []
    ev = items(
        v1.list_namespaced_event(
            NS, field_selector=f"involvedObject.name={DECODE},type=Warning", _preload_content=False
        )
    )
    assert [e["reason"] for e in ev] == ["BackOff"]
    pod = json.loads(v1.read_namespaced_pod(DECODE, NS, _preload_content=False).data)
    assert pod["status"]["containerStatuses"][1]["lastState"]["terminated"]["reason"] == "OOMKilled"
    node = json.loads(v1.read_node("gpu-node-a", _preload_content=False).data)
    assert node["kind"] == "Node" and node["status"]["capacity"]["nvidia.com/gpu"] == "8"
    assert "llm-d-demo" in names(items(v1.list_namespace(_preload_content=False)))
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_pod("nope", NS, _preload_content=False)
    assert (e.value.status, status_of(e.value)["reason"], status_of(e.value)["message"]) == (
        404,
        "NotFound",
        'pods "nope" not found',
    )
    with pytest.raises(ApiException) as e:
        v1.list_namespaced_pod(NS, label_selector="a >> b", _preload_content=False)
    assert e.value.status == 400


def test_client_pagination(kubeconfig: Path) -> None:
    v1 = core(kubeconfig)
    first = json.loads(v1.list_namespaced_pod(NS, limit=2, _preload_content=False).data)
    assert names(first["items"]) == [DECODE, EPP] and first["metadata"]["remainingItemCount"] == 1
    rest = json.loads(
        v1.list_namespaced_pod(NS, limit=2, _continue=first["metadata"]["continue"], _preload_content=False).data
    )
    assert names(rest["items"]) == [PREFILL] and "continue" not in rest["metadata"]


def test_client_custom_resources_and_discovery(kubeconfig: Path, apiserver: FakeApiServer) -> None:
    api = api_client(kubeconfig)
    crd = client.CustomObjectsApi(api)
    pools = crd.list_namespaced_custom_object("inference.networking.k8s.io", "v1", NS, "inferencepools")
    assert pools["kind"] == "InferencePoolList" and names(pools["items"]) == ["qwen3-32b"]
    assert pools["items"][0]["apiVersion"] == "inference.networking.k8s.io/v1"
    assert crd.get_namespaced_custom_object("inference.networking.k8s.io", "v1", NS, "inferencepools", "qwen3-32b")[
        "spec"
    ]["targetPorts"] == [{"number": 8000}]
    with pytest.raises(ApiException) as e:
        crd.list_namespaced_custom_object("example.com", "v1", NS, "widgets")
    assert e.value.status == 404 and status_of(e.value)["message"] == "the server could not find the requested resource"
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert {"apps", "events.k8s.io", "storage.k8s.io", "authorization.k8s.io", "inference.networking.k8s.io"} <= groups
    core_resources = {r.name: r for r in client.CoreV1Api(api).get_api_resources().resources}
    assert {"pods/log", "pods/exec", "persistentvolumes", "configmaps", "secrets"} <= set(core_resources)
    assert core_resources["nodes"].namespaced is False and core_resources["pods"].namespaced is True
    assert client.VersionApi(api).get_code().git_version == "v1.32.0"


def test_discovery_of_snapshot_kinds(
    apiserver_factory: Callable[..., FakeApiServer], demo_data: SnapshotData, kubectl: Kubectl, tmp_path: Path
) -> None:
    demo_data.add_inline(
        {
            "objects": [
                {
                    "apiVersion": "leaderworkerset.x-k8s.io/v1",
                    "kind": "LeaderWorkerSet",
                    "metadata": {"name": "ds-r1", "namespace": NS},
                },
                {
                    "apiVersion": "k8s.cni.cncf.io/v1",
                    "kind": "NetworkAttachmentDefinition",
                    "metadata": {"name": "rdma", "namespace": NS},
                },
                {"apiVersion": "nvidia.com/v1", "kind": "ClusterPolicy", "metadata": {"name": "cluster-policy"}},
                {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": NS}},
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS, "labels": {"team": "llm"}}},
            ]
        }
    )
    server = apiserver_factory(demo_data)
    gv = {g["name"]: g for g in json.loads(raw(server, "/apis").data)["groups"]}
    assert gv["leaderworkerset.x-k8s.io"]["preferredVersion"]["groupVersion"] == "leaderworkerset.x-k8s.io/v1"
    res = {r["name"]: r for r in json.loads(raw(server, "/apis/nvidia.com/v1").data)["resources"]}
    assert res["clusterpolicies"]["namespaced"] is False and res["clusterpolicies"]["kind"] == "ClusterPolicy"
    res = {r["name"]: r for r in json.loads(raw(server, "/apis/k8s.cni.cncf.io/v1").data)["resources"]}
    assert res["network-attachment-definitions"]["namespaced"] is True
    assert json.loads(raw(server, "/apis/networking.k8s.io").data)["kind"] == "APIGroup"
    kc = server.write_kubeconfig(tmp_path / "more", namespace=NS)
    r = kubectl(
        "get", "leaderworkersets,network-attachment-definitions,ingresses,clusterpolicies", "-o", "name", kubeconfig=kc
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [
        "leaderworkerset.leaderworkerset.x-k8s.io/ds-r1",
        "networkattachmentdefinition.k8s.cni.cncf.io/rdma",
        "ingress.networking.k8s.io/web",
        "clusterpolicy.nvidia.com/cluster-policy",
    ]
    r = kubectl("get", "ns", NS, "-o", "jsonpath={.metadata.labels.team}", kubeconfig=kc)
    assert r.stdout == "llm"


def test_plurals() -> None:
    assert [
        plural_of(k)
        for k in (
            "Pod",
            "Endpoints",
            "Ingress",
            "NetworkPolicy",
            "Gateway",
            "NetworkAttachmentDefinition",
            "Prometheus",
            "InferencePool",
        )
    ] == [
        "pods",
        "endpoints",
        "ingresses",
        "networkpolicies",
        "gateways",
        "network-attachment-definitions",
        "prometheuses",
        "inferencepools",
    ]


def test_client_logs(kubeconfig: Path) -> None:
    v1 = core(kubeconfig)
    current = v1.read_namespaced_pod_log(DECODE, NS, container="vllm")
    previous = v1.read_namespaced_pod_log(DECODE, NS, container="vllm", previous=True)
    assert current != previous and len(previous.splitlines()) == 13
    tail = v1.read_namespaced_pod_log(DECODE, NS, container="vllm", previous=True, tail_lines=3)
    assert tail.splitlines() == previous.splitlines()[-3:]
    assert v1.read_namespaced_pod_log(DECODE, NS, container="vllm", previous=True, tail_lines=0) == ""
    head = v1.read_namespaced_pod_log(DECODE, NS, container="vllm", previous=True, limit_bytes=20, since_seconds=60)
    assert head == previous[:20]
    assert v1.read_namespaced_pod_log(PREFILL, NS) == v1.read_namespaced_pod_log(PREFILL, NS, container="vllm")
    resp = v1.read_namespaced_pod_log(PREFILL, NS, _preload_content=False)
    assert resp.headers["Content-Type"].startswith("text/plain")
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_pod_log(DECODE, NS, container="routing-proxy", previous=True)
    assert (
        e.value.status == 400
        and status_of(e.value)["message"]
        == f'previous terminated container "routing-proxy" in pod "{DECODE}" not found'
    )
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_pod_log(DECODE, NS)
    assert (
        status_of(e.value)["message"]
        == f"a container name must be specified for pod {DECODE}, choose one of: [routing-proxy vllm]"
    )
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_pod_log("nope", NS)
    assert e.value.status == 404


def test_client_exec(exec_server: tuple[FakeApiServer, Path]) -> None:
    server, kc = exec_server
    v1 = core(kc)
    ws = exec_ws(v1, DECODE, ["ls", "-la", "/dev/shm"])
    assert ws.subprotocol == "v5.channel.k8s.io"
    assert "nccl-3BpXq1" in ws.read_stdout() and ws.returncode == 0
    ws = exec_ws(v1, DECODE, ["df", "-h", "/dev/shm"])
    assert (ws.read_stdout(), ws.read_stderr(), ws.returncode) == ("Filesystem Size\n", "df: /dev/shm: stale\n", 1)
    ws = exec_ws(v1, DECODE, ["nvidia-smi"])
    assert ws.read_stderr() == 'exec: "nvidia-smi": executable file not found in $PATH\n' and ws.returncode == 127
    ws = exec_ws(v1, DECODE, ["cat", "/proc/1/status"])
    err = json.loads(ws.read_channel(3))
    assert (err["status"], err["message"]) == ("Failure", "container vllm is not running")
    assert [e.status for e in server.journal] == [101] * 4


def test_client_exec_records(exec_server: tuple[FakeApiServer, Path]) -> None:
    _, kc = exec_server
    v1 = core(kc)
    t0 = time.perf_counter()
    ws = exec_ws(v1, DECODE, ["nvidia-smi", "-L"])
    assert ws.read_stdout() == "GPU 0: NVIDIA H100\n" and ws.returncode == 0
    assert time.perf_counter() - t0 >= 0.3
    with pytest.raises(ApiException) as e:
        exec_ws(v1, DECODE, ["ls"], container=None)
    assert "400" in str(e.value.reason) and "a container name must be specified" in str(e.value.reason)
    ws = exec_ws(v1, PREFILL, ["ls", "-la", "/dev/shm"], container=None)  # one container: no -c needed
    assert ws.returncode == 127  # the record is for the decode pod only


@pytest.mark.parametrize("protocol", ["v4.channel.k8s.io", "channel.k8s.io", "base64.channel.k8s.io"])
def test_exec_older_subprotocols(exec_server: tuple[FakeApiServer, Path], protocol: str) -> None:
    server, _ = exec_server
    url = (
        server.url.replace("https", "wss")
        + f"/api/v1/namespaces/{NS}/pods/{DECODE}/exec?command=df&command=-h&command=/dev/shm&container=vllm&stdout=true&stderr=true"
    )
    ws = websocket.create_connection(
        url,
        header=[f"Authorization: Bearer {server.token}"],
        subprotocols=[protocol],
        sslopt={"ca_certs": str(server.ca_file)},
        timeout=5,
    )
    _OPEN.append(ws)
    frames: dict[int, bytes] = {}
    while True:
        opcode, data = ws.recv_data(control_frame=False)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            break
        if protocol.startswith("base64"):
            channel, payload = int(chr(data[0])), base64.b64decode(data[1:])
        else:
            channel, payload = data[0], data[1:]
        frames[channel] = frames.get(channel, b"") + payload
    ws.close()
    assert frames[1] == b"Filesystem Size\n" and frames[2] == b"df: /dev/shm: stale\n"
    if protocol == "v4.channel.k8s.io":
        status = json.loads(frames[3])
        assert status["reason"] == "NonZeroExitCode" and status["details"]["causes"] == [
            {"reason": "ExitCode", "message": "1"}
        ]
        assert (
            status["message"]
            == "command terminated with non-zero exit code: error executing command [df -h /dev/shm], exit code 1"
        )
    else:
        assert frames[3].startswith(b"command terminated with non-zero exit code")


# ---------------------------------------------------------------------------- auth, RBAC, faults


def test_unauthorized_without_token(apiserver: FakeApiServer, tmp_path: Path) -> None:
    r = raw(apiserver, f"/api/v1/namespaces/{NS}/pods", token=None)
    assert r.status == 401
    assert json.loads(r.data) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }
    assert raw(apiserver, "/api/v1/nodes", token="wrong").status == 401
    assert raw(apiserver, "/version", token=None).status == 200  # public, as on a real cluster
    with pytest.raises(ApiException) as e:
        core(wrong_token(apiserver, tmp_path)).list_node()
    assert e.value.status == 401 and status_of(e.value)["reason"] == "Unauthorized"
    assert [e.status for e in apiserver.journal] == [401, 401, 200, 401]


@pytest.mark.parametrize(
    ("code", "reason", "message"),
    [
        (
            403,
            "Forbidden",
            f'pods "{DECODE}" is forbidden: User "{USER}" cannot get resource "pods" in API group "" in the namespace "{NS}"',
        ),
        (404, "NotFound", f'pods "{DECODE}" not found'),
        (
            409,
            "Conflict",
            f'Operation cannot be fulfilled on pods "{DECODE}": the object has been modified; please apply your changes to the latest version and try again',
        ),
        (429, "TooManyRequests", "Too many requests, please try again later."),
        (500, "InternalError", "Internal error occurred: injected fault"),
    ],
)
def test_status_faults_as_the_client_sees_them(
    apiserver: FakeApiServer, kubeconfig: Path, code: int, reason: str, message: str
) -> None:
    apiserver.add_fault(path=f"/pods/{DECODE}$", status=code)
    v1 = core(kubeconfig, retries=False)
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_pod(DECODE, NS, _preload_content=False)
    body = status_of(e.value)
    assert (e.value.status, body["kind"], body["status"], body["reason"], body["code"], body["message"]) == (
        code,
        "Status",
        "Failure",
        reason,
        code,
        message,
    )
    if code == 429:
        assert e.value.headers["Retry-After"] == "1" and body["details"]["retryAfterSeconds"] == 1
    assert v1.read_namespaced_pod_log(PREFILL, NS)  # other paths are untouched


def test_fault_with_a_custom_message_and_times(apiserver: FakeApiServer, kubeconfig: Path) -> None:
    apiserver.add_fault(path="/nodes", method="GET", status=503, message="etcd is down", times=2)
    v1 = core(kubeconfig, retries=False)
    for _ in range(2):
        with pytest.raises(ApiException) as e:
            v1.list_node(_preload_content=False)
        assert (e.value.status, status_of(e.value)["message"], status_of(e.value)["reason"]) == (
            503,
            "etcd is down",
            "ServiceUnavailable",
        )
    assert len(items(v1.list_node(_preload_content=False))) == 2
    assert [e.status for e in apiserver.journal] == [503, 503, 200]


def test_the_client_retries_429_after_retry_after(apiserver: FakeApiServer, kubeconfig: Path) -> None:
    """urllib3's default Retry honours Retry-After on a 429 for GETs: one 429 is invisible to the caller."""
    apiserver.add_fault(path="/pods$", status=429, times=1)
    t0 = time.perf_counter()
    assert len(items(core(kubeconfig).list_namespaced_pod(NS, _preload_content=False))) == 3
    assert time.perf_counter() - t0 >= 1.0
    assert [e.status for e in apiserver.journal] == [429, 200]


def test_rbac_deny_and_selfsubjectaccessreview(apiserver: FakeApiServer, kubeconfig: Path) -> None:
    apiserver.deny("get", "pods", namespace=NS, subresource="log")
    apiserver.deny("list", "inferencepools.inference.networking.k8s.io")
    apiserver.deny("create", "pods/exec")
    api = api_client(kubeconfig, retries=False)
    v1, authz = client.CoreV1Api(api), client.AuthorizationV1Api(api)

    def can_i(verb: str, resource: str, group: str = "", subresource: str = "", namespace: str = NS) -> bool:
        attrs = client.V1ResourceAttributes(
            verb=verb, resource=resource, group=group, subresource=subresource, namespace=namespace
        )
        review = authz.create_self_subject_access_review(
            client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attrs))
        )
        assert review.spec.resource_attributes.verb == verb  # the spec is echoed
        return review.status.allowed

    assert can_i("get", "pods") and can_i("list", "pods") and can_i("get", "pods", subresource="log", namespace="other")
    assert not can_i("get", "pods", subresource="log")
    assert not can_i("list", "inferencepools", group="inference.networking.k8s.io")
    assert can_i("list", "inferencepools", group="other.example.com")
    assert not can_i("create", "pods", subresource="exec", namespace="anywhere")
    with pytest.raises(ApiException) as e:
        v1.read_namespaced_pod_log(PREFILL, NS)
    assert e.value.status == 403
    assert (
        status_of(e.value)["message"]
        == f'pods "{PREFILL}" is forbidden: User "{USER}" cannot get resource "pods/log" in API group "" in the namespace "{NS}"'
    )
    with pytest.raises(ApiException) as e:
        client.CustomObjectsApi(api).list_cluster_custom_object("inference.networking.k8s.io", "v1", "inferencepools")
    assert (
        status_of(e.value)["message"]
        == f'inferencepools.inference.networking.k8s.io is forbidden: User "{USER}" cannot list resource "inferencepools" in API group "inference.networking.k8s.io" at the cluster scope'
    )
    with pytest.raises(ApiException) as e:
        exec_ws(v1, DECODE, ["ls"])
    assert "403" in str(e.value.reason)
    assert v1.read_namespaced_pod(DECODE, NS, _preload_content=False).status == 200


def test_stall_hits_the_client_timeout(apiserver: FakeApiServer, kubeconfig: Path) -> None:
    apiserver.add_fault(path="/pods$", stall_s=2.0, times=1)
    v1 = core(kubeconfig, retries=False)
    t0 = time.perf_counter()
    with pytest.raises((urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.MaxRetryError)):
        v1.list_namespaced_pod(NS, _request_timeout=0.3, _preload_content=False)
    assert 0.3 <= time.perf_counter() - t0 < 1.5
    assert len(items(v1.list_namespaced_pod(NS, _request_timeout=2, _preload_content=False))) == 3


def test_drop_and_garbage(apiserver: FakeApiServer, kubeconfig: Path) -> None:
    apiserver.add_fault(path="/nodes$", drop=True)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        core(kubeconfig, retries=False).list_node(_preload_content=False)
    with pytest.raises(urllib3.exceptions.MaxRetryError):  # the default client retries 3 times, then gives up
        core(kubeconfig).list_node(_preload_content=False)
    assert [e.status for e in apiserver.journal] == [0] * 5
    apiserver.clear_faults()
    apiserver.add_fault(path="/pods$", garbage=True, times=1)
    resp = core(kubeconfig).list_namespaced_pod(NS, _preload_content=False)
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        json.loads(resp.data)
    assert len(items(core(kubeconfig).list_namespaced_pod(NS, _preload_content=False))) == 3


def test_exec_dropped_mid_stream(exec_server: tuple[FakeApiServer, Path]) -> None:
    server, kc = exec_server
    server.add_fault(path="/exec$", drop=True, times=1)
    v1 = core(kc)
    ws = stream(
        v1.connect_get_namespaced_pod_exec,
        DECODE,
        NS,
        command=["ls", "-la", "/dev/shm"],
        container="vllm",
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    _OPEN.append(ws)
    got = ""
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        while True:
            ws.update(timeout=2)
            got += ws.read_stdout()
    assert got.startswith("total 44040196") and "psm_4b1c2a9e" not in got
    assert exec_ws(v1, DECODE, ["ls", "-la", "/dev/shm"]).returncode == 0


def test_latency_and_journal_timing(
    apiserver_factory: Callable[..., FakeApiServer], demo_data: SnapshotData, tmp_path: Path
) -> None:
    server = apiserver_factory(demo_data, latency=0.2)
    t0 = time.perf_counter()
    assert raw(server, "/api/v1/nodes").status == 200
    assert time.perf_counter() - t0 >= 0.2
    assert server.journal[-1].ms >= 200 and server.journal[-1].verb == "list"


def test_read_only_use_journals_only_reads(exec_server: tuple[FakeApiServer, Path], kubectl: Kubectl) -> None:
    server, kc = exec_server
    v1 = core(kc)
    v1.list_pod_for_all_namespaces(_preload_content=False)
    v1.read_namespaced_pod_log(DECODE, NS, container="vllm", previous=True)
    exec_ws(v1, DECODE, ["ls", "-la", "/dev/shm"])
    assert kubectl("get", "pods", kubeconfig=kc).returncode == 0
    assert kubectl("exec", DECODE, "-c", "vllm", "--", "ls", kubeconfig=kc).returncode == 127
    assert {e.method for e in server.journal} == {"GET"} and {e.verb for e in server.journal} <= READ_VERBS
    with pytest.raises(ApiException) as e:
        v1.delete_namespaced_pod(DECODE, NS)
    assert e.value.status == 405 and status_of(e.value)["reason"] == "MethodNotAllowed"
    assert raw(server, f"/api/v1/namespaces/{NS}/configmaps", method="POST", body=b"{}").status == 405
    assert kubectl("delete", "pod", EPP, kubeconfig=kc).returncode == 1
    writes = [(e.method, e.verb, e.status) for e in server.journal if e.method != "GET"]
    assert writes == [("DELETE", "delete", 405), ("POST", "create", 405), ("DELETE", "delete", 405)]


def test_watch_streams_the_current_objects(apiserver: FakeApiServer) -> None:
    r = raw(apiserver, f"/api/v1/namespaces/{NS}/pods?watch=true&timeoutSeconds=0")
    events = [json.loads(line) for line in r.data.splitlines()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", DECODE),
        ("ADDED", EPP),
        ("ADDED", PREFILL),
    ]


def test_stop_does_not_wait_for_stalled_requests(
    apiserver_factory: Callable[..., FakeApiServer], demo_data: SnapshotData
) -> None:
    server = apiserver_factory(demo_data)
    server.add_fault(stall_s=30)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            raw(server, "/api/v1/nodes")
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    while not server.journal:
        time.sleep(0.01)
    t0 = time.perf_counter()
    server.stop()
    server.stop()  # idempotent
    assert time.perf_counter() - t0 < 2
    worker.join(5)
    assert errors and not worker.is_alive()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=1):
        pass
