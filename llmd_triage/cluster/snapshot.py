"""Replay a recorded cluster: Kubernetes objects, container logs and exec outputs.

Layout (documented in schemas/snapshot.md, validated by schemas/snapshot.schema.json):

    snapshot.yaml                          manifest: format, name, captured_at, context, namespace
    objects/*.yaml|*.json                  objects: one per document, or `kind: List` with items
    logs/<namespace>/<pod>/<container>.log            current container log
    logs/<namespace>/<pod>/<container>.previous.log   log of the previous (terminated) instance
    proxy/<namespace>/<pod>/<port>/<path>  what GET <path> on the pod's port answered (e.g. 8000/metrics)
    exec/<namespace>/<pod>.yaml            list of {container, argv, exit_code, stdout, stderr} or {…, error}
    prometheus.yaml                        optional recorded queries: [{query, type, result} or {query, error}]
    errors.yaml                            optional injected failures: [{op, kind, name, namespace, error}]

The same structure can be given inline (a tree test case does), and `capture` writes it.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from llmd_triage.cluster.base import ClusterError, ExecResult
from llmd_triage.cluster.selectors import field_matcher, label_matcher
from llmd_triage.errors import SnapshotError

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

FORMAT = "llmd-triage/snapshot/v1"
MAX_OBJECT_FILE_BYTES = 512 * 1024 * 1024

ObjKey = tuple[str, str, str]  # (kind lowercased, namespace or "", name)


@dataclass
class SnapshotData:
    """Everything a snapshot holds, in memory."""

    name: str = "inline"
    namespace: str = "default"
    manifest: dict[str, Any] = field(default_factory=dict)
    objects: dict[ObjKey, dict[str, Any]] = field(default_factory=dict)
    logs: dict[tuple[str, str, str, bool], str] = field(default_factory=dict)
    execs: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    #: (namespace, pod, port, path) -> body answered through the API server's pod proxy
    proxy: dict[tuple[str, str, int, str], str] = field(default_factory=dict)
    #: recorded Prometheus answers: [{query, result, ...}]; replayed by cluster.prometheus
    prometheus: list[dict[str, Any]] = field(default_factory=list)

    def add_object(self, obj: Any, origin: str = "") -> None:
        if not isinstance(obj, dict):
            raise SnapshotError(f"{origin}: expected a Kubernetes object (a mapping), got {type(obj).__name__}")
        kind = obj.get("kind")
        if isinstance(kind, str) and kind.endswith("List") and isinstance(obj.get("items"), list):
            item_kind = kind[: -len("List")] if kind != "List" else None
            for item in obj["items"]:
                if item_kind and isinstance(item, dict) and "kind" not in item:
                    item = {**item, "kind": item_kind, "apiVersion": obj.get("apiVersion", "v1")}
                self.add_object(item, origin)
            return
        meta = obj.get("metadata")
        if not isinstance(kind, str) or not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
            raise SnapshotError(f"{origin}: object without kind or metadata.name")
        self.objects[(kind.lower(), meta.get("namespace") or "", meta["name"])] = obj

    def add_inline(self, spec: dict[str, Any], origin: str = "inline") -> None:
        """Merge an inline snapshot: {objects: [...], logs: {ns/pod/container[.previous]: text}, exec: [...]}."""
        for obj in spec.get("objects") or []:
            self.add_object(obj, origin)
        for key, text in (spec.get("logs") or {}).items():
            parts = key.split("/")
            if len(parts) != 3:
                raise SnapshotError(f"{origin}: log key {key!r} is not NAMESPACE/POD/CONTAINER[.previous]")
            ns, pod, container = parts
            previous = container.endswith(".previous")
            self.logs[(ns, pod, container.removesuffix(".previous"), previous)] = str(text)
        for rec in spec.get("exec") or []:
            self.execs.append(_check_exec(rec, origin))
        for key, body in (spec.get("proxy") or {}).items():
            parts = key.split("/", 3)
            if len(parts) != 4 or not parts[2].isdigit():
                raise SnapshotError(f"{origin}: proxy key {key!r} is not NAMESPACE/POD/PORT/PATH")
            self.proxy[(parts[0], parts[1], int(parts[2]), "/" + parts[3])] = str(body)
        self.errors.extend(_check_list(spec.get("errors"), "errors", origin))
        self.prometheus.extend(_check_list(spec.get("prometheus"), "prometheus", origin))


def _check_list(value: Any, what: str, origin: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise SnapshotError(f"{origin}: {what} must be a list of mappings")
    return value


def _check_exec(rec: Any, origin: str) -> dict[str, Any]:
    if not isinstance(rec, dict) or not isinstance(rec.get("argv"), list) or not rec.get("pod"):
        raise SnapshotError(f"{origin}: exec record needs pod and argv (a list): {str(rec)[:80]}")
    return rec


def _read_yaml(path: Path) -> Any:
    """One YAML file of a snapshot; anything unreadable is a SnapshotError naming the file and the line."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        raise SnapshotError(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    except (UnicodeDecodeError, OSError) as exc:
        raise SnapshotError(f"{path}: cannot be read as UTF-8 text: {exc}") from None


def load_snapshot(path: str | os.PathLike[str]) -> SnapshotData:
    """Load a snapshot directory, or a .tar.gz of one (as `capture` writes)."""
    root = Path(path)
    if root.is_file() and root.name.endswith((".tar.gz", ".tgz")):
        return _load_archive(root)
    if not root.is_dir():
        raise SnapshotError(f"snapshot {root} is not a directory")
    if not (root / "snapshot.yaml").exists() and not (root / "objects").is_dir():
        from llmd_triage.cluster.foreign import load_foreign

        foreign = load_foreign(root)
        if foreign is not None:
            return foreign
    data = SnapshotData(name=root.name)
    manifest_file = root / "snapshot.yaml"
    if manifest_file.exists():
        manifest = _read_yaml(manifest_file) or {}
        if not isinstance(manifest, dict):
            raise SnapshotError(f"{manifest_file}: manifest must be a mapping")
        fmt = manifest.get("format", FORMAT)
        if fmt != FORMAT:
            raise SnapshotError(f"{manifest_file}: format {fmt!r} is not {FORMAT!r}")
        data.manifest = manifest
        data.name = str(manifest.get("name") or root.name)
        data.namespace = str(manifest.get("namespace") or "default")
    objects_dir = root / "objects"
    for f in sorted(objects_dir.rglob("*")) if objects_dir.is_dir() else []:
        if f.suffix not in (".yaml", ".yml", ".json") or not f.is_file():
            continue
        if f.stat().st_size > MAX_OBJECT_FILE_BYTES:
            raise SnapshotError(f"{f}: larger than {MAX_OBJECT_FILE_BYTES:,} bytes")
        text = f.read_text(encoding="utf-8")
        try:
            docs = [json.loads(text)] if f.suffix == ".json" else list(yaml.load_all(text, Loader=_Loader))
        except (ValueError, yaml.YAMLError) as exc:
            raise SnapshotError(f"{f}: cannot be parsed: {str(exc).splitlines()[0]}") from None
        for doc in docs:
            if doc is not None:
                data.add_object(doc, str(f))
    logs_dir = root / "logs"
    for f in sorted(logs_dir.glob("*/*/*.log")) if logs_dir.is_dir() else []:
        ns, pod = f.parent.parent.name, f.parent.name
        stem = f.name.removesuffix(".log")
        previous = stem.endswith(".previous")
        data.logs[(ns, pod, stem.removesuffix(".previous"), previous)] = f.read_text(encoding="utf-8", errors="replace")
    proxy_dir = root / "proxy"
    for f in sorted(proxy_dir.glob("*/*/*/**/*")) if proxy_dir.is_dir() else []:
        if not f.is_file():
            continue
        rel = f.relative_to(proxy_dir).parts
        if len(rel) < 4 or not rel[2].isdigit():
            continue
        data.proxy[(rel[0], rel[1], int(rel[2]), "/" + "/".join(rel[3:]))] = f.read_text(
            encoding="utf-8", errors="replace"
        )
    exec_dir = root / "exec"
    for f in sorted(exec_dir.glob("*/*.y*ml")) if exec_dir.is_dir() else []:
        records = _read_yaml(f) or []
        if not isinstance(records, list):
            raise SnapshotError(f"{f}: expected a list of exec records")
        for rec in records:
            if isinstance(rec, dict):
                rec = {"namespace": f.parent.name, "pod": f.stem, **rec}
            data.execs.append(_check_exec(rec, str(f)))
    prom_file = root / "prometheus.yaml"
    if prom_file.exists():
        records = _read_yaml(prom_file)
        data.prometheus.extend(_check_list(records, "recorded queries", str(prom_file)))
    errors_file = root / "errors.yaml"
    if errors_file.exists():
        rules = _read_yaml(errors_file)
        data.errors.extend(_check_list(rules, "injected errors", str(errors_file)))
    return data


def _load_archive(archive: Path) -> SnapshotData:
    """Unpack into a private temp dir, refusing any member that would land outside it."""
    import tarfile
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                for member in tar.getmembers():
                    name = member.name
                    if (
                        name.startswith(("/", "\\"))
                        or ".." in Path(name).parts
                        or not (member.isfile() or member.isdir())
                    ):
                        raise SnapshotError(
                            f"{archive}: refusing archive entry {name!r} (outside the snapshot or not a file)"
                        )
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise SnapshotError(f"{archive}: not a readable .tar.gz snapshot: {exc}") from None
        entries = [p for p in Path(tmp).iterdir()]
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() else Path(tmp)
        return load_snapshot(root)


def _kubectl_exec(ns: str, pod: str, container: str | None, argv: list[str]) -> str:
    c = f" -c {container}" if container else ""
    return f"kubectl exec -n {ns} {pod}{c} -- {' '.join(argv)}"


class SnapshotCluster:
    """A Cluster that answers from a SnapshotData; read-only by construction."""

    def __init__(self, data: SnapshotData) -> None:
        self.data = data
        self.name = f"snapshot:{data.name}"
        self.default_namespace = data.namespace
        self.requests: list[tuple[str, ...]] = []
        self.prometheus: Any = None
        if data.prometheus:
            from llmd_triage.cluster.prometheus import RecordedPrometheus

            self.prometheus = RecordedPrometheus(data.prometheus)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> SnapshotCluster:
        return cls(load_snapshot(path))

    async def _inject(self, op: str, kind: str | None, name: str | None, namespace: str | None) -> None:
        for rule in self.data.errors:
            if rule.get("op", op) != op:
                continue
            if rule.get("kind") and kind and rule["kind"].lower() != kind.lower():
                continue
            if rule.get("name") and rule["name"] != name:
                continue
            if rule.get("namespace") and rule["namespace"] != namespace:
                continue
            if rule.get("delay_s"):
                await asyncio.sleep(float(rule["delay_s"]))
            err = rule.get("error")
            if err:
                raise ClusterError(err.get("kind", "error"), err.get("message", "injected failure"), err.get("hint"))

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        self.requests.append(("get", kind, namespace or "", name))
        await self._inject("get", kind, name, namespace)
        obj = self.data.objects.get((kind.lower(), namespace or "", name))
        if obj is None and namespace:
            obj = self.data.objects.get((kind.lower(), "", name))
        if obj is None:
            where = f" in namespace {namespace}" if namespace else ""
            raise ClusterError("not_found", f"{kind} {name}{where} is not in this snapshot")
        return obj

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        self.requests.append(("list", kind, namespace or ""))
        await self._inject("list", kind, None, namespace)
        try:
            lm, fm = label_matcher(label_selector), field_matcher(field_selector)
        except ValueError as exc:
            raise ClusterError("error", str(exc)) from None
        k = kind.lower()
        # the API server answers in key order (namespace, then name); so does a replay of a capture
        return [
            o
            for (ok, ns, _), o in sorted(self.data.objects.items(), key=lambda kv: (kv[0][1], kv[0][2]))
            if ok == k and (namespace is None or ns == namespace) and lm(o) and fm(o)
        ]

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
        self.requests.append(("logs", namespace, pod, container or "", "previous" if previous else ""))
        await self._inject("logs", "Pod", pod, namespace)
        if container is None:
            pod_obj = self.data.objects.get(("pod", namespace, pod))
            names = [c.get("name") for c in ((pod_obj or {}).get("spec") or {}).get("containers") or []]
            if len(names) > 1:  # as the API server answers
                raise ClusterError("error", f"a container name must be specified for pod {pod}, choose one of: {names}")
            container = names[0] if names else None
        text = self.data.logs.get((namespace, pod, container or "", previous))
        if text is None:
            which = "previous " if previous else ""
            raise ClusterError(
                "not_captured",
                f"this snapshot holds no {which}log of {namespace}/{pod} container {container}",
                f"kubectl logs -n {namespace} {pod} -c {container}{' --previous' if previous else ''}",
            )
        if tail_lines is not None:
            lines = text.splitlines()[-tail_lines:] if tail_lines > 0 else []
            text = "\n".join(lines) + ("\n" if lines and text.endswith("\n") else "")
        if limit_bytes is not None and len(text.encode()) > limit_bytes:
            # the API server keeps the first bytes (after tailLines), not the last
            text = text.encode()[:limit_bytes].decode("utf-8", "replace")
        return text

    async def pod_proxy(self, namespace: str, pod: str, port: int, path: str = "/metrics") -> str:
        self.requests.append(("proxy", namespace, pod, str(port), path))
        await self._inject("proxy", "Pod", pod, namespace)
        body = self.data.proxy.get((namespace, pod, int(port), path))
        if body is None:
            raise ClusterError(
                "not_captured",
                f"this snapshot holds no answer of {namespace}/{pod}:{port}{path}",
                f"kubectl get --raw /api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy{path}",
            )
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
        self.requests.append(("exec", namespace, pod, container or "", " ".join(argv)))
        await self._inject("exec", "Pod", pod, namespace)
        for rec in self.data.execs:
            if rec.get("namespace", namespace) != namespace or rec["pod"] != pod:
                continue
            if container and rec.get("container") and rec["container"] != container:
                continue
            if [str(a) for a in rec["argv"]] != list(argv):
                continue
            if rec.get("delay_s"):
                await asyncio.sleep(float(rec["delay_s"]))
            if rec.get("error"):
                err = rec["error"]
                raise ClusterError(err.get("kind", "error"), err.get("message", "recorded failure"), err.get("hint"))
            out = str(rec.get("stdout") or "")
            truncated = len(out.encode()) > limit_bytes
            if truncated:
                out = out.encode()[:limit_bytes].decode("utf-8", "replace")
            return ExecResult(int(rec.get("exit_code", 0)), out, str(rec.get("stderr") or ""), truncated)
        raise ClusterError(
            "not_captured",
            f"this snapshot holds no output of `{' '.join(argv)}` in {namespace}/{pod}",
            _kubectl_exec(namespace, pod, container, argv),
        )
