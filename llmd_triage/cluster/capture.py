"""Capture: record exactly what a walk reads, then write it as a snapshot that replays the same walk.

A RecordingCluster wraps any Cluster; every answer (and every failure) it passes through is kept in
a SnapshotData, redacted, and `write_snapshot` lays it out in the documented snapshot format. Secret
objects never keep their data, and log / exec text goes through the same redaction as reports.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import yaml

from llmd_triage.cluster.base import Cluster, ClusterError, ExecResult
from llmd_triage.cluster.snapshot import FORMAT, SnapshotData
from llmd_triage.files import write_atomic
from llmd_triage.redact import redact, redact_text


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    obj = redact(obj)
    if obj.get("kind") == "Secret":
        obj = {k: v for k, v in obj.items() if k not in ("data", "stringData")}
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return obj


class RecordingCluster:
    """Passes every read to `inner` and remembers what came back."""

    def __init__(self, inner: Cluster) -> None:
        self.inner = inner
        self.name = inner.name
        self.default_namespace = inner.default_namespace
        self.data = SnapshotData(name="capture", namespace=inner.default_namespace)
        inner_prom = getattr(inner, "prometheus", None)
        self.prometheus = None
        if inner_prom is not None:
            from llmd_triage.cluster.prometheus import RecordingPrometheus

            self.prometheus = RecordingPrometheus(inner_prom, self.data.prometheus)

    def _error(self, op: str, exc: ClusterError, **where: Any) -> None:
        rule = {"op": op, **{k: v for k, v in where.items() if v}, "error": {"kind": exc.kind, "message": exc.message}}
        if exc.hint:
            rule["error"]["hint"] = exc.hint
        if rule not in self.data.errors:
            self.data.errors.append(rule)

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        try:
            obj = await self.inner.get(api_version, kind, name, namespace)
        except ClusterError as exc:
            self._error("get", exc, kind=kind, name=name, namespace=namespace)
            raise
        self.data.add_object({"apiVersion": api_version, "kind": kind, **_clean(obj)})
        return obj

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        try:
            items = await self.inner.list(api_version, kind, namespace, label_selector, field_selector)
        except ClusterError as exc:
            self._error("list", exc, kind=kind, namespace=namespace)
            raise
        for obj in items:
            self.data.add_object({"apiVersion": api_version, "kind": kind, **_clean(obj)})
        return items

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
        try:
            text = await self.inner.logs(namespace, pod, container, previous, tail_lines, limit_bytes, since_seconds)
        except ClusterError as exc:
            self._error("logs", exc, kind="Pod", name=pod, namespace=namespace)
            raise
        if container:
            self.data.logs[(namespace, pod, container, previous)] = redact_text(text)
        return text

    async def pod_proxy(self, namespace: str, pod: str, port: int, path: str = "/metrics") -> str:
        try:
            body = await self.inner.pod_proxy(namespace, pod, port, path)
        except ClusterError as exc:
            self._error("proxy", exc, kind="Pod", name=pod, namespace=namespace)
            raise
        self.data.proxy[(namespace, pod, int(port), path)] = redact_text(body)
        return body

    async def exec(
        self,
        namespace: str,
        pod: str,
        container: str | None,
        argv: list[str],
        timeout: float = 20.0,
        limit_bytes: int = 1_048_576,
    ) -> ExecResult:
        rec: dict[str, Any] = {"namespace": namespace, "pod": pod, "argv": list(argv)}
        if container:
            rec["container"] = container
        try:
            res = await self.inner.exec(namespace, pod, container, argv, timeout, limit_bytes)
        except ClusterError as exc:
            rec["error"] = {"kind": exc.kind, "message": exc.message}
            self.data.execs.append(rec)
            raise
        rec.update(exit_code=res.exit_code, stdout=redact_text(res.stdout), stderr=redact_text(res.stderr))
        self.data.execs.append(rec)
        return res


class _Literal(str):
    """A string YAML writes as a `|` block, so captured output stays readable."""


def _literal_representer(dumper: yaml.SafeDumper, value: _Literal) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal_representer)


def _dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=200)


def write_snapshot(
    data: SnapshotData,
    dest: str | os.PathLike[str],
    *,
    context: str | None = None,
    default_target: str | None = None,
    notes: str | None = None,
) -> Path:
    """Write `data` as a snapshot directory, or as a .tar.gz when `dest` ends so."""
    dest = Path(dest)
    if dest.name.endswith((".tar.gz", ".tgz")):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / dest.name.removesuffix(".tar.gz").removesuffix(".tgz")
            write_snapshot(data, root, context=context, default_target=default_target, notes=notes)
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w:gz") as tar:
                tar.add(root, arcname=root.name)
            dest.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(dest, buf.getvalue())
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "name": data.name if data.name != "capture" else dest.name,
        "namespace": data.namespace,
        "captured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if context:
        manifest["context"] = context
    if default_target:
        manifest["default_target"] = default_target
    if notes:
        manifest["notes"] = notes
    (dest / "snapshot.yaml").write_text(_dump(manifest), encoding="utf-8")
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for (kind, _ns, _name), obj in sorted(data.objects.items()):
        by_kind.setdefault(kind, []).append(obj)
    if by_kind:
        (dest / "objects").mkdir(exist_ok=True)
        for kind, items in by_kind.items():
            doc = {"apiVersion": "v1", "kind": "List", "items": items}
            (dest / "objects" / f"{kind}.yaml").write_text(_dump(doc), encoding="utf-8")
    for (ns, pod, container, previous), text in data.logs.items():
        d = dest / "logs" / ns / pod
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{container}{'.previous' if previous else ''}.log").write_text(text, encoding="utf-8")
    by_pod: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rec in data.execs:
        by_pod.setdefault((rec["namespace"], rec["pod"]), []).append(rec)
    for (ns, pod), recs in by_pod.items():
        d = dest / "exec" / ns
        d.mkdir(parents=True, exist_ok=True)
        body = [
            {
                k: (_Literal(v) if k in ("stdout", "stderr") and "\n" in v else v)
                for k, v in r.items()
                if k not in ("namespace", "pod")
            }
            for r in recs
        ]
        (d / f"{pod}.yaml").write_text(_dump(body), encoding="utf-8")
    for (ns, pod, port, path), body in data.proxy.items():
        f = dest / "proxy" / ns / pod / str(port) / path.lstrip("/")
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(body, encoding="utf-8")
    if data.errors:
        (dest / "errors.yaml").write_text(_dump(data.errors), encoding="utf-8")
    if data.prometheus:
        (dest / "prometheus.yaml").write_text(_dump(data.prometheus), encoding="utf-8")
    return dest
