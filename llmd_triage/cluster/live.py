"""The live cluster, through the official `kubernetes` client. The only module that imports it.

Reads are raw JSON (client v37's typed models reject partial objects and cost time): requests are
built with the client's own serializer, so kubeconfig auth (tokens, client certs, exec plugins,
in-cluster service accounts) works as it does for any client. The client is synchronous; calls run
in worker threads with a bound on concurrent exec/log calls, a deadline on every call, one retry
on a reset connection, and a per-run cache so each LIST happens once per scope.

The cache also answers from a LIST it holds: a GET of an object in it, and a LIST with selectors
in its scope (filtered here with the selector code the snapshot backend uses). A kind asked for
with selectors about many different objects in one scope (the events of every target, the pods on
every node) is read whole once, once more than SELECTOR_LISTS_BEFORE_WHOLE objects were asked
about, instead of once per object: a whole-cluster scan then costs about one LIST per kind and
scope plus the logs and exec calls of the targets it walks, while a walk of one target still
sends its few small selector LISTs (five about one node do not read every pod of the cluster).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import re
import shlex
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmd_triage.cluster.base import ClusterError, ExecResult
from llmd_triage.cluster.selectors import field_equalities, field_matcher, field_string, label_matcher

DEFAULT_TIMEOUT = 20.0
#: where a pod finds its service account; LLMD_TRIAGE_SA_DIR overrides it (tests, unusual mounts)
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_CONCURRENCY = 8
#: objects (a node, an involved object: the `field=value` terms) one kind is asked about with selectors in
#: one scope, each in its own LIST; asking about one more reads the whole scope once
SELECTOR_LISTS_BEFORE_WHOLE = 2

#: kinds of the core group and the common built-in groups: (apiVersion, kind) -> (plural, namespaced)
_BUILTIN: dict[tuple[str, str], tuple[str, bool]] = {
    ("v1", "Pod"): ("pods", True),
    ("v1", "Node"): ("nodes", False),
    ("v1", "Event"): ("events", True),
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "Service"): ("services", True),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "PersistentVolumeClaim"): ("persistentvolumeclaims", True),
    ("v1", "PersistentVolume"): ("persistentvolumes", False),
    ("v1", "Endpoints"): ("endpoints", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("apps/v1", "StatefulSet"): ("statefulsets", True),
    ("apps/v1", "DaemonSet"): ("daemonsets", True),
    ("apps/v1", "ReplicaSet"): ("replicasets", True),
    ("events.k8s.io/v1", "Event"): ("events", True),
    ("storage.k8s.io/v1", "StorageClass"): ("storageclasses", False),
}


@dataclass(frozen=True)
class DebugPods:
    """Permission, given by an explicit flag, to create short-lived privileged debug pods on nodes."""

    image: str = "ghcr.io/llm-d/llmd-triage-toolbox:latest"
    namespace: str = "default"
    ready_timeout: float = 120.0


@dataclass(frozen=True)
class KubeContext:
    """What the user chose, resolved like kubectl does."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None


def _status_message(body: bytes) -> tuple[str, str | None]:
    try:
        status = json.loads(body)
        return str(status.get("message") or status.get("reason") or "").strip(), status.get("reason")
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace").strip(), None


def _error_for(status: int, body: bytes, what: str, can_i: str | None) -> ClusterError:
    message, reason = _status_message(body)
    message = message or f"HTTP {status}"
    if status == 401:
        return ClusterError(
            "unauthorized", f"{what}: credentials rejected ({message})", "refresh your credentials (log in again)"
        )
    if status == 403:
        hint = f"check with: {can_i}" if can_i else "ask for read access to it"
        return ClusterError("forbidden", message, hint)
    if status == 404:
        return ClusterError("not_found", message)
    if status == 429:
        return ClusterError("unavailable", f"{what}: the API server is throttling requests ({message})")
    if status in (408, 504):
        return ClusterError("timeout", f"{what}: {message}")
    if status >= 500:
        return ClusterError("unavailable", f"{what}: the API server failed ({status} {reason or ''} {message})")
    return ClusterError("error", f"{what}: HTTP {status}: {message}")


def _handshake_failure(exc: Any) -> tuple[int, bytes]:
    """The client reports a refused websocket upgrade as status 0 with the HTTP status, headers and body
    packed into `reason` ("Handshake status 403 Forbidden -+-+- {headers} -+-+- body")."""
    if exc.status:
        body = exc.body if isinstance(exc.body, bytes) else str(exc.body or exc.reason).encode()
        return int(exc.status), body
    text = str(exc.reason or "")
    m = re.search(r"Handshake status (\d+)", text)
    body = text.rsplit("-+-+-", 1)[-1].strip() if "-+-+-" in text else text
    return (int(m.group(1)) if m else 0), body.encode()


class LiveCluster:
    """A read-only Cluster on a real API server."""

    def __init__(
        self,
        ctx: KubeContext | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        concurrency: int = DEFAULT_CONCURRENCY,
        prometheus: Any = None,
        debug_pods: DebugPods | None = None,
    ) -> None:
        from kubernetes import client, config

        ctx = ctx or KubeContext()
        self.timeout = timeout
        self._sem = asyncio.Semaphore(concurrency)
        # the client is synchronous: calls run here, not in asyncio's default pool (min(32, CPUs + 4)
        # threads, 6 on a 2-core laptop), so the bounded exec/log calls never starve the GETs and LISTs
        self._pool = ThreadPoolExecutor(max_workers=2 * concurrency + 8, thread_name_prefix="llmd-triage-api")
        self._discovery: dict[str, dict[str, tuple[str, bool]] | None] = {}
        self._cache: dict[tuple[Any, ...], asyncio.Future[Any]] = {}
        #: (path of a whole LIST) -> {(namespace, name): item}, for GETs answered from it
        self._index: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        #: (path of a whole LIST, field path) -> {value: items}, for `field=value` selectors answered from it
        self._field_index: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
        #: (api_version, plural, namespace) -> what selector LISTs in that scope asked about this run
        self._selector_subjects: dict[tuple[str, str, str | None], set[tuple[str, ...]]] = {}
        self.selector_lists_before_whole = SELECTOR_LISTS_BEFORE_WHOLE
        self.prometheus = prometheus
        #: None unless the operator allowed creating debug pods (a mutation) with a flag
        self.debug_pods = debug_pods
        self.requests = 0
        in_cluster = (
            ctx.kubeconfig is None
            and not os.environ.get("KUBECONFIG")
            and not os.path.exists(os.path.expanduser("~/.kube/config"))
            and os.environ.get("KUBERNETES_SERVICE_HOST")
        )
        try:
            if in_cluster:
                from kubernetes.config.incluster_config import InClusterConfigLoader

                # the pod's service account: token (re-read as it rotates), CA and namespace
                sa_dir = Path(os.environ.get("LLMD_TRIAGE_SA_DIR") or SERVICE_ACCOUNT_DIR)
                configuration = client.Configuration()
                InClusterConfigLoader(str(sa_dir / "token"), str(sa_dir / "ca.crt")).load_and_set(configuration)
                self.api = client.ApiClient(configuration)
                self.name = "in-cluster"
                self.user = "serviceaccount"
                ns_file = sa_dir / "namespace"
                default_ns = ns_file.read_text().strip() if ns_file.exists() else "default"
            else:
                self.api = config.new_client_from_config(config_file=ctx.kubeconfig, context=ctx.context)
                contexts, active = config.list_kube_config_contexts(config_file=ctx.kubeconfig)
                chosen = next((c for c in contexts if c["name"] == ctx.context), active) if ctx.context else active
                self.name = chosen["name"] if chosen else "unknown"
                self.user = ((chosen or {}).get("context") or {}).get("user") or "unknown"
                default_ns = ((chosen or {}).get("context") or {}).get("namespace") or "default"
        except config.ConfigException as exc:  # kind `error`: a configuration problem, not the cluster's answer
            raise ClusterError(
                "error",
                f"cannot load cluster configuration: {exc}",
                "pass --kubeconfig/--context, or set KUBECONFIG",
            ) from None
        except FileNotFoundError as exc:
            raise ClusterError("error", f"kubeconfig not found: {exc.filename}", "pass --kubeconfig FILE") from None
        self.default_namespace = ctx.namespace or default_ns
        self.server = self.api.configuration.host

    # ------------------------------------------------------------------ raw HTTP
    def _request(self, path: str, query: list[tuple[str, Any]] | None, timeout: float) -> tuple[int, bytes]:
        import urllib3

        method, url, headers, _body, _post = self.api.param_serialize(
            method="GET",
            resource_path=path,
            query_params=query or [],
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        for attempt in (0, 1):
            try:
                self.requests += 1
                resp = self.api.call_api(method, url, header_params=headers, _request_timeout=timeout)
                return resp.status, resp.read()
            except urllib3.exceptions.ProtocolError:
                if attempt:
                    raise
                time.sleep(0.2)  # one retry, with a short backoff, on a reset connection
        raise AssertionError("unreachable")

    async def _get_json(
        self, path: str, query: list[tuple[str, Any]] | None, what: str, can_i: str | None = None
    ) -> Any:
        status, body = await self._call(self._request, path, query, self.timeout, what=what)
        if status >= 400:
            raise _error_for(status, body, what, can_i)
        try:
            return json.loads(body)
        except ValueError:
            raise ClusterError("garbage", f"{what}: the answer is not JSON: {body[:80]!r}") from None

    async def _call(self, fn: Any, *args: Any, what: str, limited: bool = False, timeout: float | None = None) -> Any:
        import urllib3

        deadline = (timeout or self.timeout) + 5
        loop = asyncio.get_running_loop()
        call = functools.partial(fn, *args)
        try:
            if limited:
                async with self._sem:
                    return await asyncio.wait_for(loop.run_in_executor(self._pool, call), deadline)
            return await asyncio.wait_for(loop.run_in_executor(self._pool, call), deadline)
        except TimeoutError:
            raise ClusterError("timeout", f"{what}: no answer within {deadline:g}s") from None
        except urllib3.exceptions.ReadTimeoutError:
            raise ClusterError("timeout", f"{what}: no answer within {self.timeout:g}s") from None
        except urllib3.exceptions.SSLError as exc:
            raise ClusterError(
                "unavailable", f"{what}: TLS failed: {exc}", "check the cluster CA and server name in your kubeconfig"
            ) from None
        except (
            urllib3.exceptions.MaxRetryError,
            urllib3.exceptions.NewConnectionError,
            urllib3.exceptions.ProtocolError,
            ConnectionError,
            OSError,
        ) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, urllib3.exceptions.SSLError):
                raise ClusterError(
                    "unavailable",
                    f"{what}: TLS failed: {reason}",
                    "check the cluster CA and server name in your kubeconfig",
                ) from None
            if isinstance(reason, urllib3.exceptions.ReadTimeoutError):
                raise ClusterError("timeout", f"{what}: no answer within {self.timeout:g}s") from None
            raise ClusterError(
                "unavailable",
                f"{what}: cannot reach the API server at {self.server} ({reason})",
                "check the network path and the kubeconfig context",
            ) from None

    async def _once(self, key: tuple[Any, ...], make: Any) -> Any:
        """Run `make()` once per key per run; concurrent askers share one request."""
        fut = self._cache.get(key)
        if fut is None:
            fut = asyncio.ensure_future(make())
            # a shared fetch outlives a cancelled asker; its error is read here so none goes unretrieved
            fut.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._cache[key] = fut
        try:
            return await asyncio.shield(fut)
        except ClusterError:
            # failures are not cached beyond the callers already waiting: a retry may succeed
            if self._cache.get(key) is fut:
                del self._cache[key]
            raise

    async def aclose(self) -> None:
        """Cancel the shared fetches still in flight (their askers gave up: a deadline, Ctrl-C)."""
        pending = [f for f in self._cache.values() if not f.done()]
        for f in pending:
            f.cancel()
        for f in pending:
            with contextlib.suppress(BaseException):
                await f

    # ------------------------------------------------------------------ discovery
    async def resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural, namespaced) for a kind; ClusterError not_installed when the cluster does not serve it."""
        if (api_version, kind) in _BUILTIN:
            return _BUILTIN[(api_version, kind)]
        table = await self._once(("discovery", api_version), lambda: self._discover(api_version))
        if table is None or kind not in table:
            raise ClusterError(
                "not_installed",
                f"the cluster does not serve {kind} ({api_version})",
                f"kubectl api-resources --api-group={api_version.split('/')[0]}",
            )
        return table[kind]

    async def _discover(self, api_version: str) -> dict[str, tuple[str, bool]] | None:
        path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        try:
            doc = await self._get_json(path, None, f"discovery of {api_version}")
        except ClusterError as exc:
            if exc.kind == "not_found":
                return None
            raise
        return {
            r["kind"]: (r["name"], bool(r.get("namespaced")))
            for r in doc.get("resources", [])
            if "/" not in r.get("name", "")
        }

    def _path(self, api_version: str, plural: str, namespaced: bool, namespace: str | None, name: str | None) -> str:
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        ns = f"/namespaces/{namespace}" if namespaced and namespace else ""
        return f"{base}{ns}/{plural}" + (f"/{name}" if name else "")

    # ------------------------------------------------------------------ Cluster protocol
    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        plural, namespaced = await self.resource(api_version, kind)
        ns = namespace if namespaced else None
        for path in self._whole_paths(api_version, plural, namespaced, ns):
            index = self._held_index(path)
            if index is not None and (ns or "", name) in index:
                return index[(ns or "", name)]
        can_i = f"kubectl auth can-i get {plural}" + (f" -n {ns}" if ns else "")
        path = self._path(api_version, plural, namespaced, ns, name)
        return await self._once(("get", path), lambda: self._get_json(path, None, f"get {kind} {name}", can_i))

    def _whole_paths(self, api_version: str, plural: str, namespaced: bool, ns: str | None) -> list[str]:
        """Paths of the LISTs without selectors that hold every object of scope `ns`: its own, then all namespaces."""
        own = self._path(api_version, plural, namespaced, ns, None)
        every = self._path(api_version, plural, namespaced, None, None)
        return [own] if own == every else [own, every]

    def _held(self, path: str) -> asyncio.Future[Any] | None:
        """The run's LIST of `path` without selectors: done, in flight, or None."""
        fut = self._cache.get(("list", path, ()))
        if fut is None or (fut.done() and (fut.cancelled() or fut.exception() is not None)):
            return None
        return fut

    def _held_index(self, path: str) -> dict[tuple[str, str], dict[str, Any]] | None:
        fut = self._held(path)
        if fut is None or not fut.done():
            return None
        index = self._index.get(path)
        if index is None:
            index = {
                ((i.get("metadata") or {}).get("namespace") or "", (i.get("metadata") or {}).get("name") or ""): i
                for i in fut.result()
            }
            self._index[path] = index
        return index

    async def _from_whole(
        self,
        api_version: str,
        kind: str,
        plural: str,
        namespaced: bool,
        ns: str | None,
        label_selector: str | None,
        field_selector: str | None,
    ) -> list[dict[str, Any]] | None:
        """A selector LIST answered from a whole LIST of its scope, or None to send it as it is."""
        try:
            lm, fm = label_matcher(label_selector), field_matcher(field_selector)
        except ValueError:
            return None  # the API server says what is wrong with it
        paths = self._whole_paths(api_version, plural, namespaced, ns)
        held = next((p for p in paths if self._held(p) is not None), None)
        scope = (api_version, plural, ns)
        if held is None:
            # what it is about: the values of its `field=value` terms (a node, an object), else its labels
            subject = tuple(v for _f, v in field_equalities(field_selector)) or ("labels", label_selector or "")
            subjects = self._selector_subjects.setdefault(scope, set())
            subjects.add(subject)
            if len(subjects) <= self.selector_lists_before_whole:
                return None
            held = paths[0]
        try:
            items = await self.list(api_version, kind, ns if held == paths[0] else None)
        except ClusterError:
            return None  # e.g. allowed with a selector but not whole: ask as asked
        equal = field_equalities(field_selector)
        if equal:  # the pods of one node, the events of one object: look the first term up
            field, value = equal[0]
            index = self._field_index.get((held, field))
            if index is None:
                index = {}
                for i in items:
                    index.setdefault(field_string(i, field), []).append(i)
                self._field_index[(held, field)] = index
            items = index.get(value, [])
        return [
            i
            for i in items
            if (ns is None or ((i.get("metadata") or {}).get("namespace") or "") == ns) and fm(i) and lm(i)
        ]

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        plural, namespaced = await self.resource(api_version, kind)
        ns = namespace if namespaced else None
        if label_selector or field_selector:
            local = await self._from_whole(api_version, kind, plural, namespaced, ns, label_selector, field_selector)
            if local is not None:
                return local
        query = [(k, v) for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v]
        can_i = f"kubectl auth can-i list {plural}" + (f" -n {ns}" if ns else " -A" if namespaced else "")
        path = self._path(api_version, plural, namespaced, ns, None)

        async def fetch() -> list[dict[str, Any]]:
            doc = await self._get_json(path, query, f"list {plural}", can_i)
            items = doc.get("items")
            if not isinstance(items, list):
                raise ClusterError("garbage", f"list {plural}: the answer has no items")
            item_kind = kind
            return [{"apiVersion": api_version, "kind": item_kind, **i} if "kind" not in i else i for i in items]

        return await self._once(("list", path, tuple(query)), fetch)

    async def logs(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        previous: bool = False,
        tail_lines: int | None = None,
        limit_bytes: int | None = None,
        since_seconds: int | None = None,
    ) -> str:
        query: list[tuple[str, Any]] = []
        if since_seconds is not None:
            query.append(("sinceSeconds", since_seconds))
        if container:
            query.append(("container", container))
        if previous:
            query.append(("previous", "true"))
        if tail_lines is not None:
            query.append(("tailLines", tail_lines))
        if limit_bytes is not None:
            query.append(("limitBytes", limit_bytes))
        path = f"/api/v1/namespaces/{namespace}/pods/{pod}/log"
        what = f"logs of {namespace}/{pod}" + (f" container {container}" if container else "")
        status, body = await self._call(self._request, path, query, self.timeout, what=what, limited=True)
        if status >= 400:
            err = _error_for(status, body, what, f"kubectl auth can-i get pods/log -n {namespace}")
            if status == 400 and "previous terminated container" in err.message:
                raise ClusterError("not_found", err.message, "the container has not restarted since the pod started")
            raise err
        return body.decode("utf-8", "replace")

    async def pod_proxy(self, namespace: str, pod: str, port: int, path: str = "/metrics") -> str:
        api_path = f"/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy{path}"
        what = f"GET {path} on {namespace}/{pod}:{port}"
        status, body = await self._call(self._request, api_path, None, self.timeout, what=what, limited=True)
        if status >= 400:
            raise _error_for(status, body, what, f"kubectl auth can-i get pods --subresource=proxy -n {namespace}")
        return body.decode("utf-8", "replace")

    async def exec(
        self,
        namespace: str,
        pod: str,
        container: str | None,
        argv: list[str],
        timeout: float = 20.0,
        limit_bytes: int = 1_048_576,
    ) -> ExecResult:
        what = f"exec `{shlex.join(argv)}` in {namespace}/{pod}"
        # A cancelled await cannot stop the thread that holds the websocket: this event does, within 0.1 s,
        # so Ctrl-C or Esc leaves no exec session open on the API server.
        stop = threading.Event()
        try:
            return await self._call(
                self._exec_sync,
                namespace,
                pod,
                container,
                list(argv),
                timeout,
                limit_bytes,
                stop,
                what=what,
                limited=True,
                timeout=timeout,
            )
        finally:
            stop.set()

    def _exec_sync(
        self,
        namespace: str,
        pod: str,
        container: str | None,
        argv: list[str],
        timeout: float,
        limit_bytes: int,
        stop: threading.Event | None = None,
    ) -> ExecResult:
        from kubernetes.client.exceptions import ApiException
        from kubernetes.stream.ws_client import websocket_call

        # The request is serialized by the shared ApiClient (auth headers, exec-plugin tokens) and opened
        # with the client's own websocket call. Not through `stream(CoreV1Api(...).connect_get_namespaced_pod_exec)`:
        # that swaps a method on the ApiClient it is given for the length of the handshake
        # (kubernetes-client/python#928), so it needs a private ApiClient per exec, and the first call imports
        # the whole generated CoreV1Api module (~0.3 s) and builds its pydantic validators while the other
        # exec threads wait on the import lock.
        query: list[tuple[str, Any]] = [("command", a) for a in argv]
        if container:
            query.append(("container", container))
        query += [("stderr", True), ("stdin", False), ("stdout", True), ("tty", False)]
        _method, url, headers, _body, _post = self.api.param_serialize(
            method="GET",
            resource_path=f"/api/v1/namespaces/{namespace}/pods/{pod}/exec",
            query_params=query,
            header_params={"Accept": "*/*"},
            auth_settings=["BearerToken"],
        )
        self.requests += 1
        try:
            ws = websocket_call(
                self.api.configuration, "GET", url, headers=headers, _request_timeout=timeout, _preload_content=False
            )
        except ApiException as exc:
            status, body = _handshake_failure(exc)
            can_i = f"kubectl auth can-i create pods/exec -n {namespace}"
            raise _error_for(status, body, f"exec in {namespace}/{pod}", can_i) from None
        out, err = [], []
        size, truncated = 0, False
        end = time.monotonic() + timeout
        try:
            while ws.is_open():
                if time.monotonic() > end:
                    raise ClusterError("timeout", f"`{shlex.join(argv)}` ran past {timeout:g}s in {pod}")
                if stop is not None and stop.is_set():
                    raise ClusterError("error", f"`{shlex.join(argv)}` in {pod} was cancelled")
                ws.update(timeout=0.1)
                for buf, chunk in (
                    (out, ws.read_stdout() if ws.peek_stdout() else ""),
                    (err, ws.read_stderr() if ws.peek_stderr() else ""),
                ):
                    if chunk and size < limit_bytes:
                        buf.append(chunk[: limit_bytes - size])
                        size += len(chunk)
                        truncated = truncated or size > limit_bytes
                if size > limit_bytes:
                    truncated = True
                    break
            code = ws.returncode if not truncated else 0
        finally:
            ws.close()
        return ExecResult(int(code if code is not None else 0), "".join(out), "".join(err), truncated)

    async def self_subject_access_review(self, attrs: dict[str, Any]) -> bool:
        """Ask the API server whether the current user may do something (a create, but of a review only)."""
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attrs},
        }

        def post() -> tuple[int, bytes]:
            method, url, headers, data, _ = self.api.param_serialize(
                method="POST",
                resource_path="/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                header_params={"Accept": "application/json", "Content-Type": "application/json"},
                body=body,
                auth_settings=["BearerToken"],
            )
            self.requests += 1
            resp = self.api.call_api(method, url, header_params=headers, body=data, _request_timeout=self.timeout)
            return resp.status, resp.read()

        status, raw = await self._call(post, what="SelfSubjectAccessReview")
        if status >= 400:
            raise _error_for(status, raw, "SelfSubjectAccessReview", None)
        try:
            return bool(json.loads(raw)["status"]["allowed"])
        except (ValueError, KeyError, TypeError):
            raise ClusterError("garbage", "SelfSubjectAccessReview: unreadable answer") from None

    # ------------------------------------------------------------------ confirmed remediation (ClusterWriter)
    async def _mutate(
        self, method: str, path: str, body: Any | None, what: str, can_i: str, *, dry_run: bool, content_type: str
    ) -> dict[str, Any]:
        query = [("dryRun", "All")] if dry_run else None
        status, raw = await self._call(self._write, method, path, body, query, content_type, what=what)
        if status >= 400:
            raise _error_for(status, raw, what, can_i)
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return {}

    async def _located(
        self, api_version: str, kind: str, name: str | None, namespace: str | None, verb: str
    ) -> tuple[str, str]:
        """The URL path of an object (or of its collection, without a name) and the can-i line for `verb` on it."""
        plural, namespaced = await self.resource(api_version, kind)
        ns = namespace if namespaced else None
        return self._path(api_version, plural, namespaced, ns, name), f"kubectl auth can-i {verb} {plural}" + (
            f" -n {ns}" if ns else ""
        )

    async def read_fresh(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        path, can_i = await self._located(api_version, kind, name, namespace, "get")
        return await self._get_json(path, None, f"get {kind} {name}", can_i)

    async def patch(
        self, api_version: str, kind: str, name: str, namespace: str | None, patch: dict[str, Any], *, dry_run: bool
    ) -> dict[str, Any]:
        path, can_i = await self._located(api_version, kind, name, namespace, "patch")
        return await self._mutate(
            "PATCH", path, patch, f"patch {kind} {name}", can_i, dry_run=dry_run,
            content_type="application/merge-patch+json",
        )  # fmt: skip

    async def delete(
        self, api_version: str, kind: str, name: str, namespace: str | None, *, dry_run: bool
    ) -> dict[str, Any]:
        path, can_i = await self._located(api_version, kind, name, namespace, "delete")
        return await self._mutate(
            "DELETE", path, None, f"delete {kind} {name}", can_i, dry_run=dry_run, content_type="application/json"
        )

    async def apply_object(self, doc: dict[str, Any], *, exists: bool) -> dict[str, Any]:
        """Create `doc`, or merge it into the object that exists (`toolbox apply`, after the operator said yes)."""
        api, kind, meta = doc["apiVersion"], doc["kind"], doc.get("metadata") or {}
        if exists:
            return await self.patch(api, kind, meta["name"], meta.get("namespace"), doc, dry_run=False)
        path, can_i = await self._located(api, kind, None, meta.get("namespace"), "create")
        return await self._mutate(
            "POST", path, doc, f"create {kind} {meta['name']}", can_i, dry_run=False, content_type="application/json"
        )

    async def evict(self, namespace: str, name: str, *, dry_run: bool) -> dict[str, Any]:
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
        if dry_run:
            body["deleteOptions"] = {"dryRun": ["All"]}
        path = f"/api/v1/namespaces/{namespace}/pods/{name}/eviction"
        return await self._mutate(
            "POST", path, body, f"evict pod {namespace}/{name}",
            f"kubectl auth can-i create pods/eviction -n {namespace}", dry_run=dry_run, content_type="application/json",
        )  # fmt: skip

    # ------------------------------------------------------------------ debug pods (opt-in mutation)
    def _write(
        self,
        method: str,
        path: str,
        body: Any | None,
        query: list[tuple[str, Any]] | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, bytes]:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        m, url, hdrs, data, _ = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=query or [],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        self.requests += 1
        resp = self.api.call_api(m, url, header_params=hdrs, body=data, _request_timeout=self.timeout)
        return resp.status, resp.read()

    async def debug_exec(self, node: str, argv: list[str], timeout: float = 20.0) -> ExecResult:
        """Create a privileged pod on `node` (host filesystem at /host), run `chroot /host argv`, delete it.

        Only when the operator allowed debug pods; the pod is deleted whatever happens, and its name and
        labels say who made it (app.kubernetes.io/managed-by=llmd-triage) so a leftover can be found.
        """
        if self.debug_pods is None:
            raise ClusterError("forbidden", "creating debug pods is not allowed", "rerun with --allow-debug-pods")
        cfg = self.debug_pods
        name = f"llmd-triage-debug-{node[:30].rstrip('-.')}-{os.urandom(3).hex()}"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": cfg.namespace,
                "labels": {
                    "app.kubernetes.io/managed-by": "llmd-triage",
                    "app.kubernetes.io/name": "llmd-triage-debug",
                },
            },
            "spec": {
                "nodeName": node,
                "hostPID": True,
                "restartPolicy": "Never",
                "tolerations": [{"operator": "Exists"}],
                "containers": [
                    {
                        "name": "debug",
                        "image": cfg.image,
                        "command": ["sleep", "900"],
                        "securityContext": {"privileged": True},
                        "volumeMounts": [{"name": "host", "mountPath": "/host", "readOnly": True}],
                    }
                ],
                "volumes": [{"name": "host", "hostPath": {"path": "/"}}],
            },
        }
        base = f"/api/v1/namespaces/{cfg.namespace}/pods"
        status, body = await self._call(self._write, "POST", base, pod, what=f"create debug pod on {node}")
        if status >= 400:
            raise _error_for(
                status, body, f"create debug pod on {node}", f"kubectl auth can-i create pods -n {cfg.namespace}"
            )
        try:
            deadline = time.monotonic() + cfg.ready_timeout
            while True:
                obj = await self._get_json(f"{base}/{name}", None, f"read debug pod {name}")
                phase = (obj.get("status") or {}).get("phase")
                if phase == "Running":
                    break
                if phase in ("Failed", "Succeeded") or time.monotonic() > deadline:
                    raise ClusterError(
                        "timeout" if phase not in ("Failed", "Succeeded") else "error",
                        f"debug pod {name} on {node} did not start (phase {phase})",
                        f"kubectl describe pod -n {cfg.namespace} {name}",
                    )
                await asyncio.sleep(1.0)
            return await self.exec(cfg.namespace, name, "debug", ["chroot", "/host", *argv], timeout)
        finally:
            # shielded: a cancelled walk (Ctrl-C, Esc, a deadline) must still delete the pod it made
            await asyncio.shield(
                self._call(
                    self._write, "DELETE", f"{base}/{name}", {"gracePeriodSeconds": 0}, what=f"delete debug pod {name}"
                )
            )
