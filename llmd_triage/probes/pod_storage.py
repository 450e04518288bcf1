"""Where a pod's model server reads its model and keeps its caches, and what storage backs each.

Each volume the container mounts is followed to what backs it: a PersistentVolumeClaim to its
PersistentVolume and StorageClass (provisioner or CSI driver), or the volume's own source (hostPath,
emptyDir, inline CSI, NFS, image). The model argument, the cache variables (HF_HOME, HF_HUB_CACHE,
VLLM_CACHE_ROOT, ...) and the loader flags are read from the container, so a tree can ask "is the
model on a network filesystem?" or "does the Hugging Face cache outlive a restart?" with one probe
instead of a chain of reads and path-prefix matching in CEL. Every read is a `get`; a hop that
fails is recorded on its volume and in `errors`, and the rest of the answer still comes back.
"""

from __future__ import annotations

import posixpath
import shlex
from typing import Any

from llmd_triage.cluster.base import Cluster, ClusterError, TargetRef
from llmd_triage.parsers.pod_status import pick_container
from llmd_triage.probes.base import Probe, ProbeFailure, ProbeResult, RbacNeed, read_pod, target_namespace, target_pod

#: storage classes, slowest-to-read-randomly first; the tree branches on these names
BACKINGS = (
    "object-store",  # read straight from s3://, gs://, az:// (Run:ai streamer)
    "object-fuse",  # an object store mounted through FUSE (Mountpoint for S3, gcsfuse, blobfuse, JuiceFS)
    "network-fs",  # NFS, CephFS, Lustre, GPFS, EFS, Filestore, Azure Files, Weka, VAST, BeeGFS
    "network-block",  # a network block device (EBS, PD, Azure Disk, Ceph RBD, Cinder, Longhorn)
    "local-disk",  # a local PV or a local provisioner (local-path, TopoLVM, OpenEBS local)
    "host-path",  # a hostPath: a node directory, whatever disk or mount is under it
    "node-ephemeral",  # an emptyDir on the node's disk
    "memory",  # an emptyDir with medium Memory (tmpfs)
    "image",  # an image volume (OCI artifact pulled to the node)
    "container-fs",  # no volume: the container's writable layer
    "unknown",
)

#: (substring of a lower-cased provisioner / CSI driver name, backing); first match wins
_DRIVERS: tuple[tuple[str, str], ...] = (
    ("s3.csi.aws.com", "object-fuse"),
    ("gcsfuse", "object-fuse"),
    ("blob.csi.azure.com", "object-fuse"),
    ("ru.yandex.s3", "object-fuse"),
    ("csi-s3", "object-fuse"),
    ("s3-driver", "object-fuse"),
    ("juicefs", "object-fuse"),
    ("alluxio", "object-fuse"),
    ("nfs", "network-fs"),
    ("cephfs", "network-fs"),
    ("lustre", "network-fs"),
    ("fsx.csi.aws.com", "network-fs"),
    ("efs.csi.aws.com", "network-fs"),
    ("filestore.csi.storage.gke.io", "network-fs"),
    ("parallelstore", "network-fs"),
    ("file.csi.azure.com", "network-fs"),
    ("azure-file", "network-fs"),
    ("gluster", "network-fs"),
    ("spectrumscale", "network-fs"),
    ("gpfs", "network-fs"),
    ("weka", "network-fs"),
    ("vastdata", "network-fs"),
    ("beegfs", "network-fs"),
    ("exa.csi.ddn.com", "network-fs"),
    ("ebs.csi.aws.com", "network-block"),
    ("aws-ebs", "network-block"),
    ("pd.csi.storage.gke.io", "network-block"),
    ("gce-pd", "network-block"),
    ("disk.csi.azure.com", "network-block"),
    ("azure-disk", "network-block"),
    ("rbd", "network-block"),
    ("cinder", "network-block"),
    ("vsphere", "network-block"),
    ("longhorn", "network-block"),
    ("dobs.csi.digitalocean.com", "network-block"),
    ("blockvolume.csi.oraclecloud.com", "network-block"),
    ("csi.hetzner.cloud", "network-block"),
    ("portworx", "network-block"),
    ("iscsi", "network-block"),
    ("kubernetes.io/no-provisioner", "local-disk"),
    ("local-path", "local-disk"),
    ("openebs.io/local", "local-disk"),
    ("local.csi.openebs.io", "local-disk"),
    ("topolvm", "local-disk"),
    ("lvm.csi", "local-disk"),
    ("hostpath.csi.k8s.io", "local-disk"),
)

#: in-tree volume / PV sources -> backing
_SOURCES = {
    "nfs": "network-fs",
    "cephfs": "network-fs",
    "glusterfs": "network-fs",
    "azureFile": "network-fs",
    "quobyte": "network-fs",
    "awsElasticBlockStore": "network-block",
    "gcePersistentDisk": "network-block",
    "azureDisk": "network-block",
    "rbd": "network-block",
    "cinder": "network-block",
    "iscsi": "network-block",
    "fc": "network-block",
    "vsphereVolume": "network-block",
    "portworxVolume": "network-block",
    "local": "local-disk",
    "hostPath": "host-path",
}

#: how long what is written there lives: lost on a container restart, kept while the pod lives,
#: kept on the node (a later pod on the same node reuses it), or shared by the cluster
LIFETIMES = {
    "object-store": "cluster",
    "object-fuse": "cluster",
    "network-fs": "cluster",
    "network-block": "cluster",
    "local-disk": "node",
    "host-path": "node",
    "image": "node",
    "node-ephemeral": "pod",
    "memory": "pod",
    "container-fs": "container",
    "unknown": "unknown",
}

#: volume sources that never hold a model; left out of the answer
_CONFIG_SOURCES = ("configMap", "secret", "projected", "downwardAPI", "serviceAccountToken")

#: container env vars worth showing (never secrets); only literal values are read
ENV_NAMES = (
    "HOME",
    "XDG_CACHE_HOME",
    "HF_HOME",
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "TRANSFORMERS_CACHE",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_ENDPOINT",
    "HF_HUB_ENABLE_HF_TRANSFER",
    "HF_HUB_DISABLE_XET",
    "VLLM_CACHE_ROOT",
    "VLLM_USE_MODELSCOPE",
    "MODELSCOPE_CACHE",
    "AWS_ENDPOINT_URL",
    "RUNAI_STREAMER_CONCURRENCY",
    "RUNAI_STREAMER_S3_USE_VIRTUAL_ADDRESSING",
)

_SHELLS = {"sh", "bash", "/bin/sh", "/bin/bash", "/usr/bin/bash", "/usr/bin/env"}
_VALUE_FLAGS = {
    "--model": "model",
    "--load-format": "load_format",
    "--safetensors-load-strategy": "safetensors_load_strategy",
    "--model-loader-extra-config": "model_loader_extra_config",
    "--download-dir": "download_dir",
    "--tensor-parallel-size": "tensor_parallel_size",
    "-tp": "tensor_parallel_size",
    "--revision": "revision",
}
_OBJECT_SCHEMES = ("s3://", "gs://", "az://")


def classify_driver(name: str | None, parameters: dict[str, Any] | None = None) -> str:
    """The backing of a provisioner or CSI driver name; `unknown` when it is not in the table."""
    if not name:
        return "unknown"
    low = name.lower()
    protocol = str((parameters or {}).get("protocol", "")).lower()
    if low == "blob.csi.azure.com" and protocol == "nfs":
        return "network-fs"  # Azure Blob over NFSv3 is not FUSE
    for needle, backing in _DRIVERS:
        if needle in low:
            return backing
    return "unknown"


def tokens(command: list[Any], args: list[Any]) -> list[str]:
    """command + args as argv words; a `sh -c "vllm serve ..."` script is split like a shell would."""
    words = [str(w) for w in command + args]
    shell = bool(words) and (words[0] in _SHELLS or posixpath.basename(words[0]) in _SHELLS)
    out: list[str] = []
    for w in words:
        if shell and any(ch.isspace() for ch in w):
            try:
                parts = shlex.split(w, comments=True)
            except ValueError:
                parts = w.split()
            out.extend(p for p in parts if p.strip() and p != "\\")
        else:
            out.append(w)
    return out


def vllm_flags(argv: list[str], args_only: bool = False) -> dict[str, Any]:
    """The loader-related flags of a `vllm serve` / api_server command line; `args_only`: the pod sets no command."""
    flags: dict[str, Any] = {
        "model": None,
        "load_format": None,
        "safetensors_load_strategy": None,
        "model_loader_extra_config": None,
        "download_dir": None,
        "tensor_parallel_size": None,
        "revision": None,
        "enforce_eager": False,
    }
    serve_at = next((i for i, w in enumerate(argv) if w == "serve" and i > 0 and "vllm" in argv[i - 1]), None)
    i = 0
    while i < len(argv):
        w = argv[i]
        key, _, inline = w.partition("=")
        if key in _VALUE_FLAGS:
            value = inline if inline else (argv[i + 1] if i + 1 < len(argv) else None)
            field = _VALUE_FLAGS[key]
            if field == "tensor_parallel_size":
                try:
                    flags[field] = int(value) if value is not None else None
                except ValueError:
                    flags[field] = None
            elif flags[field] is None:
                flags[field] = value
            i += 1 if inline else 2
            continue
        if w == "--enforce-eager":
            flags["enforce_eager"] = True
        elif serve_at is not None and i == serve_at + 1 and not w.startswith("-") and flags["model"] is None:
            flags["model"] = w
        i += 1
    if flags["model"] is None and args_only and argv and not argv[0].startswith("-"):
        flags["model"] = argv[0]  # no command: the image's entrypoint is `vllm serve` (vllm/vllm-openai)
    return flags


def _env(cspec: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in cspec.get("env") or []:
        name = e.get("name")
        if name in ENV_NAMES and isinstance(e.get("value"), str):
            out[name] = e["value"]
    return out


def _truthy(value: str | None) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


def _expand(path: str | None, home: str) -> str | None:
    if not path:
        return None
    for ref in ("$(HOME)", "${HOME}", "$HOME"):
        path = path.replace(ref, home)
    if path.startswith("~"):
        path = home + path[1:]
    return posixpath.normpath(path) if path.startswith("/") else path


def _model_scheme(ref: str | None) -> str | None:
    if not ref or "$" in ref:  # an unexpanded $(VAR): the tree cannot know where it points
        return None
    if ref.startswith(_OBJECT_SCHEMES):
        return ref.split("://", 1)[0]
    if ref.startswith(("/", "./", "../", "~")):
        return "path"
    return "hf"


class PodStorage(Probe):
    name = "pod.storage"
    description = (
        "Where the model server reads its model and keeps its caches: each mounted volume followed to "
        "PVC -> PV -> StorageClass (or its own source) and classed as network-fs, object-fuse, network-block, "
        "local-disk, host-path, node-ephemeral, memory, container-fs...; binds {container, model, hf_cache, "
        "vllm_cache, flags, env, volumes, backing, lifetime, errors}."
    )
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "pod": {"type": "string"},
            "namespace": {"type": "string"},
            "container": {"type": ["string", "null"], "description": "default: the model server, as pod.termination"},
        },
    }
    # PersistentVolumes and StorageClasses are cluster-scoped and often not readable by a namespace-scoped
    # on-call role; a denied read of one is recorded on its volume (and in `errors`) and the other still classifies
    # the storage, so they are optional: preflight must not skip the probe for them, `rbac` grants them.
    rbac = (
        RbacNeed(("get",), "pods"),
        RbacNeed(("get",), "persistentvolumeclaims"),
        RbacNeed(("get",), "persistentvolumes", optional=True),
        RbacNeed(("get",), "storageclasses", "storage.k8s.io", optional=True),
    )

    async def run(self, params: dict[str, Any], target: TargetRef, cluster: Cluster) -> ProbeResult:
        ns, pod_name = target_namespace(params, target, cluster), target_pod(params, target)
        pod, cmd = await read_pod(params, target, cluster)
        if not isinstance(pod.get("spec"), dict):
            raise ProbeFailure("garbage", f"pod {pod_name} came back in a shape that is not a Pod", cmd)
        spec = pod["spec"]
        name = pick_container(pod, params.get("container"))
        cspec = next((c for c in spec.get("containers") or [] if c.get("name") == name), None)
        if cspec is None:
            raise ProbeFailure("not_found", f"pod {pod_name} has no container {name!r}", cmd)
        errors: list[str] = []
        volumes_by_name = {v.get("name"): v for v in spec.get("volumes") or []}
        volumes: list[dict[str, Any]] = []
        for mount in cspec.get("volumeMounts") or []:
            vol = volumes_by_name.get(mount.get("name"))
            if vol is None or any(k in vol for k in _CONFIG_SOURCES):
                continue
            volumes.append(await self._follow(cluster, ns, pod_name, vol, mount, errors))

        flags = vllm_flags(
            tokens(cspec.get("command") or [], cspec.get("args") or []), args_only=not cspec.get("command")
        )
        env = _env(cspec)
        home_assumed = "HOME" not in env
        home = env.get("HOME", "/root")  # the vLLM and llm-d images run as root
        xdg = _expand(env.get("XDG_CACHE_HOME"), home) or posixpath.join(home, ".cache")
        hf_home = _expand(env.get("HF_HOME"), home) or posixpath.join(xdg, "huggingface")
        hub_var = next((v for v in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE") if v in env), None)
        hub = _expand(env[hub_var], home) if hub_var else posixpath.join(hf_home, "hub")
        hub_source = hub_var or ("HF_HOME" if "HF_HOME" in env else "default")
        download_dir = _expand(flags["download_dir"], home)
        weights_dir = download_dir or hub
        vllm_root = _expand(env.get("VLLM_CACHE_ROOT"), home) or posixpath.join(xdg, "vllm")

        ref = flags["model"]
        scheme = _model_scheme(ref)
        if scheme in ("s3", "gs", "az"):
            model = {"ref": ref, "scheme": scheme, "read_path": None, "volume": None, "mount_path": None}
            model.update(backing="object-store", lifetime="cluster", chain=f"the object store ({scheme}://)")
        else:
            read_path = _expand(ref, home) if scheme == "path" else (weights_dir if scheme == "hf" else None)
            model = {"ref": ref, "scheme": scheme, "read_path": read_path, **self._where(read_path, volumes)}
        hf_cache = {
            "path": weights_dir,
            "source": "--download-dir" if download_dir else hub_source,
            **self._where(weights_dir, volumes),
        }
        vllm_cache = {
            "path": vllm_root,
            "source": "VLLM_CACHE_ROOT" if "VLLM_CACHE_ROOT" in env else "default",
            **self._where(vllm_root, volumes),
        }
        data = {
            "container": name,
            "model": model,
            "hf_cache": hf_cache,
            "vllm_cache": vllm_cache,
            "hf_offline": _truthy(env.get("HF_HUB_OFFLINE")) or _truthy(env.get("TRANSFORMERS_OFFLINE")),
            "home_assumed": home_assumed,
            "flags": flags,
            "env": env,
            "volumes": volumes,
            "backing": model["backing"],
            "lifetime": model["lifetime"],
            "errors": errors,
        }
        summary = f"model {ref or '<not found in the args>'} is read from {_describe(model, volumes)}"
        evidence = [_line(v) for v in volumes] + [
            f"Hugging Face cache {hf_cache['path']} ({hf_cache['source']}): {hf_cache['backing']}, "
            f"lives per {hf_cache['lifetime']}",
            f"vLLM cache {vllm_cache['path']} ({vllm_cache['source']}): {vllm_cache['backing']}, "
            f"lives per {vllm_cache['lifetime']}",
        ]
        evidence += [f"error: {e}" for e in errors]
        manual = f"{cmd}; kubectl get pvc -n {ns}; kubectl get pv,storageclass"
        return ProbeResult(data, summary, evidence, manual)

    @staticmethod
    def _where(path: str | None, volumes: list[dict[str, Any]]) -> dict[str, Any]:
        """The volume whose mount holds `path` (longest mountPath prefix), else the container filesystem."""
        if not path or not path.startswith("/"):
            return {"volume": None, "mount_path": None, "backing": "unknown", "lifetime": "unknown", "chain": None}
        best: dict[str, Any] | None = None
        for v in volumes:
            mp = str(v.get("mount_path") or "").rstrip("/") or "/"
            inside = path == mp or path.startswith(mp if mp == "/" else mp + "/")
            if inside and (best is None or len(mp) > len(str(best["mount_path"]).rstrip("/"))):
                best = v
        if best is None:
            return {
                "volume": None,
                "mount_path": None,
                "backing": "container-fs",
                "lifetime": "container",
                "chain": "the container filesystem (no volume)",
            }
        return {
            "volume": best["name"],
            "mount_path": best["mount_path"],
            "backing": best["backing"],
            "lifetime": best["lifetime"],
            "chain": _chain(best),
        }

    async def _follow(
        self,
        cluster: Cluster,
        ns: str,
        pod_name: str,
        vol: dict[str, Any],
        mount: dict[str, Any],
        errors: list[str],
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": vol.get("name"),
            "mount_path": mount.get("mountPath"),
            "read_only": bool(mount.get("readOnly", False)),
            "type": None,
            "claim": None,
            "claim_phase": None,
            "pv": None,
            "storage_class": None,
            "provisioner": None,
            "driver": None,
            "parameters": {},
            "server": None,
            "path": None,
            "access_modes": [],
            "capacity": None,
            "backing": "unknown",
            "lifetime": "unknown",
            "error": None,
        }
        claim = None
        if "persistentVolumeClaim" in vol:
            out["type"] = "persistentVolumeClaim"
            claim = (vol["persistentVolumeClaim"] or {}).get("claimName")
        elif "ephemeral" in vol:
            out["type"] = "ephemeral"
            claim = f"{pod_name}-{vol.get('name')}"  # generic ephemeral volumes: <pod>-<volume>
        elif "emptyDir" in vol:
            out["type"] = "emptyDir"
            medium = (vol["emptyDir"] or {}).get("medium")
            out["backing"] = "memory" if medium == "Memory" else "node-ephemeral"
        elif "hostPath" in vol:
            out["type"] = "hostPath"
            out["path"] = (vol["hostPath"] or {}).get("path")
            out["backing"] = "host-path"
        elif "image" in vol:
            out["type"] = "image"
            out["path"] = (vol["image"] or {}).get("reference")
            out["backing"] = "image"
        elif "csi" in vol:
            out["type"] = "csi"
            csi = vol["csi"] or {}
            out["driver"] = csi.get("driver")
            out["parameters"] = _safe_params(csi.get("volumeAttributes"))
            out["backing"] = classify_driver(out["driver"], out["parameters"])
        else:
            src = next((k for k in vol if k != "name"), None)
            out["type"] = src
            out["backing"] = _SOURCES.get(src or "", "unknown")
            if src == "nfs":
                out["server"], out["path"] = vol["nfs"].get("server"), vol["nfs"].get("path")
        if claim:
            out["claim"] = claim
            await self._follow_claim(cluster, ns, claim, out, errors)
        out["lifetime"] = LIFETIMES.get(out["backing"], "unknown")
        return out

    async def _follow_claim(
        self, cluster: Cluster, ns: str, claim: str, out: dict[str, Any], errors: list[str]
    ) -> None:
        try:
            pvc = await cluster.get("v1", "PersistentVolumeClaim", claim, ns)
        except ClusterError as exc:
            out["error"] = f"PersistentVolumeClaim {ns}/{claim}: {exc.kind}: {exc.message}"
            errors.append(out["error"])
            return
        pvc_spec, pvc_status = pvc.get("spec") or {}, pvc.get("status") or {}
        out["claim_phase"] = pvc_status.get("phase")
        out["access_modes"] = list(pvc_status.get("accessModes") or pvc_spec.get("accessModes") or [])
        out["capacity"] = (pvc_status.get("capacity") or {}).get("storage") or (
            (pvc_spec.get("resources") or {}).get("requests") or {}
        ).get("storage")
        out["storage_class"] = pvc_spec.get("storageClassName")
        out["pv"] = pvc_spec.get("volumeName")
        pv_backing = "unknown"
        if out["pv"]:
            try:
                pv = await cluster.get("v1", "PersistentVolume", out["pv"])
            except ClusterError as exc:
                out["error"] = f"PersistentVolume {out['pv']}: {exc.kind}: {exc.message}"
                errors.append(out["error"])
                pv = None
            if pv is not None:
                pv_spec = pv.get("spec") or {}
                out["storage_class"] = out["storage_class"] or pv_spec.get("storageClassName")
                if "csi" in pv_spec:
                    csi = pv_spec["csi"] or {}
                    out["driver"] = csi.get("driver")
                    out["parameters"] = _safe_params(csi.get("volumeAttributes"))
                    pv_backing = classify_driver(out["driver"], out["parameters"])
                else:
                    src = next((k for k in _SOURCES if k in pv_spec), None)
                    pv_backing = _SOURCES.get(src or "", "unknown")
                    if src == "nfs":
                        out["server"], out["path"] = pv_spec["nfs"].get("server"), pv_spec["nfs"].get("path")
                    elif src in ("hostPath", "local"):
                        out["path"] = (pv_spec[src] or {}).get("path")
        sc_backing = "unknown"
        if out["storage_class"]:
            try:
                sc = await cluster.get("storage.k8s.io/v1", "StorageClass", out["storage_class"])
            except ClusterError as exc:
                msg = f"StorageClass {out['storage_class']}: {exc.kind}: {exc.message}"
                out["error"] = out["error"] or msg
                errors.append(msg)
                sc = None
            if sc is not None:
                out["provisioner"] = sc.get("provisioner")
                sc_params = _safe_params(sc.get("parameters"))
                out["parameters"] = {**sc_params, **out["parameters"]}
                sc_backing = classify_driver(out["provisioner"], sc_params)
                if out["provisioner"] == "kubernetes.io/no-provisioner" and pv_backing == "unknown":
                    sc_backing = "local-disk"
        # the PV says what is mounted; the StorageClass only what would be provisioned
        out["backing"] = pv_backing if pv_backing != "unknown" else sc_backing


def _safe_params(params: Any) -> dict[str, str]:
    """StorageClass parameters / CSI volume attributes without anything that names a secret."""
    if not isinstance(params, dict):
        return {}
    return {str(k): str(v) for k, v in params.items() if "secret" not in str(k).lower()}


def _describe(model: dict[str, Any], volumes: list[dict[str, Any]]) -> str:
    if model["backing"] == "object-store":
        return "the object store directly"
    vol = next((v for v in volumes if v["name"] == model.get("volume")), None)
    where = model.get("read_path") or "<unknown path>"
    if vol is None:
        return f"{where} ({model['backing']})"
    return f"{where} on {_chain(vol)}"


def _chain(v: dict[str, Any]) -> str:
    parts = [f"volume {v['name']}"]
    if v["claim"]:
        parts.append(f"PVC {v['claim']}")
    if v["pv"]:
        parts.append(f"PV {v['pv']}")
    if v["storage_class"]:
        parts.append(f"StorageClass {v['storage_class']}")
    what = v["driver"] or v["provisioner"] or v["type"]
    if v["server"]:
        what = f"{what} {v['server']}:{v['path']}"
    elif v["path"] and v["type"] in ("hostPath", "image"):
        what = f"{what} {v['path']}"
    return " -> ".join(parts) + f" ({what}: {v['backing']})"


def _line(v: dict[str, Any]) -> str:
    return f"{v['mount_path']}: {_chain(v)}" + (f" [{v['error']}]" if v["error"] else "")
