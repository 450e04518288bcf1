"""Other people's snapshots: `kubectl cluster-info dump --output-directory` and OpenShift must-gather.

A support engineer gets whatever the customer could produce. Both formats hold objects and logs but
no exec outputs, so the probes that need exec become `unknown` (not captured) and say what to run.
Readers are tolerant: a file that does not parse is skipped and counted, never fatal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from llmd_triage.cluster.snapshot import SnapshotData
from llmd_triage.errors import SnapshotError

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_FILE_BYTES = 256 * 1024 * 1024


def detect(root: Path) -> str | None:
    """'cluster-info-dump', 'must-gather', or None when the folder is neither."""
    if (root / "nodes.json").is_file() or any(root.glob("*/pods.json")):
        return "cluster-info-dump"
    if (root / "namespaces").is_dir() or any(root.glob("*/namespaces")) or any(root.glob("*/cluster-scoped-resources")):
        return "must-gather"
    return None


def _json_documents(text: str) -> list[Any]:
    """cluster-info dump writes one JSON document per file, but stdout dumps concatenate several."""
    decoder = json.JSONDecoder()
    docs, pos = [], 0
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        doc, pos = decoder.raw_decode(text, pos)
        docs.append(doc)
    return docs


def _add_docs(data: SnapshotData, docs: list[Any], origin: str, skipped: list[str]) -> None:
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        if str(doc.get("kind", "")).endswith("List") and doc.get("items") == []:
            continue
        try:
            data.add_object(doc, origin)
        except SnapshotError:
            skipped.append(origin)


def load_cluster_info_dump(root: Path) -> SnapshotData:
    data = SnapshotData(name=root.name)
    skipped: list[str] = []
    namespaces: set[str] = set()
    for f in sorted(root.rglob("*.json")):
        if f.stat().st_size > MAX_FILE_BYTES:
            skipped.append(str(f))
            continue
        try:
            docs = _json_documents(f.read_text(encoding="utf-8", errors="replace"))
        except ValueError:
            skipped.append(str(f))
            continue
        _add_docs(data, docs, str(f), skipped)
        if f.parent != root:
            namespaces.add(f.parent.name)
    pods = {(ns, name): obj for (kind, ns, name), obj in data.objects.items() if kind == "pod"}
    for f in sorted(root.rglob("logs.txt")):
        rel = f.relative_to(root).parts
        if len(rel) == 3:  # NS/POD/logs.txt: the pod's first container
            ns, pod = rel[0], rel[1]
            containers = ((pods.get((ns, pod)) or {}).get("spec") or {}).get("containers") or [{}]
            container = containers[0].get("name") or "default"
        elif len(rel) == 4:  # NS/POD/CONTAINER/logs.txt
            ns, pod, container = rel[0], rel[1], rel[2]
        else:
            continue
        data.logs[(ns, pod, container, False)] = f.read_text(encoding="utf-8", errors="replace")
    data.namespace = "default" if "default" in namespaces or not namespaces else sorted(namespaces)[0]
    data.manifest = {"format": "kubectl cluster-info dump", "skipped_files": skipped}
    return data


def load_must_gather(root: Path) -> SnapshotData:
    data = SnapshotData(name=root.name)
    skipped: list[str] = []
    namespaces: set[str] = set()
    for f in sorted(list(root.rglob("*.yaml")) + list(root.rglob("*.yml")) + list(root.rglob("*.json"))):
        if f.stat().st_size > MAX_FILE_BYTES:
            skipped.append(str(f))
            continue
        text = f.read_text(encoding="utf-8", errors="replace")
        try:
            docs = _json_documents(text) if f.suffix == ".json" else list(yaml.load_all(text, Loader=_Loader))
        except (ValueError, yaml.YAMLError):
            skipped.append(str(f))
            continue
        _add_docs(data, docs, str(f), skipped)
    for f in sorted(root.rglob("logs/*.log")):
        # namespaces/NS/pods/POD/CONTAINER/CONTAINER/logs/{current,previous}.log
        parts = f.parts
        try:
            i = len(parts) - 1 - parts[::-1].index("pods")
            ns_i = len(parts) - 1 - parts[::-1].index("namespaces")
        except ValueError:
            continue
        ns, pod, container = parts[ns_i + 1], parts[i + 1], parts[i + 2]
        stem = f.stem
        if stem not in ("current", "previous"):
            continue
        namespaces.add(ns)
        data.logs[(ns, pod, container, stem == "previous")] = f.read_text(encoding="utf-8", errors="replace")
    data.namespace = sorted(namespaces)[0] if len(namespaces) == 1 else "default"
    data.manifest = {"format": "must-gather", "skipped_files": skipped}
    return data


def load_foreign(root: Path) -> SnapshotData | None:
    kind = detect(root)
    if kind == "cluster-info-dump":
        return load_cluster_info_dump(root)
    if kind == "must-gather":
        return load_must_gather(root)
    return None
