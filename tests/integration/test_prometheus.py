"""PrometheusClient and the prom.query probe against a real, backfilled Prometheus on loopback.

Failures that a real Prometheus cannot be made to produce on demand (401, 403, 5xx, a login page,
a slow answer) come from a tiny loopback HTTP server that also records the headers it was sent.
"""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmd_triage.cluster import prometheus as prom_mod
from llmd_triage.cluster.base import ClusterError, TargetRef
from llmd_triage.cluster.prometheus import (
    TOKEN_HINT,
    PrometheusClient,
    RecordedPrometheus,
    RecordingPrometheus,
    normalize_query,
)
from llmd_triage.cluster.snapshot import SnapshotCluster, SnapshotData, load_snapshot
from llmd_triage.probes.base import ProbeFailure
from llmd_triage.probes.registry import default_registry
from tests.integration.prometheus_server import (
    NODE_A_GPU3,
    PREEMPTIONS_PER_STEP,
    SPAN_S,
    STEP_S,
    PromServer,
    openmetrics,
    running_prometheus,
)

PROBE = default_registry().get("prom.query")
TARGET = TargetRef("pod", "vllm-decode-0", "llm-d")
XID_BY_GPU = "max by (Hostname,gpu,err_code) (DCGM_FI_DEV_XID_ERRORS) > 0"
LAST_PREEMPTIONS = float(PREEMPTIONS_PER_STEP * (SPAN_S // STEP_S))


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromServer]:
    with running_prometheus(tmp_path_factory.mktemp("prometheus")) as server:
        yield server


@pytest.fixture
def client(prom: PromServer) -> PrometheusClient:
    return PrometheusClient(prom.url, timeout=10)


def _cluster(prometheus: Any) -> SnapshotCluster:
    cluster = SnapshotCluster(SnapshotData(namespace="llm-d"))
    cluster.prometheus = prometheus
    return cluster


async def _fail(coro: Any) -> ClusterError:
    with pytest.raises(ClusterError) as info:
        await coro
    return info.value


# ---------------------------------------------------------------------- a real Prometheus


def test_backfill_file_is_well_formed() -> None:
    text = openmetrics(1_800_000_000)
    assert text.endswith("# EOF\n")
    assert text.count("vllm:num_preemptions_total{") == 2 * (SPAN_S // STEP_S + 1)


async def test_instant_query_of_the_xid_metric(client: PrometheusClient) -> None:
    data = await client.query('DCGM_FI_DEV_XID_ERRORS{err_code="79"}')
    assert data["resultType"] == "vector"
    [sample] = data["result"]
    assert sample["metric"] == {"__name__": "DCGM_FI_DEV_XID_ERRORS", **NODE_A_GPU3}
    assert sample["value"][1] == "79"
    assert abs(sample["value"][0] - time.time()) < 120


async def test_instant_query_at_a_given_time(client: PrometheusClient, prom: PromServer) -> None:
    # at the start of the window the Xid 79 series did not exist yet
    early = await client.query('DCGM_FI_DEV_XID_ERRORS{err_code="79"}', time=prom.start + 60)
    assert early == {"resultType": "vector", "result": []}
    late = await client.query('DCGM_FI_DEV_XID_ERRORS{err_code="79"}', time=float(prom.end))
    assert late["result"][0]["value"] == [prom.end, "79"]


async def test_range_query_of_preemptions_rises(client: PrometheusClient, prom: PromServer) -> None:
    data = await client.query_range('vllm:num_preemptions_total{pod="vllm-decode-0"}', prom.end - 600, prom.end, 60)
    assert data["resultType"] == "matrix"
    [series] = data["result"]
    values = [float(v) for _, v in series["values"]]
    assert len(values) == 11
    assert values == sorted(values) and values[0] < values[-1]
    assert values[-1] == LAST_PREEMPTIONS
    assert values[-1] - values[0] == PREEMPTIONS_PER_STEP * 600 / STEP_S


async def test_probe_xid_by_gpu(client: PrometheusClient, prom: PromServer) -> None:
    res = await PROBE.run({"query": XID_BY_GPU}, TARGET, _cluster(client))
    data = res.data
    assert data["query"] == XID_BY_GPU
    assert (data["result_type"], data["count"], data["max"], data["min"], data["sum"]) == (
        "vector",
        2,
        79.0,
        13.0,
        92.0,
    )
    assert sorted((s["labels"]["Hostname"], s["labels"]["gpu"], s["value"]) for s in data["series"]) == [
        ("gpu-node-a", "3", 79.0),
        ("gpu-node-b", "1", 13.0),
    ]
    assert res.evidence == [
        '{Hostname="gpu-node-a",err_code="79",gpu="3"} => 79',
        '{Hostname="gpu-node-b",err_code="13",gpu="1"} => 13',
    ]
    assert res.summary == "2 series; max 79, min 13"
    assert res.command == (
        "curl -sG --data-urlencode 'query=max by (Hostname,gpu,err_code) (DCGM_FI_DEV_XID_ERRORS) > 0' "
        f"{prom.url}/api/v1/query"
    )


async def test_probe_command_gives_the_same_answer_by_hand(client: PrometheusClient) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    res = await PROBE.run({"query": XID_BY_GPU}, TARGET, _cluster(client))
    out = subprocess.run(["bash", "-c", res.command], capture_output=True, text=True, timeout=20, check=True)
    doc = json.loads(out.stdout)
    assert doc["status"] == "success"
    assert sorted(r["value"][1] for r in doc["data"]["result"]) == ["13", "79"]


async def test_probe_kv_cache_and_preemption_rate(client: PrometheusClient, prom: PromServer) -> None:
    kv = await PROBE.run({"query": "max by (pod) (vllm:kv_cache_usage_perc) > 0.9"}, TARGET, _cluster(client))
    assert kv.data["count"] == 1
    assert kv.data["series"][0]["labels"] == {"pod": "vllm-decode-0"}
    assert kv.data["max"] == 0.97
    assert kv.summary == "1 series: 0.97"
    rate = await PROBE.run(
        {"query": 'rate(vllm:num_preemptions_total{pod="vllm-decode-0"}[5m])'}, TARGET, _cluster(client)
    )
    # at "now" the 5m window holds fewer points (the data ended 30 s earlier), so the extrapolation is rougher
    assert rate.data["max"] == pytest.approx(PREEMPTIONS_PER_STEP / STEP_S, rel=0.2)
    at_end = await client.query('rate(vllm:num_preemptions_total{pod="vllm-decode-0"}[5m])', time=prom.end)
    assert float(at_end["result"][0]["value"][1]) == pytest.approx(PREEMPTIONS_PER_STEP / STEP_S)
    empty = await PROBE.run({"query": 'DCGM_FI_DEV_XID_ERRORS{Hostname="nowhere"}'}, TARGET, _cluster(client))
    assert (empty.data["count"], empty.data["max"], empty.evidence) == (0, None, [])
    assert empty.summary == "no series (the query matched nothing)"


async def test_probe_range_query(client: PrometheusClient, prom: PromServer) -> None:
    params = {"query": 'vllm:num_preemptions_total{pod="vllm-decode-0"}', "type": "range", "range": 600, "step": 60}
    assert default_registry().check_params("prom.query", params) == []
    res = await PROBE.run(params, TARGET, _cluster(client))
    [series] = res.data["series"]
    assert res.data["result_type"] == "matrix"
    assert len(series["values"]) in (10, 11)  # the window ends at "now", a few seconds after the data
    assert all(a <= b for a, b in zip(series["values"], series["values"][1:], strict=False))
    assert series["values"][0] < series["value"] == LAST_PREEMPTIONS
    assert res.summary == f"range 600s: 1 series: {LAST_PREEMPTIONS:g}"
    assert res.evidence[0].startswith('vllm:num_preemptions_total{model_name="Qwen/Qwen3-32B",namespace="llm-d"')
    assert res.evidence[0].endswith(
        f"=> {LAST_PREEMPTIONS:g} (from {series['values'][0]:g}, {len(series['values'])} points)"
    )
    assert " -d step=60 " in res.command and res.command.endswith(f"{prom.url}/api/v1/query_range")


async def test_range_too_many_points_is_refused_before_asking(client: PrometheusClient) -> None:
    with pytest.raises(ProbeFailure) as info:
        await PROBE.run({"query": "up", "type": "range", "range": 86400, "step": 1}, TARGET, _cluster(client))
    assert info.value.kind == "error" and "11000" in info.value.message


async def test_bad_promql_is_an_error_with_prometheus_message(client: PrometheusClient) -> None:
    err = await _fail(client.query("sum(DCGM_FI_DEV_XID_ERRORS"))
    assert err.kind == "error"
    assert "parse error" in err.message and "unclosed left parenthesis" in err.message
    assert "PromQL" in (err.hint or "")
    with pytest.raises(ProbeFailure) as info:
        await PROBE.run({"query": "rate(vllm:num_preemptions_total)"}, TARGET, _cluster(client))
    assert info.value.kind == "error"
    assert "expected type range vector" in info.value.message
    assert "curl -sG" in info.value.hint


async def test_range_query_errors(client: PrometheusClient, prom: PromServer) -> None:
    err = await _fail(client.query_range("up", prom.end, prom.end - 60, 15))
    assert err.kind == "error" and "end timestamp must not be before start time" in err.message


async def test_wrong_port_is_unavailable(prom: PromServer) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        err = await _fail(PrometheusClient(f"http://127.0.0.1:{port}", timeout=3).query("up"))
    assert err.kind == "unavailable"
    assert "connection refused" in err.message and "port-forward" in (err.hint or "")


async def test_long_query_is_posted(client: PrometheusClient) -> None:
    expr = " or ".join(f'DCGM_FI_DEV_XID_ERRORS{{gpu="{i}"}}' for i in range(200))
    assert len(expr) > prom_mod.MAX_GET_QUERY
    data = await client.query(expr)
    assert sorted(r["metric"]["gpu"] for r in data["result"]) == ["0", "1", "3"]


async def test_recorded_answers_replay_through_the_probe(client: PrometheusClient, tmp_path: Path) -> None:
    recorder = RecordingPrometheus(client)
    live_xid = await PROBE.run({"query": XID_BY_GPU}, TARGET, _cluster(recorder))
    params = {"query": 'vllm:num_preemptions_total{pod="vllm-decode-0"}', "type": "range", "range": 600, "step": 60}
    live_range = await PROBE.run(params, TARGET, _cluster(recorder))
    with pytest.raises(ProbeFailure):
        await PROBE.run({"query": "sum("}, TARGET, _cluster(recorder))
    assert [(r["query"], r["type"], "error" in r) for r in recorder.records] == [
        (XID_BY_GPU, "instant", False),
        (params["query"], "range", False),
        ("sum(", "instant", True),
    ]
    # written as a snapshot's prometheus.yaml, loaded back, asked with different whitespace
    (tmp_path / "prometheus.yaml").write_text(yaml.safe_dump(recorder.records), encoding="utf-8")
    replay = SnapshotCluster(load_snapshot(tmp_path))
    assert isinstance(replay.prometheus, RecordedPrometheus)
    again = await PROBE.run({"query": "max by(Hostname, gpu, err_code)(DCGM_FI_DEV_XID_ERRORS)>0"}, TARGET, replay)
    assert {k: v for k, v in again.data.items() if k != "query"} == {
        k: v for k, v in live_xid.data.items() if k != "query"
    }
    assert again.evidence == live_xid.evidence
    assert again.command.endswith("$PROMETHEUS_URL/api/v1/query")
    replayed_range = await PROBE.run({**params, "range": 300}, TARGET, replay)
    assert replayed_range.data["series"] == live_range.data["series"]
    with pytest.raises(ProbeFailure) as info:
        await PROBE.run({"query": "sum("}, TARGET, replay)
    assert info.value.kind == "error" and "unclosed left parenthesis" in info.value.message
    with pytest.raises(ProbeFailure) as info:
        await PROBE.run({"query": "up"}, TARGET, replay)
    assert info.value.kind == "not_captured"


# ---------------------------------------------------------------------- without Prometheus


async def test_no_prometheus_is_not_installed() -> None:
    class Live(SnapshotCluster):
        """Stands for a live cluster run without --prometheus-url."""

    cluster = Live(SnapshotData())
    cluster.name = "loopback"
    assert cluster.prometheus is None
    with pytest.raises(ProbeFailure) as info:
        await PROBE.run({"query": XID_BY_GPU}, TARGET, cluster)
    assert info.value.as_dict() == {
        "kind": "not_installed",
        "message": "no Prometheus is configured",
        "hint": "pass --prometheus-url URL (and --prometheus-token-file FILE)",
    }
    assert PROBE.rbac == () and PROBE.needs({"query": "up"}, TARGET) == ()


async def test_snapshot_without_prometheus_answers_is_not_captured() -> None:
    with pytest.raises(ProbeFailure) as info:
        await PROBE.run({"query": XID_BY_GPU}, TARGET, SnapshotCluster(SnapshotData()))
    assert info.value.kind == "not_captured"
    assert info.value.message == "this snapshot recorded no Prometheus answers"
    assert info.value.hint.startswith("run the query on the live cluster's Prometheus: curl -sG")


def test_probe_params_are_checked() -> None:
    reg = default_registry()
    assert reg.check_params("prom.query", {"query": "up"}) == []
    assert reg.check_params("prom.query", {}) == [((), "'query' is a required property")]
    assert [p for p, _ in reg.check_params("prom.query", {"query": "up", "type": "matrix", "range": -1})] == [
        ("range",),
        ("type",),
    ]


async def test_recorded_prometheus_matching() -> None:
    vector = {"resultType": "vector", "result": [{"metric": {}, "value": [1, "12"]}]}
    matrix = {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "1"], [2, "2"]]}]}
    rec = RecordedPrometheus(
        [
            {"query": 'sum(vllm:num_requests_waiting{namespace="llm-d"})', "result": vector},
            {"query": "vllm:num_preemptions_total", "type": "range", "result": matrix},
            {"query": "max(vllm:kv_cache_usage_perc)", "error": {"kind": "unavailable", "message": "down"}},
            {"query": "absent_result"},
            {"query": "absent_range", "type": "range"},
        ]
    )
    assert await rec.query('sum( vllm:num_requests_waiting{ namespace = "llm-d" } )') == vector
    assert await rec.query_range("vllm:num_preemptions_total", 0, 60, 15) == matrix
    assert await rec.query("absent_result") == {"resultType": "vector", "result": []}
    assert await rec.query_range("absent_range", 0, 60, 15) == {"resultType": "matrix", "result": []}
    err = await _fail(rec.query("max(vllm:kv_cache_usage_perc)"))
    assert (err.kind, err.message) == ("unavailable", "down")
    # types do not cross, and whitespace inside a label value is significant
    assert (await _fail(rec.query("vllm:num_preemptions_total"))).kind == "not_captured"
    assert (await _fail(rec.query_range('sum(vllm:num_requests_waiting{namespace="llm-d"})', 0, 1, 1))).kind == (
        "not_captured"
    )
    assert (await _fail(rec.query('sum(vllm:num_requests_waiting{namespace="llm-d "})'))).kind == "not_captured"


def test_normalize_query() -> None:
    same = [
        "max by (Hostname,gpu,err_code) (DCGM_FI_DEV_XID_ERRORS) > 0",
        "max by(Hostname, gpu, err_code)(DCGM_FI_DEV_XID_ERRORS)>0",
        "  max  by (Hostname ,gpu,\n  err_code) (\tDCGM_FI_DEV_XID_ERRORS ) >  0 ",
    ]
    assert {normalize_query(q) for q in same} == {"max by(Hostname,gpu,err_code)(DCGM_FI_DEV_XID_ERRORS)>0"}
    assert normalize_query('x{a="b  c"}  and   y') == 'x{a="b  c"}and y'
    assert normalize_query("x{a='p  q', b=`r  s`}") == "x{a='p  q',b=`r  s`}"
    assert normalize_query("a or b") != normalize_query("aorb")


def test_bad_url_is_refused_up_front() -> None:
    for url in ("prometheus:9090", "ftp://x", "http://", "http://host:port", "https://:9090"):
        with pytest.raises(ValueError, match="is not http"):
            PrometheusClient(url)
    assert PrometheusClient("http://prom.monitoring:9090/prefix/").url == "http://prom.monitoring:9090/prefix"


# ---------------------------------------------------------------------- a stub server for the rest


class Stub:
    """Answers every request with `reply` after `delay` seconds and keeps what it was sent."""

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.reply: tuple[int, str, bytes] = (200, "application/json", b"")
        self.delay = 0.0
        self.seen: list[dict[str, Any]] = []
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                stub.seen.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                )
                time.sleep(stub.delay)
                status, ctype, payload = stub.reply
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        scheme = "http"
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def json(self, status: int, doc: Any) -> None:
        self.reply = (status, "application/json", json.dumps(doc).encode())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def stub() -> Iterator[Stub]:
    s = Stub()
    try:
        yield s
    finally:
        s.close()


OK = {"status": "success", "data": {"resultType": "vector", "result": []}}


async def test_bearer_token_is_sent_and_read_fresh(stub: Stub, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first-token\n")
    stub.json(200, OK)
    c = PrometheusClient(stub.url, bearer_token_file=token)
    assert await c.query("up", time="2026-11-20T03:12:00Z") == OK["data"]
    token.write_text("rotated-token")
    await c.query_range("up", 1700000000, 1700000600.5, "30s")
    first, second = stub.seen
    assert first["headers"]["Authorization"] == "Bearer first-token"
    assert second["headers"]["Authorization"] == "Bearer rotated-token"
    assert first["method"] == "GET" and first["path"] == "/api/v1/query?query=up&time=2026-11-20T03%3A12%3A00Z"
    assert second["path"] == "/api/v1/query_range?query=up&start=1700000000&end=1700000600.5&step=30s"
    assert "Authorization" not in (await _no_token_headers(stub))
    # the probe shows the token file in its command, never the token
    res = await PROBE.run({"query": "up"}, TARGET, _cluster(c))
    assert (
        res.command
        == f'curl -sG -H "Authorization: Bearer $(cat {token})" --data-urlencode query=up {stub.url}/api/v1/query'
    )


async def _no_token_headers(stub: Stub) -> dict[str, str]:
    await PrometheusClient(stub.url).query("up")
    return stub.seen[-1]["headers"]


async def test_token_file_problems(stub: Stub, tmp_path: Path) -> None:
    stub.json(200, OK)
    missing = await _fail(PrometheusClient(stub.url, bearer_token_file=tmp_path / "nope").query("up"))
    assert missing.kind == "error" and "cannot read the Prometheus bearer token file" in missing.message
    (tmp_path / "empty").write_text("\n")
    empty = await _fail(PrometheusClient(stub.url, bearer_token_file=tmp_path / "empty").query("up"))
    assert empty.kind == "unauthorized" and "is empty" in empty.message
    assert stub.seen == []  # nothing was sent without a token


@pytest.mark.parametrize(
    ("status", "doc", "kind", "in_message"),
    [
        (401, {"status": "error", "error": "Unauthorized"}, "unauthorized", "401 Unauthorized"),
        (403, {"status": "error", "error": "forbidden: user cannot get namespaces"}, "forbidden", "403 Forbidden"),
        (404, "404 page not found", "not_found", "404"),
        (
            400,
            {"status": "error", "errorType": "bad_data", "error": "1:5: parse error: oops"},
            "error",
            "parse error: oops",
        ),
        (422, {"status": "error", "errorType": "execution", "error": "many-to-many matching"}, "error", "many-to-many"),
        (
            503,
            {"status": "error", "errorType": "timeout", "error": "query timed out in expression evaluation"},
            "timeout",
            "timed out",
        ),
        (503, "Service Unavailable", "unavailable", "503"),
        (502, "<html>bad gateway</html>", "unavailable", "502"),
        (200, {"status": "error", "error": "odd"}, "garbage", "not 'success': odd"),
        (200, {"status": "success", "data": {"result": []}}, "garbage", "no data.resultType"),
        (200, [1, 2], "garbage", "status is None"),
        (418, "teapot", "error", "HTTP 418"),
    ],
)
async def test_http_failures_map_to_kinds(stub: Stub, status: int, doc: Any, kind: str, in_message: str) -> None:
    if isinstance(doc, str):
        stub.reply = (status, "text/plain", doc.encode())
    else:
        stub.json(status, doc)
    err = await _fail(PrometheusClient(stub.url).query("up"))
    assert err.kind == kind, err.message
    assert in_message in err.message
    if kind == "unauthorized":
        assert err.hint == TOKEN_HINT and "token file" in err.hint


async def test_login_page_is_garbage_with_a_hint(stub: Stub) -> None:
    stub.reply = (200, "text/html; charset=utf-8", b"<!DOCTYPE html><html><title>Log in</title></html>")
    err = await _fail(PrometheusClient(stub.url).query("up"))
    assert err.kind == "garbage" and "not JSON" in err.message and "login page" in (err.hint or "")


async def test_slow_answer_is_a_timeout(stub: Stub) -> None:
    stub.json(200, OK)
    stub.delay = 1.5
    started = time.monotonic()
    err = await _fail(PrometheusClient(stub.url, timeout=0.3).query("up"))
    assert err.kind == "timeout" and "0.3s" in err.message
    assert time.monotonic() - started < 1.4


async def test_oversized_answer_is_refused(stub: Stub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prom_mod, "MAX_ANSWER_BYTES", 1000)
    big = {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {"i": "x" * 2000}}]}}
    stub.json(200, big)
    err = await _fail(PrometheusClient(stub.url).query("up"))
    assert err.kind == "garbage" and "larger than" in err.message


async def test_tls_settings() -> None:
    secure = PrometheusClient("https://127.0.0.1:1")
    assert secure._ssl is not None and secure._ssl.verify_mode.name == "CERT_REQUIRED"
    insecure = PrometheusClient("https://127.0.0.1:1", verify_tls=False)
    assert insecure._ssl is not None and insecure._ssl.check_hostname is False
    assert PrometheusClient("http://127.0.0.1:1")._ssl is None
    with pytest.raises(ValueError, match="cannot load the CA file"):
        PrometheusClient("https://127.0.0.1:1", ca_file="/nonexistent/ca.pem")


async def test_tls_verification(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    crt, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
            *("-keyout", str(key), "-out", str(crt), "-days", "2", "-subj", "/CN=prometheus-test"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    stub = Stub(tls=(crt, key))
    try:
        stub.json(200, OK)
        err = await _fail(PrometheusClient(stub.url, timeout=5).query("up"))
        assert err.kind == "unavailable" and "TLS verification failed" in err.message
        assert "--prometheus-ca-file" in (err.hint or "")
        assert await PrometheusClient(stub.url, ca_file=crt, timeout=5).query("up") == OK["data"]
        insecure = PrometheusClient(stub.url, verify_tls=False, timeout=5)
        res = await PROBE.run({"query": "up"}, TARGET, _cluster(insecure))
        assert res.command == f"curl -sG -k --data-urlencode query=up {stub.url}/api/v1/query"
        pinned = await PROBE.run({"query": "up"}, TARGET, _cluster(PrometheusClient(stub.url, ca_file=crt)))
        assert pinned.command.startswith(f"curl -sG --cacert {crt} ")
    finally:
        stub.close()


def test_network_error_mapping() -> None:
    assert prom_mod._network_error("P", socket.gaierror(-2, "Name or service not known"), 1).kind == "unavailable"
    assert prom_mod._network_error("P", TimeoutError(), 2.5).message == "P: no answer within 2.5s"
    cert = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cert.verify_message = "self-signed certificate"
    tls = prom_mod._network_error("P", cert, 1)
    assert tls.kind == "unavailable" and "self-signed" in tls.message and "--prometheus-ca-file" in (tls.hint or "")
    assert prom_mod._network_error("P", ConnectionResetError(104, "Connection reset by peer"), 1).message == (
        "P: Connection reset by peer"
    )
