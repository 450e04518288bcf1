"""Synthetic llm-d installs as snapshots, for the scale benchmark (`bench/scan.py`).

`python bench/synth.py --nodes N -o DIR [--seed S]` writes a snapshot directory in the documented
format (schemas/snapshot.md) holding an llm-d install on N GPU nodes of 8 GPUs each:

- HGX H100 nodes (NVLink, eight 400G InfiniBand HCAs) serving Qwen3-32B with prefill/decode
  disaggregation (TP2 pods), Llama 3.3 70B (TP4) and DeepSeek-R1 on LeaderWorkerSet groups (a leader
  and a worker on two nodes, TP8 x PP2); a few PCIe nodes (8 H100 PCIe behind four PCIe switches)
  serving Llama 3.1 8B (TP2);
- on every GPU node the GPU operator's driver, device plugin and DCGM exporter pods, kube-proxy,
  and on the InfiniBand nodes the network operator's MOFED pod; the driver pod answers the
  node-level commands (dmesg, nvidia-smi, ibstat, lspci);
- exactly six injected faults, each recorded in DIR/injected.json with the findings a scan must give:
  an OOM kill (/dev/shm full of NCCL segments), Xid 79 on two nodes (kernel log from the driver pod,
  nvidia-smi lost, allocatable below capacity), an InfiniBand port down on one LeaderWorkerSet leader,
  a slow NFS load killed by its startup probe, and P2P broken by ACS redirect on one PCIe node;
- healthy look-alikes a grep would trip over and the trees must not flag: nodes with old application
  Xids (13, 31) in their kernel log, nodes with an unused Ethernet port down, pods that restarted once
  days ago (node reboot, a Hugging Face timeout), pods whose startup probe failed a few times during a
  load that then finished, and Pending replicas of the pods the Xid nodes lost.

The fault shapes are copied from the bundled demo and zoo snapshots (trees/snapshots/), whose walks
the tree tests pin, with their pods, nodes and driver pods renamed. Same N and seed, same bytes.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import re
import shutil
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llmd_triage.cluster.snapshot import SnapshotData, load_snapshot  # noqa: E402

SNAPSHOTS = ROOT / "trees" / "snapshots"
NS = "llm-d"
GPU_NS = "gpu-operator"
NET_NS = "nvidia-network-operator"
SYS_NS = "kube-system"
CAPTURED_AT = "2026-11-20T03:12:00Z"
FORMAT = "llmd-triage/snapshot/v1"

Obj = dict[str, Any]


# --------------------------------------------------------------------------------------------
# the manifest


@dataclass
class Fault:
    """One injected fault and the findings (tree, target, leaf) a scan must report for it."""

    id: str
    what: str
    node: str
    expect: list[tuple[str, str, str]]
    #: what a grep of the kubectl runbook's output would have to hit to spot it: (rule, target)
    runbook: tuple[str, str] | None = None

    def as_dict(self) -> Obj:
        return {
            "id": self.id,
            "what": self.what,
            "node": self.node,
            "expect": [{"tree": t, "target": g, "leaf": leaf} for t, g, leaf in self.expect],
            "runbook": {"rule": self.runbook[0], "target": self.runbook[1]} if self.runbook else None,
        }


@dataclass
class Manifest:
    nodes: int
    seed: int
    pods: int = 0
    faults: list[Fault] = field(default_factory=list)
    lookalikes: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> Obj:
        return {
            "nodes": self.nodes,
            "pods": self.pods,
            "seed": self.seed,
            "faults": [f.as_dict() for f in self.faults],
            "lookalikes": self.lookalikes,
        }


# --------------------------------------------------------------------------------------------
# templates from the bundled snapshots


class Templates:
    def __init__(self) -> None:
        self.demo = load_snapshot(SNAPSHOTS / "demo")
        self.load = load_snapshot(SNAPSHOTS / "load-zoo")
        self.p2p = load_snapshot(SNAPSHOTS / "p2p-zoo")
        self.rdma = load_snapshot(SNAPSHOTS / "rdma-zoo")

    @staticmethod
    def obj(data: SnapshotData, kind: str, name: str, ns: str = "") -> Obj:
        return copy.deepcopy(data.objects[(kind.lower(), ns, name)])

    @staticmethod
    def execs(data: SnapshotData, ns: str, pod: str) -> list[Obj]:
        return [copy.deepcopy(r) for r in data.execs if r.get("namespace") == ns and r.get("pod") == pod]

    @staticmethod
    def events(data: SnapshotData, name: str) -> list[Obj]:
        return [
            copy.deepcopy(o)
            for (k, _ns, _n), o in data.objects.items()
            if k == "event" and (o.get("involvedObject") or {}).get("name") == name
        ]


def renamer(mapping: dict[str, str]) -> Any:
    """A function that renames whole names in any JSON-able value (longest names first)."""
    names = sorted(mapping, key=len, reverse=True)
    rx = re.compile(r"(?<![A-Za-z0-9_.-])(" + "|".join(re.escape(n) for n in names) + r")(?![A-Za-z0-9_])")

    def apply(value: Any) -> Any:
        text = json.dumps(value)
        return json.loads(rx.sub(lambda m: mapping[m.group(1)], text))

    return apply


def healthy_status(obj: Obj, started: str, *, ip: str, host_ip: str) -> Obj:
    names = [c["name"] for c in obj["spec"]["containers"]]
    return {
        "phase": "Running",
        "qosClass": "Guaranteed",
        "hostIP": host_ip,
        "podIP": ip,
        "startTime": started,
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": started},
            {"type": "Initialized", "status": "True", "lastTransitionTime": started},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": started},
            {"type": "Ready", "status": "True", "lastTransitionTime": started},
        ],
        "containerStatuses": [
            {
                "name": n,
                "image": next(c.get("image", "") for c in obj["spec"]["containers"] if c["name"] == n),
                "ready": True,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": started}},
            }
            for n in names
        ],
    }


# --------------------------------------------------------------------------------------------
# node-level outputs written here (the PCIe node and ibstat; the HGX ones come from the demo)

_IB_HCAS = ["mlx5_0", "mlx5_3", "mlx5_4", "mlx5_5", "mlx5_6", "mlx5_9", "mlx5_10", "mlx5_11"]
_ETH_HCAS = ["mlx5_1", "mlx5_2"]


def ibstat(down: Iterable[str] = (), eth_down: Iterable[str] = ()) -> str:
    """ibstat of an HGX H100 node: eight 400G InfiniBand HCAs and two Ethernet ports, in ibstat's format
    (modelled on tests/fixtures/real/ibstat-h100-infiniband-active-eth-disabled.txt)."""
    down, eth_down = set(down), set(eth_down)
    out = []
    for i, ca in enumerate(sorted(_IB_HCAS + _ETH_HCAS)):
        eth = ca in _ETH_HCAS
        guid = f"0x946dae0300cd{0xE700 + 4 * i:04x}"
        is_down = ca in down or ca in eth_down
        state = "Down" if is_down else "Active"
        phys = ("Disabled" if eth else "Polling") if is_down else "LinkUp"
        out.append(
            f"CA '{ca}'\n\tCA type: {'MT4125' if eth else 'MT4129'}\n\tNumber of ports: 1\n"
            f"\tFirmware version: {'22.38.1002' if eth else '28.39.1002'}\n\tHardware version: 0\n"
            f"\tNode GUID: {guid}\n\tSystem image GUID: {guid}\n\tPort 1:\n\t\tState: {state}\n"
            f"\t\tPhysical state: {phys}\n\t\tRate: {100 if eth else 400}\n"
            f"\t\tBase lid: {0 if eth or is_down else 75 + 68 * i}\n\t\tLMC: 0\n\t\tSM lid: {0 if eth else 334}\n"
            f"\t\tCapability mask: {'0x00010000' if eth else '0xa751e848'}\n\t\tPort GUID: {guid}\n"
            f"\t\tLink layer: {'Ethernet' if eth else 'InfiniBand'}\n"
        )
    return "".join(out)


def pcie_ibstat() -> str:
    return (
        "CA 'mlx5_0'\n\tCA type: MT4125\n\tNumber of ports: 1\n\tFirmware version: 22.38.1002\n"
        "\tHardware version: 0\n\tNode GUID: 0x1070fd0300a1b2c0\n\tSystem image GUID: 0x1070fd0300a1b2c0\n"
        "\tPort 1:\n\t\tState: Active\n\t\tPhysical state: LinkUp\n\t\tRate: 200\n\t\tBase lid: 0\n"
        "\t\tLMC: 0\n\t\tSM lid: 0\n\t\tCapability mask: 0x00010000\n\t\tPort GUID: 0x1270fdfffea1b2c0\n"
        "\t\tLink layer: Ethernet\n"
    )


#: bus numbers of the 8 GPUs of the PCIe node: two per PCIe switch, two switches per socket
_PCIE_GPU_BUS = ["49", "4a", "5a", "5b", "c9", "ca", "da", "db"]
_PCIE_SWITCH = [("47", "48"), ("58", "59"), ("c7", "c8"), ("d8", "d9")]  # (upstream bus, downstream bus)


def _pcie_rel(a: int, b: int) -> str:
    if a == b:
        return " X "
    if a // 2 == b // 2:
        return "PXB"
    return "NODE" if a // 4 == b // 4 else "SYS"


def pcie_topo_m() -> str:
    head = "\t" + "\t".join(f"GPU{i}" for i in range(8)) + "\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID\n"
    rows = []
    for a in range(8):
        cells = "\t".join(_pcie_rel(a, b) for b in range(8))
        aff = "0-47,96-143\t0" if a < 4 else "48-95,144-191\t1"
        rows.append(f"GPU{a}\t{cells}\t{aff}\t\tN/A\n")
    legend = (
        "\nLegend:\n\n  X    = Self\n  SYS  = Connection traversing PCIe as well as the SMP interconnect between "
        "NUMA nodes (e.g., QPI/UPI)\n  NODE = Connection traversing PCIe as well as the interconnect between PCIe "
        "Host Bridges within a NUMA node\n  PHB  = Connection traversing PCIe as well as a PCIe Host Bridge "
        "(typically the CPU)\n  PXB  = Connection traversing multiple PCIe bridges (without traversing the PCIe "
        "Host Bridge)\n  PIX  = Connection traversing at most a single PCIe bridge\n  NV#  = Connection "
        "traversing a bonded set of # NVLinks\n"
    )
    return head + "".join(rows) + legend


def pcie_p2p_r() -> str:
    head = " \t" + "\t".join(f"GPU{i}" for i in range(8)) + "\t\n"
    rows = "".join(f" GPU{a}\t" + "\t".join("X" if a == b else "OK" for b in range(8)) + "\t\n" for a in range(8))
    legend = (
        "\nLegend:\n\n  X    = Self\n  OK   = Status Ok\n  CNS  = Chipset not supported\n  GNS  = GPU not "
        "supported\n  TNS  = Topology not supported\n  NS   = Not supported\n  DR   = Disabled by regkey\n"
        "  U    = Unknown\n"
    )
    return head + rows + legend


def gpu_uuid(node: str, index: int) -> str:
    return "GPU-" + str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{node}/{index}"))


def pcie_query_gpu(node: str) -> str:
    return "index, pci.bus_id, uuid\n" + "".join(
        f"{i}, 00000000:{bus}:00.0, {gpu_uuid(node, i)}\n" for i, bus in enumerate(_PCIE_GPU_BUS)
    )


def pcie_smi_xml(node: str) -> str:
    gpus = "".join(
        f'\t<gpu id="00000000:{bus}:00.0">\n\t\t<product_name>NVIDIA H100 PCIe</product_name>\n'
        f"\t\t<persistence_mode>Enabled</persistence_mode>\n\t\t<uuid>{gpu_uuid(node, i)}</uuid>\n"
        f"\t\t<minor_number>{i}</minor_number>\n\t\t<gpu_virtualization_mode>\n"
        "\t\t\t<virtualization_mode>None</virtualization_mode>\n\t\t\t<host_vgpu_mode>N/A</host_vgpu_mode>\n"
        "\t\t</gpu_virtualization_mode>\n\t\t<pci>\n"
        f"\t\t\t<pci_bus>{bus}</pci_bus>\n\t\t\t<pci_device>00</pci_device>\n\t\t\t<pci_domain>0000</pci_domain>\n"
        f"\t\t\t<pci_bus_id>00000000:{bus}:00.0</pci_bus_id>\n\t\t</pci>\n"
        "\t\t<gpu_recovery_action>None</gpu_recovery_action>\n\t</gpu>\n"
        for i, bus in enumerate(_PCIE_GPU_BUS)
    )
    return (
        '<?xml version="1.0" ?>\n<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v12.dtd">\n<nvidia_smi_log>\n'
        "\t<timestamp>Fri Nov 20 03:11:52 2026</timestamp>\n\t<driver_version>570.172.08</driver_version>\n"
        f"\t<cuda_version>12.8</cuda_version>\n\t<attached_gpus>8</attached_gpus>\n{gpus}</nvidia_smi_log>\n"
    )


def pcie_lspci(acs_redirect: bool) -> str:
    """lspci -vvv of the PCIe node, trimmed to the bridges and GPUs, in lspci's format (as the p2p-zoo's
    Broadcom PEX890xx switch node): with `acs_redirect` the downstream ports set ACSCtl ReqRedir+ CmpltRedir+."""
    flag = "+" if acs_redirect else "-"
    acs_ctl = f"SrcValid{flag} TransBlk- ReqRedir{flag} CmpltRedir{flag} UpstreamFwd{flag} EgressCtrl- DirectTrans-"
    out = []
    for s, (up, down) in enumerate(_PCIE_SWITCH):
        numa = 0 if s < 2 else 1
        gpus = _PCIE_GPU_BUS[2 * s : 2 * s + 2]
        out.append(
            f"{up}:00.0 PCI bridge: Broadcom / LSI PEX890xx PCIe Gen 5 Switch (rev b0) (prog-if 00 [Normal decode])\n"
            f"\tNUMA node: {numa}\n\tBus: primary={up}, secondary={down}, subordinate={gpus[-1]}, sec-latency=0\n"
            "\tCapabilities: [68] Express (v2) Upstream Port, MSI 00\n"
            "\t\tLnkCap:\tPort #0, Speed 32GT/s, Width x16, ASPM not supported\n"
            "\t\tLnkSta:\tSpeed 32GT/s (ok), Width x16 (ok)\n\tKernel driver in use: pcieport\n\n"
        )
        for port, bus in enumerate(gpus):
            out.append(
                f"{down}:{port:02x}.0 PCI bridge: Broadcom / LSI PEX890xx PCIe Gen 5 Switch (rev b0) "
                "(prog-if 00 [Normal decode])\n"
                f"\tNUMA node: {numa}\n\tBus: primary={down}, secondary={bus}, subordinate={bus}, sec-latency=0\n"
                "\tCapabilities: [68] Express (v2) Downstream Port (Slot+), MSI 00\n"
                f"\t\tLnkCap:\tPort #{port}, Speed 32GT/s, Width x16, ASPM not supported\n"
                "\t\tLnkSta:\tSpeed 32GT/s (ok), Width x16 (ok)\n"
                "\tCapabilities: [1f8 v1] Access Control Services\n"
                "\t\tACSCap:\tSrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl+ DirectTrans+\n"
                f"\t\tACSCtl:\t{acs_ctl}\n\tKernel driver in use: pcieport\n\n"
            )
        for bus in gpus:
            out.append(
                f"{bus}:00.0 3D controller: NVIDIA Corporation GH100 [H100 PCIe] (rev a1)\n\tNUMA node: {numa}\n"
                "\tCapabilities: [78] Express (v2) Endpoint, MSI 00\n"
                "\t\tLnkCap:\tPort #0, Speed 32GT/s, Width x16, ASPM not supported\n"
                "\t\tLnkSta:\tSpeed 32GT/s (ok), Width x16 (ok)\n\tKernel driver in use: nvidia\n\n"
            )
    return "".join(out)


_CMDLINE_PT = "BOOT_IMAGE=/vmlinuz-5.15.0-101-generic root=/dev/mapper/ubuntu--vg-ubuntu--lv ro iommu=pt\n"
_CMDLINE_TRANSLATED = (
    "BOOT_IMAGE=/vmlinuz-5.15.0-101-generic root=/dev/mapper/ubuntu--vg-ubuntu--lv ro intel_iommu=on\n"
)

_PCIE_DMESG = (
    "[Fri Nov 13 18:03:41 2026] nvidia: module license 'NVIDIA' taints kernel.\n"
    "[Fri Nov 13 18:03:44 2026] NVRM: loading NVIDIA UNIX x86_64 Kernel Module  570.172.08  "
    "Tue Jul  8 18:45:51 UTC 2025\n"
    "[Fri Nov 13 18:03:48 2026] nvidia-uvm: Loaded the UVM driver, major device number 506.\n"
)

#: old application-class Xids (already handled by a restart of the app): a grep hits them, the device plugin
#: keeps the GPUs healthy, so no tree walks the node. Line format as in the xid-zoo's real captures.
_OLD_APP_XIDS = (
    "[Tue Nov 17 09:12:03 2026] NVRM: Xid (PCI:0000:2a:00): 13, pid='<unknown>', name=<unknown>, Graphics SM "
    "Warp Exception on (GPC 7, TPC 7, SM 0): Illegal Instruction Parameter\n"
    "[Tue Nov 17 09:12:03 2026] NVRM: Xid (PCI:0000:2a:00): 13, pid='<unknown>', name=<unknown>, Graphics SM "
    "Global Exception on (GPC 7, TPC 7, SM 0): Multiple Warp Errors\n"
    "[Wed Nov 18 14:40:27 2026] NVRM: Xid (PCI:0000:ab:00): 31, pid=402117, name=VLLM::Worker_TP, Ch 00000008, "
    "intr 00000000. MMU Fault: ENGINE GRAPHICS GPCCLIENT_T1_14 faulted @ 0x7f2f_cca58000. Fault is of type "
    "FAULT_PDE ACCESS_TYPE_VIRT_READ\n"
)

_XID_TOPO_ERROR = "Unable to determine the device handle for GPU0000:A1:00.0: Unknown Error\n"


# --------------------------------------------------------------------------------------------
# the generator


class Builder:
    def __init__(self, nodes: int, seed: int) -> None:
        if nodes < 10:
            raise ValueError("a synthetic install needs at least 10 GPU nodes (one per fault, plus LWS pairs)")
        self.n = nodes
        self.seed = seed
        self.rng = random.Random(seed)
        self.t = Templates()
        self.objects: list[Obj] = []
        self.logs: dict[tuple[str, str, str, bool], str] = {}
        self.execs: dict[tuple[str, str], list[Obj]] = {}
        self.manifest = Manifest(nodes, seed)
        self._names: set[str] = set()
        self._pod_count = 0

    # ---- small helpers

    def suffix(self, n: int = 5) -> str:
        alphabet = "bcdfghjklmnpqrstvwxz2456789"
        while True:
            s = "".join(self.rng.choice(alphabet) for _ in range(n))
            if s not in self._names:
                self._names.add(s)
                return s

    def add(self, obj: Obj) -> Obj:
        self.objects.append(obj)
        if obj.get("kind") == "Pod":
            self._pod_count += 1
        return obj

    def add_exec(self, ns: str, pod: str, records: Iterable[Obj]) -> None:
        out = self.execs.setdefault((ns, pod), [])
        for r in records:
            r = {k: v for k, v in r.items() if k not in ("namespace", "pod")}
            out.append(r)

    def ip(self, node_index: int, host: int) -> str:
        return f"10.{42 + node_index // 250}.{node_index % 250}.{host}"

    # ---- the install

    def build(self) -> None:
        n = self.n
        n_pcie = max(1, round(n * 0.02))
        n_ds_pairs = max(1, round(n * 0.18 / 2))
        n_llama = max(3, round(n * 0.30))
        n_qwen = n - n_pcie - 2 * n_ds_pairs - n_llama
        if n_qwen < 3:
            raise ValueError(f"{n} nodes is too few for the layout")
        kinds = ["qwen"] * n_qwen + ["llama"] * n_llama + ["ds-leader", "ds-worker"] * n_ds_pairs + ["pcie"] * n_pcie
        self.nodes = [f"gpu-node-{i:05d}" for i in range(n)]
        self.kind = dict(zip(self.nodes, kinds, strict=True))
        by_kind: dict[str, list[str]] = {}
        for name in self.nodes:
            by_kind.setdefault(self.kind[name], []).append(name)
        rng = self.rng

        # where the faults and look-alikes go (each on its own node)
        taken: set[str] = set()

        def pick(kind: str, k: int = 1) -> list[str]:
            free = [x for x in by_kind.get(kind, []) if x not in taken]
            if len(free) < k:
                free = [x for x in self.nodes if x not in taken and self.kind[x] in ("qwen", "llama")]
            chosen = rng.sample(free, k)
            taken.update(chosen)
            return chosen

        self.f_oom = pick("qwen")[0]
        self.f_xid = pick("llama", 2)
        ds_leaders = by_kind["ds-leader"]
        self.f_ib_group = rng.randrange(len(ds_leaders))
        taken.add(ds_leaders[self.f_ib_group])
        self.f_slow = pick("llama")[0]
        self.f_acs = pick("pcie")[0]
        n_look = max(1, n // 50)
        self.l_old_xid = set(pick("qwen", max(0, min(n_look, len([x for x in by_kind["qwen"] if x not in taken]) - 2))))
        self.l_eth_down = set(
            pick("llama", max(0, min(n_look, len([x for x in by_kind["llama"] if x not in taken]) - 1)))
        )
        free_pods_nodes = [x for x in self.nodes if x not in taken and self.kind[x] in ("qwen", "llama")]
        n_restart = max(2, n // 100)
        self.l_restart = set(rng.sample(free_pods_nodes, min(n_restart, len(free_pods_nodes))))
        taken.update(self.l_restart)
        free_pods_nodes = [x for x in free_pods_nodes if x not in taken]
        self.l_slow_ok = set(rng.sample(free_pods_nodes, min(n_restart, len(free_pods_nodes))))
        taken.update(self.l_slow_ok)
        self.manifest.lookalikes = {
            "old application Xids in the kernel log (node)": sorted(self.l_old_xid),
            "unused Ethernet port down (node)": sorted(self.l_eth_down),
            "a pod that restarted once days ago (node)": sorted(self.l_restart),
            "a pod whose startup probe failed during a load that finished (node)": sorted(self.l_slow_ok),
            "Pending replica of a pod an Xid node lost (node it left)": sorted(self.f_xid),
        }

        self.shared_objects()
        for i, node in enumerate(self.nodes):
            self.node(i, node)
        self.deepseek_groups(by_kind["ds-leader"], by_kind["ds-worker"])
        self.manifest.pods = self._pod_count

    # ---- cluster-wide objects

    def shared_objects(self) -> None:
        d = self.t.demo
        rn = renamer({"llm-d-demo": NS})
        for (kind, _ns, _name), obj in d.objects.items():
            if kind in ("inferencepool", "persistentvolumeclaim", "persistentvolume", "storageclass"):
                self.add(rn(copy.deepcopy(obj)))
        for kind, ns, name in (
            ("storageclass", "", "nfs-csi"),
            ("persistentvolumeclaim", NS, "model-pvc"),
            ("persistentvolume", "", "pvc-6a1f0c2e-nfs"),
        ):
            self.add(Templates.obj(self.t.load, kind, name, ns))
        for name in (NS, GPU_NS, NET_NS, SYS_NS, "default"):
            self.add(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "status": {"phase": "Active"}}
            )
        # endpoint pickers, on the first qwen node
        for epp in (
            "qwen3-32b-epp-7d9c5b8f4-p2v6n",
            "llama-3-3-70b-epp-5c8d7f9b6-h2k8s",
            "deepseek-r1-epp-6f9b8c7d5-t7m4q",
        ):
            pod = rn(Templates.obj(d, "Pod", epp, "llm-d-demo"))
            pod["spec"]["nodeName"] = self.nodes[0]
            self.add(pod)
        pcie_epp = rn(Templates.obj(d, "Pod", "llama-3-3-70b-epp-5c8d7f9b6-h2k8s", "llm-d-demo"))
        pcie_epp = renamer(
            {"llama-3-3-70b": "llama-3-1-8b", "llama-3-3-70b-epp-5c8d7f9b6-h2k8s": "llama-3-1-8b-epp-6b7c8d9f4-k3m5p"}
        )(pcie_epp)
        pcie_epp["spec"]["nodeName"] = self.nodes[0]
        self.add(pcie_epp)
        pool = rn(Templates.obj(d, "InferencePool", "llama-3-3-70b", "llm-d-demo"))
        self.add(renamer({"llama-3-3-70b": "llama-3-1-8b", "llama-3-3-70b-epp": "llama-3-1-8b-epp"})(pool))
        counts = {k: 0 for k in ("qwen", "llama", "pcie")}
        for node in self.nodes:
            if self.kind[node] in counts:
                counts[self.kind[node]] += 1
        for deploy, replicas, model in (
            ("qwen3-32b-prefill", 2 * counts["qwen"], "qwen3-32b"),
            ("qwen3-32b-decode", 2 * counts["qwen"], "qwen3-32b"),
            ("llama-3-3-70b-decode", 2 * counts["llama"], "llama-3-3-70b"),
            ("llama-3-1-8b-decode", 4 * counts["pcie"], "llama-3-1-8b"),
        ):
            self.add(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": deploy, "namespace": NS, "labels": {"llm-d.ai/model": model}},
                    "spec": {"replicas": replicas, "selector": {"matchLabels": {"app.kubernetes.io/name": deploy}}},
                    "status": {"replicas": replicas},
                }
            )

    # ---- one node and what runs on it

    def node(self, i: int, name: str) -> None:
        d = self.t.demo
        kind = self.kind[name]
        xid = name in self.f_xid
        if kind == "pcie":
            obj = Templates.obj(d, "Node", "gpu-node-a")
            labels = obj["metadata"]["labels"]
            labels["node.kubernetes.io/instance-type"] = "pcie-h100-8"
            labels["nvidia.com/gpu.product"] = "NVIDIA-H100-PCIe"
            labels.pop("feature.node.kubernetes.io/rdma.available", None)
            for key in ("capacity", "allocatable"):
                obj["status"][key].pop("rdma/ib", None)
        else:
            obj = Templates.obj(d, "Node", "gpu-node-c" if xid else "gpu-node-a")
        obj = renamer({"gpu-node-a": name, "gpu-node-c": name})(obj)
        obj["spec"]["podCIDR"] = f"10.{42 + i // 250}.{i % 250}.0/24"
        obj["status"]["addresses"][0]["address"] = f"10.{i // 250}.{12 + (i % 250) // 100}.{i % 100 + 10}"
        self.add(obj)
        host_ip = obj["status"]["addresses"][0]["address"]

        # node daemons
        drv = self.system_pods(i, name, kind)
        self.driver_execs(name, drv, kind)

        # model servers
        if kind == "qwen":
            self.qwen_pods(i, name, host_ip)
        elif kind == "llama":
            self.llama_pods(i, name, host_ip)
        elif kind == "pcie":
            self.pcie_pods(i, name, host_ip)

    def system_pods(self, i: int, node: str, kind: str) -> str:
        d = self.t.demo
        drv_name = f"nvidia-driver-daemonset-{self.suffix()}"
        drv = renamer({"gpu-node-a": node, "nvidia-driver-daemonset-h8m2x": drv_name})(
            Templates.obj(d, "Pod", "nvidia-driver-daemonset-h8m2x", GPU_NS)
        )
        self.add(drv)
        dcgm = renamer({"gpu-node-a": node, "nvidia-dcgm-exporter-k2x7q": f"nvidia-dcgm-exporter-{self.suffix()}"})(
            Templates.obj(d, "Pod", "nvidia-dcgm-exporter-k2x7q", GPU_NS)
        )
        self.add(dcgm)
        for ns, ds, app, image in (
            (
                GPU_NS,
                "nvidia-device-plugin-daemonset",
                "nvidia-device-plugin-daemonset",
                "nvcr.io/nvidia/k8s-device-plugin:v0.17.0",
            ),
            (SYS_NS, "kube-proxy", "kube-proxy", "registry.k8s.io/kube-proxy:v1.32.6"),
        ) + (
            (
                (
                    NET_NS,
                    "mofed-ubuntu22.04-ds",
                    "mofed-ubuntu22.04-ds",
                    "nvcr.io/nvidia/mellanox/doca-driver:24.10-0.7.0.0-0",
                ),
            )
            if kind != "pcie"
            else ()
        ):
            self.add(self.daemon_pod(ns, ds, app, image, node, i))
        return drv_name

    def daemon_pod(self, ns: str, ds: str, app: str, image: str, node: str, i: int) -> Obj:
        name = f"{ds}-{self.suffix()}"
        started = "2026-11-13T18:05:12Z"
        pod: Obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": {"app": app, "app.kubernetes.io/name": app},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": ds, "controller": True}],
            },
            "spec": {"nodeName": node, "containers": [{"name": app.split(".")[0], "image": image}]},
        }
        pod["status"] = healthy_status(pod, started, ip=self.ip(i, 2 + len(ds) % 7), host_ip="")
        pod["status"]["qosClass"] = "BestEffort"
        return pod

    def driver_execs(self, node: str, drv: str, kind: str) -> None:
        d = self.t.demo
        healthy = {tuple(r["argv"]): r for r in Templates.execs(d, GPU_NS, "nvidia-driver-daemonset-h8m2x")}
        if kind == "pcie":
            acs = node == self.f_acs
            recs = [
                {"argv": ["dmesg", "-T"], "stdout": _PCIE_DMESG},
                {"argv": ["timeout", "15", "nvidia-smi", "-q", "-x"], "stdout": pcie_smi_xml(node)},
                {"argv": ["nvidia-smi", "-q", "-x"], "stdout": pcie_smi_xml(node)},
                {"argv": ["nvidia-smi", "topo", "-m"], "stdout": pcie_topo_m()},
                {"argv": ["nvidia-smi", "topo", "-p2p", "r"], "stdout": pcie_p2p_r()},
                {
                    "argv": ["nvidia-smi", "--query-gpu=index,pci.bus_id,uuid", "--format=csv"],
                    "stdout": pcie_query_gpu(node),
                },
                {"argv": ["lspci", "-vvv"], "stdout": pcie_lspci(acs_redirect=acs)},
                {"argv": ["cat", "/proc/cmdline"], "stdout": _CMDLINE_TRANSLATED if acs else _CMDLINE_PT},
                {"argv": ["ls", "-d", "/sys/kernel/iommu_groups/0"], "stdout": "/sys/kernel/iommu_groups/0\n"},
                {"argv": ["ibstat"], "stdout": pcie_ibstat()},
            ]
        elif node in self.f_xid:
            recs = Templates.execs(d, GPU_NS, "nvidia-driver-daemonset-z6k9d")
            recs += [
                {"argv": ["nvidia-smi", "topo", "-m"], "exit_code": 255, "stdout": _XID_TOPO_ERROR},
                {"argv": ["nvidia-smi", "topo", "-p2p", "r"], "exit_code": 255, "stdout": _XID_TOPO_ERROR},
                {"argv": ["ibstat"], "stdout": ibstat()},
            ]
        else:
            recs = list(copy.deepcopy(list(healthy.values())))
            if node in self.l_old_xid:
                for r in recs:
                    if r["argv"] == ["dmesg", "-T"]:
                        r["stdout"] = r["stdout"] + _OLD_APP_XIDS
            leader_down = kind == "ds-leader" and self.ds_group_of_leader(node) == self.f_ib_group
            recs.append(
                {
                    "argv": ["ibstat"],
                    "stdout": ibstat(
                        down=["mlx5_5"] if leader_down else [], eth_down=["mlx5_2"] if node in self.l_eth_down else []
                    ),
                }
            )
        for r in recs:
            r["container"] = "nvidia-driver-ctr"
        self.add_exec(GPU_NS, drv, recs)

    def ds_group_of_leader(self, node: str) -> int:
        leaders = [x for x in self.nodes if self.kind[x] == "ds-leader"]
        return leaders.index(node)

    # ---- model servers

    def place(self, pod: Obj, node: str, i: int, host_ip: str, slot: int, started: str) -> Obj:
        pod["spec"]["nodeName"] = node
        pod["status"] = healthy_status(pod, started, ip=self.ip(i, 20 + slot), host_ip=host_ip)
        return pod

    def qwen_pods(self, i: int, node: str, host_ip: str) -> None:
        d = self.t.demo
        rn = renamer({"llm-d-demo": NS})
        lost = node in self.f_xid
        for slot, (tmpl, rs) in enumerate(
            [
                ("qwen3-32b-prefill-6b8c7d9f5-m4q8z", "qwen3-32b-prefill-6b8c7d9f5"),
                ("qwen3-32b-prefill-6b8c7d9f5-m4q8z", "qwen3-32b-prefill-6b8c7d9f5"),
                ("qwen3-32b-decode-5f7d9c8b6-7xk2p", "qwen3-32b-decode-5f7d9c8b6"),
                ("qwen3-32b-decode-5f7d9c8b6-7xk2p", "qwen3-32b-decode-5f7d9c8b6"),
            ]
        ):
            name = f"{rs}-{self.suffix()}"
            if node == self.f_oom and slot == 2:
                self.oom_pod(node, name)
                continue
            pod = rn(renamer({tmpl: name})(Templates.obj(d, "Pod", tmpl, "llm-d-demo")))
            self.place(pod, node, i, host_ip, slot, "2026-11-19T22:14:02Z")
            if lost and slot == 3:
                self.pending(pod)
            self.lookalike(pod, node, slot, "qwen")
            self.add(pod)

    def llama_pods(self, i: int, node: str, host_ip: str) -> None:
        d = self.t.demo
        rn = renamer({"llm-d-demo": NS})
        tmpl = "llama-3-3-70b-decode-84f6c9d7b5-r8vtz"
        for slot in range(2):
            name = f"llama-3-3-70b-decode-84f6c9d7b5-{self.suffix()}"
            if node == self.f_slow and slot == 1:
                self.slow_pod(node, name)
                continue
            pod = rn(renamer({tmpl: name})(Templates.obj(d, "Pod", tmpl, "llm-d-demo")))
            c = pod["spec"]["containers"][0]
            c["args"] = [a for a in c["args"] if a != "--disable-custom-all-reduce"]
            c["env"] = [e for e in c["env"] if e["name"] != "NCCL_P2P_DISABLE"]
            self.place(pod, node, i, host_ip, slot, "2026-11-19T22:14:02Z")
            if node in self.f_xid and slot == 1:
                self.pending(pod)
            self.lookalike(pod, node, slot, "llama")
            self.add(pod)

    def pcie_pods(self, i: int, node: str, host_ip: str) -> None:
        for slot in range(4):
            name = f"llama-3-1-8b-decode-6a5b4c3d2-{self.suffix()}"
            pod = renamer(
                {"llama-3-8b-tp2-6a5b4c3d2-acs01": name, "llama-3-8b-tp2-6a5b4c3d2": "llama-3-1-8b-decode-6a5b4c3d2"}
            )(Templates.obj(self.t.p2p, "Pod", "llama-3-8b-tp2-6a5b4c3d2-acs01", NS))
            pod["metadata"]["labels"]["llm-d.ai/model"] = "llama-3-1-8b"
            pod["metadata"]["labels"]["app.kubernetes.io/name"] = "llama-3-1-8b-decode"
            self.place(pod, node, i, host_ip, slot, "2026-11-19T22:14:02Z")
            if node == self.f_acs and slot == 0:
                self.acs_pod(pod, node)
            self.add(pod)

    def pending(self, pod: Obj) -> None:
        """The replica that ran on the GPU that fell off the bus: rescheduled, and no node has a free GPU."""
        pod["metadata"]["name"] = pod["metadata"]["name"].rsplit("-", 1)[0] + "-" + self.suffix()
        pod["spec"].pop("nodeName", None)
        pod["status"] = {
            "phase": "Pending",
            "qosClass": "Guaranteed",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": f"0/{self.n} nodes are available: {self.n} Insufficient nvidia.com/gpu. "
                    "preemption: 0/{self.n} nodes are available: {self.n} No preemption victims found for "
                    "incoming pod.".replace("{self.n}", str(self.n)),
                    "lastTransitionTime": "2026-11-20T02:42:10Z",
                }
            ],
        }

    def lookalike(self, pod: Obj, node: str, slot: int, kind: str) -> None:
        name = pod["metadata"]["name"]
        if node in self.l_restart and slot == 0 and pod["spec"].get("nodeName"):
            # restarted once, days ago: a node reboot (Unknown, 255) or a Hugging Face timeout at start (Error, 1)
            vllm = next(s for s in pod["status"]["containerStatuses"] if s["name"] == "vllm")
            vllm["restartCount"] = 1
            reboot = kind == "qwen"
            vllm["lastState"] = {
                "terminated": {
                    "reason": "Unknown" if reboot else "Error",
                    "exitCode": 255 if reboot else 1,
                    "startedAt": "2026-11-15T08:02:11Z",
                    "finishedAt": "2026-11-16T04:17:30Z" if reboot else "2026-11-15T08:03:02Z",
                }
            }
            if reboot:
                prev = (
                    "(APIServer pid=1) INFO 11-16 04:10:02 [loggers.py:123] Engine 000: Avg prompt throughput: 812.4 "
                    "tokens/s, Avg generation throughput: 1630.2 tokens/s, Running: 21 reqs, Waiting: 0 reqs, GPU KV "
                    "cache usage: 41.3%, Prefix cache hit rate: 37.9%\n"
                    '(APIServer pid=1) INFO:     10.42.7.3:51234 - "POST /v1/completions HTTP/1.1" 200 OK\n'
                )
            else:
                prev = (
                    "(APIServer pid=1) INFO 11-15 08:02:40 [api_server.py:1839] vLLM API server version 0.11.0\n"
                    "(APIServer pid=1) ERROR 11-15 08:03:01 [core.py:708] OSError: We couldn't connect to "
                    "'https://huggingface.co' to load the files, and couldn't find them in the cached files.\n"
                )
            self.logs[(NS, name, "vllm", True)] = prev
            self.logs[(NS, name, "vllm", False)] = self.t.demo.logs[
                ("llm-d-demo", "qwen3-32b-prefill-6b8c7d9f5-m4q8z", "vllm", False)
            ]
            self.manifest.lookalikes.setdefault("restarted pods (pod)", []).append(f"pod/{name}")
        if node in self.l_slow_ok and slot == 0 and pod["spec"].get("nodeName"):
            # the startup probe failed a few times while the weights loaded, then the server came up
            for j, (reason, message, count) in enumerate(
                [
                    ("Pulled", 'Container image "ghcr.io/llm-d/llm-d-cuda:v0.4.0" already present on machine', 1),
                    (
                        "Unhealthy",
                        f'Startup probe failed: Get "http://{pod["status"]["podIP"]}:8000/v1/models": dial '
                        f"tcp {pod['status']['podIP']}:8000: connect: connection refused",
                        6,
                    ),
                ]
            ):
                self.add(self.event(name, node, reason, message, count, j, warning=reason == "Unhealthy"))
            self.manifest.lookalikes.setdefault("startup probe failed, then Ready (pod)", []).append(f"pod/{name}")

    def event(self, pod: str, node: str, reason: str, message: str, count: int, j: int, warning: bool) -> Obj:
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{pod}.18{self.rng.randrange(16**6):06x}{j}", "namespace": NS},
            "involvedObject": {"kind": "Pod", "name": pod, "namespace": NS, "fieldPath": "spec.containers{vllm}"},
            "type": "Warning" if warning else "Normal",
            "reason": reason,
            "message": message,
            "count": count,
            "firstTimestamp": "2026-11-19T22:14:08Z",
            "lastTimestamp": "2026-11-19T22:16:38Z",
            "source": {"component": "kubelet", "host": node},
        }

    # ---- the faults

    def oom_pod(self, node: str, name: str) -> None:
        d = self.t.demo
        old = "qwen3-32b-decode-5f7d9c8b6-7xk2p"
        rn = renamer({old: name, "gpu-node-a": node, "llm-d-demo": NS})
        self.add(rn(Templates.obj(d, "Pod", old, "llm-d-demo")))
        for ev in Templates.events(d, old):
            self.add(rn(ev))
        for (_ns, pod, c, prev), text in d.logs.items():
            if pod == old:
                self.logs[(NS, name, c, prev)] = text
        self.add_exec(NS, name, Templates.execs(d, "llm-d-demo", old))
        self.manifest.faults.append(
            Fault(
                "oom-shm",
                "OOM kill: /dev/shm of a Qwen decode pod full of NCCL segments",
                node,
                [("oom-kill", f"pod/{name}", "clear-shm")],
                ("lastState OOMKilled", f"pod/{name}"),
            )
        )

    def slow_pod(self, node: str, name: str) -> None:
        z = self.t.load
        rn = renamer(
            {"nfs-killed-6d5f7c9b8": "llama-3-3-70b-decode-84f6c9d7b5", "nfs-killed": name, "gpu-node-a": node}
        )
        pod = rn(Templates.obj(z, "Pod", "nfs-killed", NS))
        pod["metadata"]["labels"].update(
            {"app.kubernetes.io/name": "llama-3-3-70b-decode", "llm-d.ai/model": "llama-3-3-70b"}
        )
        self.add(pod)
        for ev in Templates.events(z, "nfs-killed"):
            self.add(rn(ev))
        for (_ns, pod_name, c, prev), text in z.logs.items():
            if pod_name == "nfs-killed":
                self.logs[(NS, name, c, prev)] = text
        self.add_exec(NS, name, Templates.execs(z, NS, "nfs-killed"))
        self.manifest.faults.append(
            Fault(
                "slow-load",
                "a Llama 70B load from NFS killed by its startup probe",
                node,
                [
                    ("slow-model-load", f"pod/{name}", "startup-budget-too-short"),
                    # the OOM tree reads the exit 137 and hands over: killed by its probe, not by memory
                    ("oom-kill", f"pod/{name}", "killed-by-probe"),
                ],
                ("startup probe kill event", f"pod/{name}"),
            )
        )

    def acs_pod(self, pod: Obj, node: str) -> None:
        """The TP2 server hangs after NCCL init: ACS sends its P2P traffic to a translating IOMMU."""
        name = pod["metadata"]["name"]
        vllm = pod["status"]["containerStatuses"][0]
        vllm["ready"] = False
        vllm["started"] = True
        vllm["restartCount"] = 0
        vllm["state"] = {"running": {"startedAt": "2026-11-20T02:31:00Z"}}
        for c in pod["status"]["conditions"]:
            if c["type"] in ("Ready", "ContainersReady"):
                c.update(status="False", reason="ContainersNotReady")
        log = self.t.p2p.logs[(NS, "qwen3-32b-tp2-9d8c7b6a5-hang1", "vllm", False)]
        log = log.replace("qwen3-32b-tp2-9d8c7b6a5-hang1", name).replace(
            "Qwen/Qwen3-32B", "meta-llama/Llama-3.1-8B-Instruct"
        )
        self.logs[(NS, name, "vllm", False)] = log
        self.add_exec(
            NS,
            name,
            [
                {
                    "container": "vllm",
                    "argv": ["nvidia-smi", "--query-gpu=index,pci.bus_id,uuid", "--format=csv"],
                    "stdout": "index, pci.bus_id, uuid\n"
                    + "".join(f"{i}, 00000000:{_PCIE_GPU_BUS[i]}:00.0, {gpu_uuid(node, i)}\n" for i in range(2)),
                }
            ],
        )
        self.manifest.faults.append(
            Fault(
                "p2p-acs",
                "P2P between a TP2 pod's GPUs redirected by ACS to a translating IOMMU (hang after NCCL init)",
                node,
                [("p2p-disabled", f"pod/{name}", "acs-redirect-iommu-translated")],
                None,  # topo -m, dmesg, nvidia-smi and ibstat do not show ACS
            )
        )

    def deepseek_groups(self, leaders: list[str], workers: list[str]) -> None:
        d = self.t.demo
        for g, (lnode, wnode) in enumerate(zip(leaders, workers, strict=True)):
            li, wi = self.nodes.index(lnode), self.nodes.index(wnode)
            key = f"{self.rng.randrange(16**40):040x}"
            rn = renamer(
                {
                    "deepseek-r1-0-1": f"deepseek-r1-{g}-1",
                    "deepseek-r1-0": f"deepseek-r1-{g}",
                    "gpu-node-d": lnode,
                    "gpu-node-e": wnode,
                    "llm-d-demo": NS,
                    "8d4c1f6e2b7a9035c1e4d8f2a6b0c9e7d3f1a5b8": key,
                }
            )
            leader = rn(Templates.obj(d, "Pod", "deepseek-r1-0", "llm-d-demo"))
            worker = rn(Templates.obj(d, "Pod", "deepseek-r1-0-1", "llm-d-demo"))
            for pod in (leader, worker):
                pod["metadata"]["labels"]["leaderworkerset.sigs.k8s.io/group-index"] = str(g)
            worker_status = worker["status"]
            self.place(worker, wnode, wi, worker_status["hostIP"], 0, "2026-11-18T09:20:11Z")
            if g == self.f_ib_group:
                leader["metadata"]["name"] = f"deepseek-r1-{g}"
                for ev in Templates.events(d, "deepseek-r1-0"):
                    self.add(rn(ev))
                for (_ns, pod_name, c, prev), text in d.logs.items():
                    if pod_name in ("deepseek-r1-0", "deepseek-r1-0-1"):
                        self.logs[(NS, rn(pod_name), c, prev)] = text
                self.add_exec(NS, f"deepseek-r1-{g}", Templates.execs(d, "llm-d-demo", "deepseek-r1-0"))
                self.add_exec(NS, f"deepseek-r1-{g}-1", Templates.execs(d, "llm-d-demo", "deepseek-r1-0-1"))
                self.manifest.faults.append(
                    Fault(
                        "ib-port-down",
                        "InfiniBand port mlx5_5/1 down under a DeepSeek LeaderWorkerSet leader",
                        lnode,
                        [("rdma-link-down", f"pod/deepseek-r1-{g}", "port-physically-down")],
                        ("ibstat State: Down", f"node/{lnode}"),
                    )
                )
            else:
                self.place(leader, lnode, li, leader["status"]["hostIP"], 0, "2026-11-18T09:20:11Z")
            self.add(leader)
            self.add(worker)
        n_groups = len(leaders)
        lws = Templates.obj(d, "LeaderWorkerSet", "deepseek-r1", "llm-d-demo")
        lws = renamer({"llm-d-demo": NS})(lws)
        lws["spec"]["replicas"] = n_groups
        self.add(lws)
        sts = renamer({"llm-d-demo": NS})(Templates.obj(d, "StatefulSet", "deepseek-r1", "llm-d-demo"))
        sts["spec"]["replicas"] = n_groups
        self.add(sts)
        for g in range(n_groups):
            w = renamer({"deepseek-r1-0": f"deepseek-r1-{g}", "llm-d-demo": NS})(
                Templates.obj(d, "StatefulSet", "deepseek-r1-0", "llm-d-demo")
            )
            w["metadata"]["labels"]["leaderworkerset.sigs.k8s.io/group-index"] = str(g)
            self.add(w)
        for node in self.f_xid:
            self.manifest.faults.append(
                Fault(
                    f"xid79-{node}",
                    "Xid 79: a GPU fell off the bus (kernel log of the driver pod, nvidia-smi lost)",
                    node,
                    [("gpu-xid", f"node/{node}", "reboot-node")],
                    ("dmesg NVRM: Xid", f"node/{node}"),
                )
            )

    # ---- output

    def write(self, out: Path) -> None:
        if out.exists():
            shutil.rmtree(out)
        (out / "objects").mkdir(parents=True)
        manifest = {
            "format": FORMAT,
            "name": f"synthetic-{self.n}",
            "namespace": NS,
            "captured_at": CAPTURED_AT,
            "context": "bench-synthetic",
            "notes": f"Synthetic llm-d install on {self.n} GPU nodes (bench/synth.py, seed {self.seed}); "
            "the injected faults are listed in injected.json.",
        }
        (out / "snapshot.yaml").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        groups: dict[str, list[Obj]] = {}
        for obj in self.objects:
            kind = obj["kind"]
            file = {"Pod": "pods", "Node": "nodes", "Event": "events"}.get(kind, "cluster")
            groups.setdefault(file, []).append(obj)
        for file, items in groups.items():
            doc = {"apiVersion": "v1", "kind": "List", "items": items}
            (out / "objects" / f"{file}.json").write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
        for (ns, pod, container, previous), text in sorted(self.logs.items()):
            folder = out / "logs" / ns / pod
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{container}{'.previous' if previous else ''}.log").write_text(text, encoding="utf-8")
        for (ns, pod), recs in sorted(self.execs.items()):
            folder = out / "exec" / ns
            folder.mkdir(parents=True, exist_ok=True)
            # JSON is YAML: the loader reads it, and much faster than block YAML
            (folder / f"{pod}.yaml").write_text(json.dumps(recs, separators=(",", ":")), encoding="utf-8")
        (out / "injected.json").write_text(json.dumps(self.manifest.as_dict(), indent=1) + "\n", encoding="utf-8")


def generate(nodes: int, out: Path, seed: int = 8) -> Manifest:
    """Write a synthetic install of `nodes` GPU nodes to `out` (replaced) and return its manifest."""
    b = Builder(nodes, seed)
    b.build()
    b.write(Path(out))
    return b.manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, required=True, help="GPU nodes (at least 10)")
    ap.add_argument("-o", "--output", required=True, help="snapshot directory to write (replaced)")
    ap.add_argument("--seed", type=int, default=8)
    args = ap.parse_args(argv)
    m = generate(args.nodes, Path(args.output), args.seed)
    print(f"wrote {args.output}: {m.nodes} GPU nodes, {m.pods} pods, {len(m.faults)} injected faults")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
