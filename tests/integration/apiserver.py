"""A loopback Kubernetes API server that serves a SnapshotData, for integration tests.

Both the official `kubernetes` Python client and a real `kubectl` talk to it through the
kubeconfig that `write_kubeconfig` writes. It is read-only: GETs (get, list, watch, logs,
discovery), exec over WebSocket, and SelfSubjectAccessReview; every other write is journaled
and answered 405. Faults (status codes, stalls, dropped connections, garbage bodies) and RBAC
denials can be injected per test.

It listens on 127.0.0.1 only, from a background thread with its own asyncio loop, so
synchronous clients and subprocesses can use it while the test thread waits on them.

It speaks HTTPS by default, with a throwaway self-signed certificate (made once per process with
the `openssl` command) that the kubeconfig carries as its certificate authority: kubectl (client-go's
clientcmd) never sends a kubeconfig's bearer token over plain HTTP, so over http:// every kubectl
request would be anonymous. `tls=False` gives plain http:// for the Python client alone.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import json
import logging
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import yaml
from aiohttp import WSMsgType, web

from llmd_triage.cluster.selectors import field_matcher, label_matcher
from llmd_triage.cluster.snapshot import SnapshotData

Obj = dict[str, Any]

SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}

#: exec subprotocols, best first; the client's order of preference decides among those it offers
EXEC_PROTOCOLS = (
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
    "base64.channel.k8s.io",
)
STDOUT, STDERR, ERROR, CLOSE = 1, 2, 3, 255
FRAME_BYTES = 32 * 1024

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
NOT_FOUND_MESSAGE = "the server could not find the requested resource"
#: what a real cluster lets anyone read (the system:public-info-viewer ClusterRole)
PUBLIC_PATHS = {"/version", "/healthz", "/livez", "/readyz"}

_CERT_LOCK = threading.Lock()
_CERT: tuple[Path, Path] | None = None


def certificate() -> tuple[Path, Path]:
    """(certificate, key) of a self-signed certificate for 127.0.0.1 and localhost, made once per process."""
    global _CERT
    with _CERT_LOCK:
        if _CERT is None:
            openssl = shutil.which("openssl")
            if openssl is None:
                raise RuntimeError("the loopback API server needs the openssl command for TLS (or pass tls=False)")
            folder = Path(tempfile.mkdtemp(prefix="fake-apiserver-tls-"))
            atexit.register(shutil.rmtree, folder, True)
            crt, key = folder / "tls.crt", folder / "tls.key"
            subprocess.run(
                [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", str(key), "-out", str(crt), "-days", "30", "-subj", "/CN=loopback-apiserver",
                 "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
            _CERT = (crt, key)
        return _CERT


# --------------------------------------------------------------------------------------------
# resource catalog


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = ("get", "list", "watch")
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    builtin: bool = True
    #: subresource name -> (kind, verbs)
    subresources: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def discovery(self) -> list[Obj]:
        singular = self.kind.lower()
        main: Obj = {
            "name": self.plural,
            "singularName": singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            main["shortNames"] = list(self.short_names)
        if self.categories:
            main["categories"] = list(self.categories)
        subs = [
            {
                "name": f"{self.plural}/{sub}",
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": kind,
                "verbs": list(verbs),
            }
            for sub, kind, verbs in self.subresources
        ]
        return [main, *subs]


_ALL = ("all",)
_POD_SUBS = (
    ("log", "Pod", ("get",)),
    ("exec", "PodExecOptions", ("create", "get")),
    ("status", "Pod", ("get",)),
    ("proxy", "PodProxyOptions", ("get", "create")),
    ("eviction", "Eviction", ("create",)),
)
# (group, version, plural, kind, namespaced, shortNames, categories)
_BUILTIN: list[tuple[str, str, str, str, bool, tuple[str, ...], tuple[str, ...]]] = [
    ("", "v1", "pods", "Pod", True, ("po",), _ALL),
    ("", "v1", "nodes", "Node", False, ("no",), ()),
    ("", "v1", "events", "Event", True, ("ev",), ()),
    ("", "v1", "namespaces", "Namespace", False, ("ns",), ()),
    ("", "v1", "services", "Service", True, ("svc",), _ALL),
    ("", "v1", "endpoints", "Endpoints", True, ("ep",), ()),
    ("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ("pvc",), ()),
    ("", "v1", "persistentvolumes", "PersistentVolume", False, ("pv",), ()),
    ("", "v1", "configmaps", "ConfigMap", True, ("cm",), ()),
    ("", "v1", "secrets", "Secret", True, (), ()),
    ("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",), ()),
    ("", "v1", "replicationcontrollers", "ReplicationController", True, ("rc",), _ALL),
    ("apps", "v1", "deployments", "Deployment", True, ("deploy",), _ALL),
    ("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",), _ALL),
    ("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",), _ALL),
    ("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), _ALL),
    ("batch", "v1", "jobs", "Job", True, (), _ALL),
    ("batch", "v1", "cronjobs", "CronJob", True, ("cj",), _ALL),
    ("events.k8s.io", "v1", "events", "Event", True, ("ev",), ()),
    ("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ("sc",), ()),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False, ("crd", "crds"), ()),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", True, (), ()),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, (), ()),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, (), ()),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False, (), ()),
    ("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False, (), ()),
]

#: kinds whose plural is not the lowercase kind + s/es/ies
IRREGULAR_PLURALS = {
    "endpoints": "endpoints",
    "networkattachmentdefinition": "network-attachment-definitions",
    "podmetrics": "pods",
    "nodemetrics": "nodes",
    "resourceclaimparameters": "resourceclaimparameters",
    "resourceclassparameters": "resourceclassparameters",
}

#: kinds that are cluster-scoped (anything else: namespaced if a snapshot object has a namespace)
CLUSTER_SCOPED = {
    "node",
    "namespace",
    "persistentvolume",
    "storageclass",
    "clusterrole",
    "clusterrolebinding",
    "customresourcedefinition",
    "priorityclass",
    "runtimeclass",
    "ingressclass",
    "csidriver",
    "csinode",
    "volumeattachment",
    "gatewayclass",
    "clusterpolicy",
    "nvidiadriver",
    "nodefeaturerule",
    "componentstatus",
    "mutatingwebhookconfiguration",
    "validatingwebhookconfiguration",
    "validatingadmissionpolicy",
    "apiservice",
    "deviceclass",
    "resourceslice",
    "clusterissuer",
    "certificatesigningrequest",
    "selfsubjectaccessreview",
    "selfsubjectrulesreview",
    "subjectaccessreview",
    "tokenreview",
    "nodemetrics",
    "clusterqueue",
    "resourceflavor",
    "clusterservingruntime",
}


def plural_of(kind: str) -> str:
    k = kind.lower()
    if k in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[k]
    if k.endswith(("s", "x", "z", "ch", "sh")):
        return k + "es"
    if k.endswith("y") and len(k) > 1 and k[-2] not in "aeiou":
        return k[:-1] + "ies"
    return k + "s"


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


class Catalog:
    """The resources the server serves: builtins plus every group/version/kind in the snapshot."""

    def __init__(self, data: SnapshotData) -> None:
        self.resources: dict[tuple[str, str, str], Resource] = {}
        self.by_kind: dict[str, list[Obj]] = {}
        for (kind, _ns, _name), obj in data.objects.items():
            self.by_kind.setdefault(kind, []).append(obj)
        for group, version, plural, kind, namespaced, short, cats in _BUILTIN:
            verbs: tuple[str, ...] = ("create",) if kind == "SelfSubjectAccessReview" else ("get", "list", "watch")
            subs = _POD_SUBS if kind == "Pod" else ()
            self._add(Resource(group, version, plural, kind, namespaced, verbs, short, cats, True, subs))
        builtin_kinds = {r.kind.lower(): r for r in self.resources.values()}
        for crd in self.by_kind.get("customresourcedefinition", []):
            spec = crd.get("spec") or {}
            names = spec.get("names") or {}
            if not spec.get("group") or not names.get("kind"):
                continue
            for v in spec.get("versions") or [{"name": spec.get("version")}]:
                if v.get("name") and v.get("served", True):
                    plural = names.get("plural") or plural_of(names["kind"])
                    self._add(
                        Resource(
                            spec["group"],
                            v["name"],
                            plural,
                            names["kind"],
                            spec.get("scope", "Namespaced") == "Namespaced",
                            short_names=tuple(names.get("shortNames") or ()),
                            categories=tuple(names.get("categories") or ()),
                            builtin=False,
                        )
                    )
        for kind_lower, objs in self.by_kind.items():
            for obj in objs:
                group, version = split_api_version(str(obj.get("apiVersion") or "v1"))
                kind = str(obj["kind"])
                if self.find_kind(group, version, kind):
                    continue
                known = builtin_kinds.get(kind_lower)
                if known and known.group == group:
                    self._add(
                        Resource(
                            group,
                            version,
                            known.plural,
                            known.kind,
                            known.namespaced,
                            known.verbs,
                            known.short_names,
                            known.categories,
                            True,
                            known.subresources,
                        )
                    )
                    continue
                namespaced = kind_lower not in CLUSTER_SCOPED and any(
                    (o.get("metadata") or {}).get("namespace")
                    for o in objs
                    if split_api_version(str(o.get("apiVersion") or "v1"))[0] == group
                )
                self._add(Resource(group, version, plural_of(kind), kind, namespaced, builtin=False))

    def _add(self, res: Resource) -> None:
        self.resources.setdefault((res.group, res.version, res.plural), res)

    def find_kind(self, group: str, version: str, kind: str) -> Resource | None:
        for r in self.resources.values():
            if r.group == group and r.version == version and r.kind.lower() == kind.lower():
                return r
        return None

    def group_versions(self) -> dict[str, list[str]]:
        """group -> versions, in the order they were added (core group under '')."""
        out: dict[str, list[str]] = {}
        for r in self.resources.values():
            versions = out.setdefault(r.group, [])
            if r.version not in versions:
                versions.append(r.version)
        return out

    def in_group_version(self, group: str, version: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.group == group and r.version == version]

    def objects_of(self, res: Resource) -> list[Obj]:
        objs = self.by_kind.get(res.kind.lower(), [])
        if res.builtin:
            return objs
        return [o for o in objs if split_api_version(str(o.get("apiVersion") or "v1"))[0] == res.group]


# --------------------------------------------------------------------------------------------
# journal, faults, RBAC


@dataclass
class JournalEntry:
    method: str
    path: str
    query: dict[str, list[str]]
    verb: str
    status: int = 0
    ms: float = 0.0
    #: with an authorizer: the RBAC attributes asked (verb, group, resource, subresource, namespace, name), the answer
    attrs: tuple[str, str, str, str, str, str] | None = None
    allowed: bool | None = None


@dataclass
class Fault:
    path: str = ".*"
    method: str | None = None
    status: int | None = None
    message: str = ""
    stall_s: float = 0.0
    drop: bool = False
    garbage: bool = False
    times: int | None = None
    _regex: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._regex = re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return self._regex.search(path) is not None


@dataclass(frozen=True)
class DenyRule:
    verb: str
    resource: str
    namespace: str | None
    subresource: str | None

    def matches(self, verb: str, group: str, resource: str, subresource: str, namespace: str) -> bool:
        rverb, rres, rsub = self.verb, self.resource, self.subresource
        if "/" in rres and rsub is None:
            rres, rsub = rres.split("/", 1)
        if rverb != "*" and rverb != verb:
            return False
        if rres != "*":
            name, _, rgroup = rres.partition(".")
            if name != resource or (rgroup and rgroup != group):
                return False
        if (rsub or "") != (subresource or "") and rsub != "*":
            return False
        return self.namespace is None or self.namespace == namespace


@dataclass
class ReqInfo:
    """What a request path names."""

    kind: str  # discovery | resource | unknown
    group: str = ""
    version: str = ""
    namespace: str = ""
    plural: str = ""
    name: str = ""
    subresource: str = ""
    proxy_path: str = "/"

    @property
    def qualified(self) -> str:
        """How the API server names the resource in messages: `pods`, `deployments.apps`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def resource_label(self) -> str:
        return f"{self.plural}/{self.subresource}" if self.subresource else self.plural


_DISCOVERY_PATHS = re.compile(r"^/(version|api|apis|healthz|livez|readyz|openapi(/.*)?|apis/[^/]+(/[^/]+)?)/?$")


def parse_path(path: str) -> ReqInfo:
    path = path.rstrip("/") or "/"
    proxied = re.match(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/proxy(/.*)?$", path)
    if proxied:  # pods/NAME[:PORT]/proxy/PATH: the rest of the path goes to the pod
        info = ReqInfo("resource", "", "v1")
        info.namespace, info.plural, info.name, info.subresource = proxied.group(1), "pods", proxied.group(2), "proxy"
        info.proxy_path = proxied.group(3) or "/"
        return info
    if _DISCOVERY_PATHS.match(path) or path == "/api/v1":
        return ReqInfo("discovery")
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api" and parts[1] == "v1":
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return ReqInfo("unknown")
    info = ReqInfo("resource", group, version)
    if rest[0] == "namespaces" and (len(rest) >= 4 or (len(rest) == 3 and rest[2] not in ("status", "finalize"))):
        info.namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        return ReqInfo("unknown")
    info.plural = rest[0]
    info.name = rest[1] if len(rest) > 1 else ""
    info.subresource = rest[2] if len(rest) > 2 else ""
    return info


def _truthy(values: list[str] | None) -> bool:
    return bool(values) and values[-1].lower() in ("true", "1", "yes")


def classify(method: str, info: ReqInfo, query: dict[str, list[str]]) -> str:
    """The journal's verb for a request."""
    if info.kind == "discovery":
        return "discovery" if method in ("GET", "HEAD") else method.lower()
    if info.kind == "resource" and info.subresource == "exec":
        return "exec"
    if method in ("GET", "HEAD"):
        if info.kind != "resource":
            return "get"
        if info.subresource == "log":
            return "logs"
        if info.name:
            return "get"
        return "watch" if _truthy(query.get("watch")) else "list"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(
        method,
        "delete" if method == "DELETE" and info.name else "deletecollection" if method == "DELETE" else method.lower(),
    )


def rbac_verb(verb: str, info: ReqInfo) -> str:
    if verb == "logs":
        return "get"
    if verb == "exec":
        return "create"
    return verb


def status_body(code: int, message: str, reason: str | None = None, details: Obj | None = None) -> Obj:
    body: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or REASONS.get(code, ""),
        "code": code,
    }
    if details is not None:
        body["details"] = details
    return body


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=json.dumps(body).encode(), content_type="application/json", headers=headers)


def status_response(
    code: int,
    message: str,
    reason: str | None = None,
    details: Obj | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    return json_response(status_body(code, message, reason, details), code, headers)


def _details(info: ReqInfo) -> Obj:
    d: Obj = {"kind": info.resource_label or info.plural}
    if info.name:
        d["name"] = info.name
    if info.group:
        d["group"] = info.group
    return d


# --------------------------------------------------------------------------------------------
# protobuf: kubectl sends SelfSubjectAccessReview as application/vnd.kubernetes.protobuf


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def _pb_fields(buf: bytes) -> dict[int, list[Any]]:
    """Field number -> values of one protobuf message (no schema: bytes for length-delimited fields)."""
    out: dict[int, list[Any]] = {}
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i : i + n], i + n
        elif wire in (1, 5):
            n = 8 if wire == 1 else 4
            value, i = buf[i : i + n], i + n
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


_RESOURCE_ATTRIBUTES = {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource", 6: "subresource", 7: "name"}
_NON_RESOURCE_ATTRIBUTES = {1: "path", 2: "verb"}


def decode_ssar_protobuf(body: bytes) -> Obj:
    """The spec of a protobuf SelfSubjectAccessReview (k8s envelope around runtime.Unknown), as JSON would give it."""
    if not body.startswith(b"k8s\x00"):
        raise ValueError("not a Kubernetes protobuf envelope")
    raw = _pb_fields(body[4:]).get(2, [b""])[0]
    spec = _pb_fields(_pb_fields(raw).get(2, [b""])[0])
    out: Obj = {}
    for number, key, names in (
        (1, "resourceAttributes", _RESOURCE_ATTRIBUTES),
        (2, "nonResourceAttributes", _NON_RESOURCE_ATTRIBUTES),
    ):
        if number in spec:
            fields = _pb_fields(spec[number][0])
            out[key] = {
                names[n]: v[0].decode() for n, v in fields.items() if n in names and isinstance(v[0], bytes) and v[0]
            }
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": out}


# --------------------------------------------------------------------------------------------
# tables (what `kubectl get` asks for)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def human_age(value: Any) -> str:
    """kubectl's duration.HumanDuration, from a timestamp to now."""
    ts = _parse_time(value)
    if ts is None:
        return "<unknown>"
    s = int((datetime.now(UTC) - ts).total_seconds())
    if s < -1:
        return "<invalid>"
    s = max(s, 0)
    m, h, d = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 192:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    return f"{d // 365}y{d % 365}d" if d < 365 * 8 else f"{d // 365}y"


def _col(name: str, type_: str = "string", fmt: str = "", priority: int = 0) -> Obj:
    return {"name": name, "type": type_, "format": fmt, "description": name, "priority": priority}


def _pod_cells(pod: Obj) -> list[Any]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    cstatuses = status.get("containerStatuses") or []
    total = len(spec.get("containers") or []) or len(cstatuses)
    ready = sum(1 for c in cstatuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in cstatuses)
    reason = status.get("reason") or status.get("phase") or "Unknown"
    last_restart = None
    for c in reversed(cstatuses):
        state = c.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated"):
            t = state["terminated"]
            reason = t.get("reason") or f"ExitCode:{t.get('exitCode', 0)}"
        finished = ((c.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        if finished and (last_restart is None or finished > last_restart):
            last_restart = finished
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    restart_cell = f"{restarts} ({human_age(last_restart)} ago)" if restarts and last_restart else str(restarts)
    meta = pod.get("metadata") or {}
    return [
        meta.get("name"),
        f"{ready}/{total}",
        reason,
        restart_cell,
        human_age(meta.get("creationTimestamp")),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        "<none>",
    ]


def _node_cells(node: Obj) -> list[Any]:
    meta, status = node.get("metadata") or {}, node.get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    state = "Ready" if ready and ready.get("status") == "True" else "NotReady" if ready else "Unknown"
    if (node.get("spec") or {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    roles = sorted(k.split("/", 1)[1] for k in (meta.get("labels") or {}) if k.startswith("node-role.kubernetes.io/"))
    return [
        meta.get("name"),
        state,
        ",".join(roles) or "<none>",
        human_age(meta.get("creationTimestamp")),
        (status.get("nodeInfo") or {}).get("kubeletVersion", ""),
    ]


def _event_cells(ev: Obj) -> list[Any]:
    inv = ev.get("involvedObject") or ev.get("regarding") or {}
    last = ev.get("lastTimestamp") or ev.get("eventTime") or (ev.get("metadata") or {}).get("creationTimestamp")
    return [
        human_age(last),
        ev.get("type", ""),
        ev.get("reason", ""),
        f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}",
        ev.get("message") or ev.get("note") or "",
    ]


def table_for(res: Resource, items: list[Obj], include: str) -> Obj:
    kind = res.kind
    if kind == "Pod":
        cols = [_col("Name", fmt="name"), _col("Ready"), _col("Status"), _col("Restarts"), _col("Age")]
        cols += [
            _col("IP", priority=1),
            _col("Node", priority=1),
            _col("Nominated Node", priority=1),
            _col("Readiness Gates", priority=1),
        ]
        cells: Callable[[Obj], list[Any]] = _pod_cells
    elif kind == "Node":
        cols = [_col("Name", fmt="name"), _col("Status"), _col("Roles"), _col("Age"), _col("Version")]
        cells = _node_cells
    elif kind == "Event":
        cols = [_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Message")]
        cells = _event_cells
    else:
        cols = [_col("Name", fmt="name"), _col("Age")]

        def cells(o: Obj) -> list[Any]:
            meta = o.get("metadata") or {}
            return [meta.get("name"), human_age(meta.get("creationTimestamp"))]

    rows = []
    for o in items:
        row: Obj = {"cells": cells(o)}
        if include == "Object":
            row["object"] = o
        elif include != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": o.get("metadata") or {},
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": "1"},
        "columnDefinitions": cols,
        "rows": rows,
    }


def _ns_name(o: Obj) -> tuple[str, str]:
    meta = o.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or ""


def _wants_table(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return any("as=Table" in part and "g=meta.k8s.io" in part for part in accept.split(","))


# --------------------------------------------------------------------------------------------
# the server


class _Dropped(Exception):
    """The handler closed the connection on purpose; there is no response to write."""


class FakeApiServer:
    """A loopback Kubernetes API server over a SnapshotData. Use as a context manager or start()/stop()."""

    def __init__(
        self, data: SnapshotData, *, latency: float = 0.0, token: str = "loopback-token", tls: bool = True
    ) -> None:
        #: opt-in: accept POST/DELETE of pods (for the debug-pod path); otherwise every write is 405
        self.allow_pod_writes = False
        self.created_pods: list[str] = []
        self.deleted_pods: list[str] = []
        #: opt-in: accept the writes of confirmed remediation (patch a node, evict or delete a pod), honouring
        #: dryRun=All; every write that changed something is listed in `remediations`
        self.allow_remediation_writes = False
        #: opt-in: accept creates (POST to a collection) and JSON merge patches of any object (`toolbox apply`);
        #: each one that changed something is listed in `object_writes`
        self.allow_object_writes = False
        self.object_writes: list[str] = []
        #: exec websockets being served right now (a client that goes away must bring this back to 0)
        self.open_execs = 0
        self.remediations: list[str] = []
        self.data = data
        self.tls = tls
        self._ssl: ssl.SSLContext | None = None
        self.ca_pem: bytes | None = None
        #: the certificate (its own CA) as a file, for clients that want a path (websocket-client's sslopt)
        self.ca_file: Path | None = None
        if tls:
            crt, key = certificate()
            self.ca_file = crt
            self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._ssl.load_cert_chain(crt, key)
            self.ca_pem = crt.read_bytes()
        self.latency = latency
        self.token = token
        self.journal: list[JournalEntry] = []
        self.user = f"system:serviceaccount:{data.namespace}:llmd-triage"
        self._faults: list[Fault] = []
        self._deny: list[DenyRule] = []
        #: optional RBAC authorizer, (verb, group, resource, subresource, namespace, name) -> allowed: every resource
        #: request (and every SelfSubjectAccessReview it answers) goes through it; discovery stays open to all, as
        #: the system:discovery ClusterRole makes it on a real cluster
        self.authorize: Callable[[str, str, str, str, str, str], bool] | None = None
        self._catalog: Catalog | None = None
        self._catalog_sig: tuple[int, int] = (0, -1)
        self._sorted: dict[tuple[str, str, str], list[Obj]] = {}
        self._sorted_for: Catalog | None = None
        self._exec_index: dict[str, list[tuple[int, Obj]]] = {}
        self._exec_index_sig: tuple[int, int] = (0, -1)
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._transports: set[asyncio.BaseTransport] = set()
        self._started = threading.Event()
        self._startup_error: BaseException | None = None
        self._stopped = False

    # ---- lifecycle

    def start(self) -> FakeApiServer:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name=f"fake-apiserver:{self.port}", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the loopback API server did not start in 10 s")
        if self._startup_error is not None:
            raise RuntimeError(f"the loopback API server did not start: {self._startup_error}") from self._startup_error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._astart())
        except BaseException as exc:
            self._startup_error = exc
            self._started.set()
            loop.close()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _astart(self) -> None:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, keepalive_timeout=30, shutdown_timeout=0.2
        )
        await self._runner.setup()
        self._sock.listen(128)
        self._sock.setblocking(False)
        site = web.SockSite(self._runner, self._sock, ssl_context=self._ssl)
        await site.start()

    async def _astop(self) -> None:
        # abort every connection first: a TLS close would otherwise wait for the peer's close_notify
        for transport in list(self._transports):
            with contextlib.suppress(Exception):
                transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1)
        if self._runner is not None:
            await self._runner.cleanup()
        await asyncio.sleep(0)  # let the aborted transports run their close callbacks

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or self._startup_error is not None:
            self._sock.close()
            return
        fut = asyncio.run_coroutine_threadsafe(self._astop(), loop)
        with contextlib.suppress(Exception):
            fut.result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> FakeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- configuration

    def write_kubeconfig(self, path: Path, *, context: str = "loopback", namespace: str | None = None) -> Path:
        path = Path(path)
        ctx: Obj = {"cluster": context, "user": context}
        if namespace:
            ctx["namespace"] = namespace
        cluster: Obj = {"server": self.url}
        if self.ca_pem:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem).decode()
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": context, "user": {"token": self.token}}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
            "preferences": {},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        return path

    def add_fault(
        self,
        *,
        path: str = ".*",
        method: str | None = None,
        status: int | None = None,
        message: str = "",
        stall_s: float = 0.0,
        drop: bool = False,
        garbage: bool = False,
        times: int | None = None,
    ) -> None:
        """Misbehave on requests whose URL path matches `path` (re.search) and `method`, after auth.

        The first matching fault fires: wait `stall_s`, then drop the connection without an answer
        (`drop`; for an exec WebSocket after half its stdout), or answer 200 with a non-JSON body
        (`garbage`), or answer `status` with the API server's Status body (403 with the RBAC message,
        404, 409 Conflict, 429 with Retry-After: 1, 500 InternalError, ...; `message` replaces the
        default text), or, with none of those, serve normally after the stall. `times` limits how often
        it fires (None: always). The journal records a dropped request with status 0.
        """
        with self._lock:
            self._faults.append(Fault(path, method, status, message, stall_s, drop, garbage, times))

    def deny(self, verb: str, resource: str, namespace: str | None = None, subresource: str | None = None) -> None:
        """Forbid an RBAC verb ('get', 'list', 'watch', 'create', or '*') on a resource: 'pods', 'pods/log',
        'inferencepools.inference.networking.k8s.io' or '*'; in one namespace or (None) everywhere.

        Matching requests get 403 like the real API server, and SelfSubjectAccessReview answers
        allowed=false. Logs are 'get' on pods/log, exec is 'create' on pods/exec; as in RBAC, a rule
        for 'pods' does not cover its subresources.
        """
        with self._lock:
            self._deny.append(DenyRule(verb, resource, namespace, subresource))

    def clear_faults(self) -> None:
        """Forget every fault and every deny() rule."""
        with self._lock:
            self._faults.clear()
            self._deny.clear()

    # ---- helpers

    @property
    def catalog(self) -> Catalog:
        sig = (id(self.data.objects), len(self.data.objects))
        if self._catalog is None or sig != self._catalog_sig:
            self._catalog = Catalog(self.data)
            self._catalog_sig = sig
        return self._catalog

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for f in self._faults:
                if f.matches(method, path):
                    if f.times is not None:
                        f.times -= 1
                    return f
        return None

    def _denied(self, verb: str, group: str, resource: str, subresource: str, namespace: str) -> bool:
        with self._lock:
            rules = list(self._deny)
        return any(r.matches(verb, group, resource, subresource, namespace) for r in rules)

    def _forbidden_message(self, verb: str, info: ReqInfo, path: str = "") -> str:
        if info.kind != "resource":
            return f'forbidden: User "{self.user}" cannot {verb} path "{path}"'
        who = f"{info.resource_label}"
        subject = f'{info.qualified} "{info.name}"' if info.name else info.qualified
        where = f' in the namespace "{info.namespace}"' if info.namespace else " at the cluster scope"
        return f'{subject} is forbidden: User "{self.user}" cannot {verb} resource "{who}" in API group "{info.group}"{where}'

    def _forbidden(self, verb: str, info: ReqInfo, message: str = "", path: str = "") -> web.Response:
        details = _details(info) if info.kind == "resource" else {}
        return status_response(403, message or self._forbidden_message(verb, info, path), details=details)

    def _not_found(self, info: ReqInfo, message: str = "") -> web.Response:
        if not message and info.kind == "resource" and info.name:
            message = f'{info.qualified} "{info.name}" not found'
        return status_response(404, message or NOT_FOUND_MESSAGE, details=_details(info) if info.name else {})

    def _fault_response(self, fault: Fault, verb: str, info: ReqInfo, path: str) -> web.Response:
        code = int(fault.status or 500)
        if code == 403:
            return self._forbidden(
                rbac_verb(verb, info) if info.kind == "resource" else "get", info, fault.message, path
            )
        if code == 404:
            return self._not_found(info, fault.message)
        headers: dict[str, str] = {}
        details = _details(info) if info.kind == "resource" else {}
        message = fault.message
        if code == 409:
            message = (
                message
                or f'Operation cannot be fulfilled on {info.qualified} "{info.name}": the object has been modified; please apply your changes to the latest version and try again'
            )
        elif code == 429:
            message = message or "Too many requests, please try again later."
            headers["Retry-After"] = "1"
            details["retryAfterSeconds"] = 1
        elif code == 500:
            message = message or "Internal error occurred: injected fault"
            details.setdefault("causes", [{"message": message}])
        elif code == 503:
            message = message or "the server is currently unable to handle the request"
        return status_response(code, message or f"injected fault {code}", details=details, headers=headers)

    @staticmethod
    def _drop(request: web.Request) -> None:
        if request.transport is not None:
            request.transport.abort()
        raise _Dropped

    # ---- request handling

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        t0 = time.perf_counter()
        query = parse_qs(request.query_string, keep_blank_values=True)
        info = parse_path(request.path)
        verb = classify(request.method, info, query)
        entry = JournalEntry(request.method, request.path, query, verb)
        self.journal.append(entry)
        if request.transport is not None:
            self._remember(request.transport)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            resp = await self._dispatch(request, info, verb, query, entry)
            entry.status = resp.status
            return resp
        except _Dropped:
            entry.status = 0
            # nothing may be written: hand aiohttp a response on a transport that is gone
            raise asyncio.CancelledError from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in this server: answer like the API server would
            logging.getLogger(__name__).exception("loopback API server failed on %s", request.path)
            entry.status = 500
            return status_response(500, f"loopback API server error: {exc!r}")
        finally:
            entry.ms = (time.perf_counter() - t0) * 1000
            if task is not None:
                self._tasks.discard(task)

    def _remember(self, transport: asyncio.BaseTransport) -> None:
        """Keep the connection's transports to abort at stop. With TLS also the TCP one under it: asyncio
        (3.11) can drop an SSL transport whose peer closed mid-shutdown without closing the socket."""
        if len(self._transports) > 4096:
            self._transports = {t for t in self._transports if not t.is_closing()}
        self._transports.add(transport)
        tcp = getattr(getattr(transport, "_ssl_protocol", None), "_transport", None)
        if tcp is not None:
            self._transports.add(tcp)

    async def _dispatch(
        self, request: web.Request, info: ReqInfo, verb: str, query: dict[str, list[str]], entry: JournalEntry
    ) -> web.StreamResponse:
        if self.latency:
            await asyncio.sleep(self.latency)
        public = request.method == "GET" and request.path.rstrip("/") in PUBLIC_PATHS
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if not public and not (scheme.lower() == "bearer" and presented.strip() == self.token):
            return status_response(401, "Unauthorized")  # the scheme is case-insensitive, as in the API server
        fault = self._take_fault(request.method, request.path)
        midstream_drop = False
        if fault is not None:
            if fault.stall_s:
                await asyncio.sleep(fault.stall_s)
            if fault.drop and verb == "exec" and request.headers.get("Upgrade", "").lower() == "websocket":
                midstream_drop = True
            elif fault.drop:
                self._drop(request)
            elif fault.garbage:
                return web.Response(
                    status=200, body=b"<html><body>502 \x00 not { json", content_type="application/json"
                )
            elif fault.status:
                return self._fault_response(fault, verb, info, request.path)
        if info.kind == "discovery":
            if request.method not in ("GET", "HEAD"):
                return status_response(405, "the server does not allow this method on the requested resource")
            return self._discovery(request)
        if info.kind != "resource":
            if request.method not in ("GET", "HEAD"):
                return status_response(405, "the server does not allow this method on the requested resource")
            return self._not_found(ReqInfo("unknown"))
        catalog = self.catalog
        res = catalog.resources.get((info.group, info.version, info.plural))
        if res is None:
            return self._not_found(ReqInfo("unknown"))
        if info.subresource and info.subresource not in {s[0] for s in res.subresources}:
            return self._not_found(ReqInfo("unknown"))
        if (res.namespaced and info.name and not info.namespace) or (not res.namespaced and info.namespace):
            return self._not_found(ReqInfo("unknown"))
        is_ssar = res.kind == "SelfSubjectAccessReview" and request.method == "POST" and not info.name
        if self.authorize is not None:
            rverb = rbac_verb(verb, info)
            entry.attrs = (rverb, info.group, info.plural, info.subresource, info.namespace, info.name)
            entry.allowed = bool(self.authorize(*entry.attrs))
            if not entry.allowed:
                return self._forbidden(rverb, info)
        if (
            self._denied(rbac_verb(verb, info), info.group, info.plural, info.subresource, info.namespace)
            and not is_ssar
        ):
            return self._forbidden(rbac_verb(verb, info), info)
        if verb == "exec":
            return await self._exec(request, info, query, entry, midstream_drop)
        if is_ssar:
            return await self._ssar(request)
        if self.allow_remediation_writes and request.method in ("PATCH", "POST", "DELETE"):
            answer = await self._remediation_write(request, res.kind, info, query)
            if answer is not None:
                return answer
        if self.allow_object_writes and request.method in ("POST", "PATCH") and not info.subresource:
            return await self._object_write(request, res.kind, info)
        if self.allow_pod_writes and res.kind == "Pod" and request.method in ("POST", "DELETE"):
            return await self._pod_write(request, info)
        if request.method not in ("GET", "HEAD"):
            return status_response(
                405, "the server does not allow this method on the requested resource", details=_details(info)
            )
        if res.kind == "SelfSubjectAccessReview":
            return status_response(
                405, "the server does not allow this method on the requested resource", details=_details(info)
            )
        if info.subresource == "proxy":
            return self._proxy(info)
        if verb == "logs":
            return self._logs(info, query)
        if verb == "get":
            return self._get(request, res, info)
        return await self._list(request, res, info, query, verb == "watch", entry)

    # ---- discovery

    def _discovery(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        catalog = self.catalog
        if path == "/version":
            return json_response(SERVER_VERSION)
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok", content_type="text/plain")
        if path == "/api":
            return json_response(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}
                    ],
                }
            )
        if path == "/api/v1":
            return json_response(self._resource_list("", "v1"))
        groups = {g: vs for g, vs in catalog.group_versions().items() if g}
        if path == "/apis":
            return json_response(
                {
                    "kind": "APIGroupList",
                    "apiVersion": "v1",
                    "groups": [self._api_group(g, vs) for g, vs in groups.items()],
                }
            )
        parts = path.split("/")[2:]
        if parts and parts[0] in groups and len(parts) == 1:
            return json_response(
                {"kind": "APIGroup", "apiVersion": "v1", **self._api_group(parts[0], groups[parts[0]])}
            )
        if len(parts) == 2 and parts[0] in groups and parts[1] in groups[parts[0]]:
            return json_response(self._resource_list(parts[0], parts[1]))
        return self._not_found(ReqInfo("unknown"))

    def _api_group(self, group: str, versions: list[str]) -> Obj:
        vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": vs, "preferredVersion": vs[0]}

    def _resource_list(self, group: str, version: str) -> Obj:
        resources = [d for r in self.catalog.in_group_version(group, version) for d in r.discovery()]
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    # ---- get / list / watch

    def _served(self, res: Resource, obj: Obj) -> Obj:
        out = dict(obj)
        out["apiVersion"] = res.group_version
        out["kind"] = res.kind
        out.setdefault("metadata", {})
        return out

    def _namespaces(self) -> list[Obj]:
        catalog = self.catalog
        have = {(o.get("metadata") or {}).get("name"): o for o in catalog.by_kind.get("namespace", [])}
        names = {"default", "kube-system", self.data.namespace}
        names |= {ns for (_k, ns, _n) in self.data.objects if ns}
        names |= {k[0] for k in self.data.logs}
        names |= {str(r.get("namespace")) for r in self.data.execs if r.get("namespace")}
        out = list(have.values())
        for n in sorted(names - set(have)):
            out.append(
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": n},
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                }
            )
        return out

    def _objects(self, res: Resource, namespace: str) -> list[Obj]:
        if res.kind == "Namespace" and res.group == "":
            objs = self._namespaces()
        else:
            # sorted once per catalog (thousands of pods, asked for in 500-item pages by kubectl)
            catalog = self.catalog
            key = (res.group, res.version, res.plural)
            objs = self._sorted.get(key) if self._sorted_for is catalog else None
            if self._sorted_for is not catalog:
                self._sorted, self._sorted_for = {}, catalog
            if objs is None:
                objs = self._sorted[key] = sorted(catalog.objects_of(res), key=_ns_name)
            if not namespace:
                return objs
        if namespace:
            objs = [o for o in objs if (o.get("metadata") or {}).get("namespace", "") == namespace]
        return sorted(objs, key=_ns_name)

    def _get(self, request: web.Request, res: Resource, info: ReqInfo) -> web.StreamResponse:
        direct = self.data.objects.get((res.kind.lower(), info.namespace or "", info.name))
        if res.kind != "Namespace" and direct is not None:  # by key, not by a walk over every object of the kind
            group = split_api_version(str(direct.get("apiVersion") or "v1"))[0]
            candidates = [direct] if res.builtin or group == res.group else []
        else:
            candidates = self._objects(res, info.namespace)
        for o in candidates:
            if (o.get("metadata") or {}).get("name") == info.name:
                obj = self._served(res, o)
                if _wants_table(request):
                    include = (parse_qs(request.query_string).get("includeObject") or ["PartialObjectMetadata"])[-1]
                    return json_response(table_for(res, [obj], include))
                return json_response(obj)
        return self._not_found(info)

    async def _list(
        self,
        request: web.Request,
        res: Resource,
        info: ReqInfo,
        query: dict[str, list[str]],
        watch: bool,
        entry: JournalEntry,
    ) -> web.StreamResponse:
        try:
            lm = label_matcher((query.get("labelSelector") or [""])[-1])
            fm = field_matcher((query.get("fieldSelector") or [""])[-1])
        except ValueError as exc:
            return status_response(400, f"unable to parse requirement: {exc}")
        items = [o for o in self._objects(res, info.namespace) if lm(o) and fm(o)]
        if watch:
            return await self._watch(request, [self._served(res, o) for o in items], query, entry)
        meta: Obj = {"resourceVersion": "1"}
        limit = int((query.get("limit") or ["0"])[-1] or 0)
        cont = (query.get("continue") or [""])[-1]
        start = 0
        if cont:
            try:
                start = int(base64.urlsafe_b64decode(cont.encode()).decode())
            except ValueError:
                return status_response(400, "continue key is not valid: illegal base64 data", reason="BadRequest")
        if start or limit:
            end = start + limit if limit > 0 else len(items)
            if end < len(items):
                meta["continue"] = base64.urlsafe_b64encode(str(end).encode()).decode()
                meta["remainingItemCount"] = len(items) - end
            items = items[start:end]
        items = [self._served(res, o) for o in items]  # only the page asked for
        if _wants_table(request):
            include = (query.get("includeObject") or ["PartialObjectMetadata"])[-1]
            table = table_for(res, items, include)
            table["metadata"] = meta
            return json_response(table)
        return json_response(
            {"kind": f"{res.kind}List", "apiVersion": res.group_version, "metadata": meta, "items": items}
        )

    async def _watch(
        self, request: web.Request, items: list[Obj], query: dict[str, list[str]], entry: JournalEntry
    ) -> web.StreamResponse:
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        entry.status = 200
        if not _truthy(query.get("sendInitialEvents")) and (query.get("resourceVersion") or [""])[-1] not in ("", "0"):
            items = []  # a watch from a resourceVersion: nothing has changed since
        for obj in items:
            await resp.write(json.dumps({"type": "ADDED", "object": obj}).encode() + b"\n")
        timeout = float((query.get("timeoutSeconds") or ["1800"])[-1] or 1800)
        await asyncio.sleep(min(timeout, 1800))
        await resp.write_eof()
        return resp

    # ---- logs

    def _pod(self, namespace: str, name: str) -> Obj | None:
        return self.data.objects.get(("pod", namespace, name))

    def _containers(self, pod: Obj | None, namespace: str, name: str) -> list[str]:
        if pod is not None:
            return [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
        names = {c for (ns, p, c, _prev) in self.data.logs if ns == namespace and p == name}
        names |= {
            str(r["container"])
            for r in self.data.execs
            if r.get("namespace") == namespace and r.get("pod") == name and r.get("container")
        }
        return sorted(names)

    def _pick_container(self, info: ReqInfo, requested: str) -> tuple[str | None, web.Response | None]:
        pod = self._pod(info.namespace, info.name)
        containers = self._containers(pod, info.namespace, info.name)
        known = (
            pod is not None
            or containers
            or any(r.get("namespace") == info.namespace and r.get("pod") == info.name for r in self.data.execs)
        )
        if not known:
            return None, self._not_found(ReqInfo("resource", "", "v1", info.namespace, "pods", info.name))
        init = [str(c.get("name")) for c in ((pod or {}).get("spec") or {}).get("initContainers") or []]
        if requested:
            if pod is not None and requested not in containers and requested not in init:
                return None, status_response(400, f"container {requested} is not valid for pod {info.name}")
            return requested, None
        if len(containers) == 1:
            return containers[0], None
        if not containers:
            return "", None
        msg = f"a container name must be specified for pod {info.name}, choose one of: [{' '.join(containers)}]"
        if init:
            msg += f" or one of the init containers: [{' '.join(init)}]"
        return None, status_response(400, msg)

    def _logs(self, info: ReqInfo, query: dict[str, list[str]]) -> web.Response:
        container, err = self._pick_container(info, (query.get("container") or [""])[-1])
        if err is not None:
            return err
        previous = _truthy(query.get("previous"))
        text = self.data.logs.get((info.namespace, info.name, container or "", previous))
        if text is None:
            if previous:
                return status_response(
                    400, f'previous terminated container "{container}" in pod "{info.name}" not found'
                )
            text = ""
        tail = (query.get("tailLines") or [""])[-1]
        if tail:
            n = int(tail)
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-n:]) if n > 0 else ""
        body = text.encode()
        limit = (query.get("limitBytes") or [""])[-1]
        if limit:
            body = body[: int(limit)]
        return web.Response(status=200, body=body, content_type="text/plain", charset="utf-8")

    # ---- SelfSubjectAccessReview

    async def _ssar(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            if "protobuf" in request.headers.get("Content-Type", ""):
                review = decode_ssar_protobuf(body)
            else:
                review = json.loads(body)
        except (ValueError, IndexError, UnicodeDecodeError):
            return status_response(400, "the request body is not a SelfSubjectAccessReview")
        spec = (review or {}).get("spec") or {}
        attrs = spec.get("resourceAttributes")
        allowed = True
        if isinstance(attrs, dict):
            asked = tuple(str(attrs.get(k) or "") for k in ("verb", "group", "resource", "subresource", "namespace"))
            allowed = not self._denied(*asked)
            if allowed and self.authorize is not None:
                allowed = bool(self.authorize(*asked, str(attrs.get("name") or "")))
        status: Obj = {"allowed": allowed}
        if allowed:
            status["reason"] = "loopback API server: allowed"
        return json_response(
            {
                "kind": "SelfSubjectAccessReview",
                "apiVersion": "authorization.k8s.io/v1",
                "metadata": {"creationTimestamp": None},
                "spec": spec,
                "status": status,
            },
            201,
        )

    # ---- exec

    def _proxy(self, info: ReqInfo) -> web.StreamResponse:
        """GET through the pod proxy: answered from the snapshot's proxy records, else 503 as when the
        pod does not listen (the API server reports the dial error)."""
        name, _, port = info.name.partition(":")
        body = self.data.proxy.get((info.namespace or "", name, int(port or 80), info.proxy_path))
        if body is None:
            message = f"error trying to reach service: dial tcp 10.0.0.1:{port or 80}: connect: connection refused"
            return status_response(503, message)
        return web.Response(text=body, content_type="text/plain")

    async def _remediation_write(
        self, request: web.Request, kind: str, info: ReqInfo, query: dict[str, list[str]]
    ) -> web.StreamResponse | None:
        """cordon/uncordon (merge patch of Node spec.unschedulable), eviction, pod delete; dryRun=All changes nothing."""
        dry = "All" in query.get("dryRun", [])
        if kind == "Node" and request.method == "PATCH" and info.name:
            node = self.data.objects.get(("node", "", info.name))
            if node is None:
                return self._not_found(info)
            patch = await request.json()
            if not dry:
                value = bool((patch.get("spec") or {}).get("unschedulable"))
                node.setdefault("spec", {})["unschedulable"] = value
                notes = node.setdefault("metadata", {}).setdefault("annotations", {})
                for k, v in ((patch.get("metadata") or {}).get("annotations") or {}).items():
                    if v is None:
                        notes.pop(k, None)  # JSON merge patch: null removes
                    else:
                        notes[k] = v
                self.remediations.append(f"{'cordon' if value else 'uncordon'} node/{info.name}")
            return json_response(node)
        if kind == "Pod" and info.subresource == "eviction" and request.method == "POST":
            if ("pod", info.namespace or "", info.name) not in self.data.objects:
                return self._not_found(info)
            body = await request.json()
            dry = dry or "All" in ((body.get("deleteOptions") or {}).get("dryRun") or [])
            if not dry:
                self.data.objects.pop(("pod", info.namespace or "", info.name), None)
                self.remediations.append(f"evict pod/{info.namespace}/{info.name}")
            return json_response({"kind": "Status", "apiVersion": "v1", "status": "Success"}, status=201)
        if kind == "Pod" and request.method == "DELETE" and info.name and not info.subresource:
            obj = self.data.objects.get(("pod", info.namespace or "", info.name))
            if obj is None:
                return self._not_found(info)
            if not dry:
                self.data.objects.pop(("pod", info.namespace or "", info.name), None)
                self.remediations.append(f"delete pod/{info.namespace}/{info.name}")
            return json_response(obj)
        return None

    async def _object_write(self, request: web.Request, kind: str, info: ReqInfo) -> web.StreamResponse:
        """Create (409 when it exists) or merge-patch (404 when it does not) any object, like the API server."""
        body = await request.json()
        if request.method == "POST" and not info.name:
            meta = body.setdefault("metadata", {})
            if info.namespace:
                meta["namespace"] = info.namespace
            key = (kind.lower(), meta.get("namespace") or "", meta.get("name", ""))
            if key in self.data.objects:
                return status_response(409, f'{info.plural} "{meta.get("name")}" already exists')
            self.data.add_object(body)
            self.object_writes.append(f"create {kind}/{meta.get('name')}")
            return json_response(body, status=201)
        if request.method == "PATCH" and info.name:
            obj = self.data.objects.get((kind.lower(), info.namespace or "", info.name))
            if obj is None:
                return self._not_found(info)

            def merge(into: Obj, patch: Obj) -> None:
                for k, v in patch.items():
                    if v is None:
                        into.pop(k, None)
                    elif isinstance(v, dict) and isinstance(into.get(k), dict):
                        merge(into[k], v)
                    else:
                        into[k] = v

            merge(obj, body)
            self.object_writes.append(f"patch {kind}/{info.name}")
            return json_response(obj)
        return status_response(405, "the server does not allow this method on the requested resource")

    async def _pod_write(self, request: web.Request, info: ReqInfo) -> web.StreamResponse:
        """Create or delete a pod (only with `allow_pod_writes`, for opt-in debug pods): a created pod is
        Running at once; an exec record whose `pod` is "*" answers in it."""
        if request.method == "POST" and not info.name:
            pod = await request.json()
            meta = pod.setdefault("metadata", {})
            meta["namespace"] = info.namespace
            pod["status"] = {"phase": "Running"}
            self.data.add_object({"apiVersion": "v1", "kind": "Pod", **pod})
            self.created_pods.append(f"{info.namespace}/{meta.get('name')}")
            return json_response(pod, status=201)
        if request.method == "DELETE" and info.name:
            obj = self.data.objects.pop(("pod", info.namespace or "", info.name), None)
            if obj is None:
                return self._not_found(info)
            self.deleted_pods.append(f"{info.namespace}/{info.name}")
            return json_response(obj)
        return status_response(405, "the server does not allow this method on the requested resource")

    def _exec_record(self, namespace: str, pod: str, container: str | None, argv: list[str]) -> Obj | None:
        # the records of this pod and the "*" ones, in file order (an index: a synthetic install has thousands)
        execs = self.data.execs
        if self._exec_index_sig != (id(execs), len(execs)):
            index: dict[str, list[tuple[int, Obj]]] = {}
            for i, rec in enumerate(execs):
                index.setdefault(str(rec.get("pod")), []).append((i, rec))
            self._exec_index, self._exec_index_sig = index, (id(execs), len(execs))
        candidates = sorted(self._exec_index.get(pod, []) + self._exec_index.get("*", []), key=lambda ir: ir[0])
        for _i, rec in candidates:
            if rec.get("namespace", namespace) != namespace or rec.get("pod") not in (pod, "*"):
                continue
            if container and rec.get("container") and rec["container"] != container:
                continue
            if [str(a) for a in rec["argv"]] == argv:
                return rec
        return None

    async def _exec(
        self,
        request: web.Request,
        info: ReqInfo,
        query: dict[str, list[str]],
        entry: JournalEntry,
        midstream_drop: bool,
    ) -> web.StreamResponse:
        argv = query.get("command") or []
        if not argv:
            return status_response(400, "you must specify at least 1 command")
        container, err = self._pick_container(info, (query.get("container") or [""])[-1])
        if err is not None:
            return err
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.Response(status=400, text="Upgrade request required", content_type="text/plain")
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        ws = web.WebSocketResponse(protocols=EXEC_PROTOCOLS, autoping=True, timeout=2.0, max_msg_size=0, compress=False)
        try:
            await ws.prepare(request)
        except web.HTTPException as exc:
            return status_response(exc.status, exc.text or "websocket handshake failed")
        entry.status = 101
        protocol = ws.ws_protocol or ("channel.k8s.io" if not offered else "")
        b64 = protocol == "base64.channel.k8s.io"
        structured = protocol in ("v4.channel.k8s.io", "v5.channel.k8s.io")

        async def send(channel: int, payload: bytes) -> None:
            if b64:
                await ws.send_str(str(channel) + base64.b64encode(payload).decode())
            else:
                await ws.send_bytes(bytes([channel]) + payload)

        async def drain() -> None:  # stdin (ignored), v5 close signals, pings, the client's close
            async for msg in ws:
                if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break

        reader = asyncio.create_task(drain())
        self.open_execs += 1
        try:
            rec = self._exec_record(info.namespace, info.name, container, argv)
            if rec is not None and rec.get("delay_s"):
                # a slow command, unless the client hangs up first (as a real kubelet notices)
                await asyncio.wait([reader], timeout=float(rec["delay_s"]))
                if reader.done():
                    return ws
            if rec is None:
                code, out, errout = 127, b"", f'exec: "{argv[0]}": executable file not found in $PATH\n'.encode()
                failure: str | None = None
            elif rec.get("error"):
                err_rec = rec["error"]
                failure = str(err_rec.get("message") if isinstance(err_rec, dict) else err_rec) or "recorded failure"
                code, out, errout = -1, b"", b""
            else:
                failure = None
                code = int(rec.get("exit_code", 0))
                out, errout = str(rec.get("stdout") or "").encode(), str(rec.get("stderr") or "").encode()
            if midstream_drop:
                await send(STDOUT, out[: max(1, len(out) // 2)] if out else b"partial")
                await asyncio.sleep(0.05)
                self._drop(request)
            if _truthy(query.get("stdout")) or "stdout" not in query:
                for i in range(0, len(out), FRAME_BYTES):
                    await send(STDOUT, out[i : i + FRAME_BYTES])
            if _truthy(query.get("stderr")) or "stderr" not in query:
                for i in range(0, len(errout), FRAME_BYTES):
                    await send(STDERR, errout[i : i + FRAME_BYTES])
            if failure is not None:
                status: Obj = {
                    "metadata": {},
                    "status": "Failure",
                    "message": failure,
                    "reason": "InternalError",
                    "details": {"causes": [{"message": failure}]},
                    "code": 500,
                }
                await send(ERROR, json.dumps(status).encode() if structured else failure.encode())
            elif code != 0:
                message = f"command terminated with non-zero exit code: error executing command [{' '.join(argv)}], exit code {code}"
                status = {
                    "metadata": {},
                    "status": "Failure",
                    "message": message,
                    "reason": "NonZeroExitCode",
                    "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
                }
                await send(ERROR, json.dumps(status).encode() if structured else message.encode())
            elif structured:
                await send(ERROR, json.dumps({"metadata": {}, "status": "Success"}).encode())
            await ws.close()
        except (ConnectionError, RuntimeError):
            pass  # the client went away
        finally:
            self.open_execs -= 1
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        return ws


def serve(data: SnapshotData, **kw: Any) -> FakeApiServer:
    """Start a server; the caller stops it."""
    return FakeApiServer(data, **kw).start()


__all__: Iterable[str] = ["FakeApiServer", "JournalEntry", "serve"]
