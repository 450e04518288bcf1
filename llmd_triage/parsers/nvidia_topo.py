"""`nvidia-smi topo -m`, `nvidia-smi topo -p2p <mode>` and `nvidia-smi nvlink --status` (DOMAIN.md §7 steps 3-4).

Columns are found by token, not by position, so tab-separated output, space-aligned terminal pastes and
the older layouts (NICs named `mlx5_0` in the header, no NUMA columns) all read the same way. Prompt
lines, the command echo and the legend around the matrix are skipped.
"""

from __future__ import annotations

import re
from typing import Any

from llmd_triage.parsers import parser
from llmd_triage.parsers.textutil import add_error, iter_lines

MAX_ERRORS = 20

# best first; NV# is ranked by its count (more bonded links is better), SOC is the pre-2017 name of SYS
_LINK_RANK = {"PIX": 1, "PXB": 2, "PHB": 3, "NODE": 4, "SYS": 5, "SOC": 5}
_NV = re.compile(r"^NV(\d+)$")
_TOPO_CELL = re.compile(r"^(X|NV\d+|PIX|PXB|PHB|NODE|SYS|SOC|N/A)$")
_P2P_CELLS = frozenset({"X", "OK", "CNS", "GNS", "TNS", "NS", "DR", "U", "N/A"})
_DEVICE = re.compile(r"^(GPU\d+|NIC\d+|mlx\d+_\w+|hfi\d+_\d+|[a-z][a-z0-9]*_\w+)$")
_AFFINITY = (("CPU", "Affinity"), ("NUMA", "Affinity"), ("GPU", "NUMA", "ID"))
_NIC_LEGEND = re.compile(r"^\s*(NIC\d+)\s*:\s*(\S+)\s*$")
_P2P_MODE = re.compile(r"topo\s+(?:-p2p|--p2pstatus)\s+([rwnapu]+)\b")


def _error(errors: list[str], message: str) -> None:
    add_error(errors, message, MAX_ERRORS)


def _gpu_order(name: str) -> int:
    return int(name[3:]) if name[3:].isdigit() else 0


def _header(tokens: list[str]) -> tuple[list[str], list[str]] | None:
    """(device columns, affinity columns) when the tokens are a topology header, else None."""
    if "GPU0" not in tokens or tokens[0] != "GPU0":
        return None
    devices: list[str] = []
    extra: list[str] = []
    i = 0
    while i < len(tokens):
        for words in _AFFINITY:
            if tuple(tokens[i : i + len(words)]) == words:
                extra.append(" ".join(words))
                i += len(words)
                break
        else:
            if extra:  # a device name after the affinity columns: not a header we know
                return None
            devices.append(tokens[i])
            i += 1
    if not all(_DEVICE.match(d) for d in devices):
        return None
    return devices, extra


class _Matrix:
    """The header and rows of one `topo` matrix, whatever its separators."""

    def __init__(self) -> None:
        self.columns: list[str] = []
        self.extra: list[str] = []
        self.rows: dict[str, list[str]] = {}
        self.row_extra: dict[str, list[str]] = {}
        self.found = False

    def feed(self, line: str, errors: list[str]) -> bool:
        tokens = line.split()
        if not tokens:
            return False
        if not self.found:
            head = _header(tokens)
            if head is not None:
                self.columns, self.extra = head
                self.found = True
                return True
            return False
        name = tokens[0]
        if name not in self.columns or name in self.rows:
            return False
        cells = tokens[1 : 1 + len(self.columns)]
        if len(cells) < len(self.columns):
            _error(errors, f"row {name} has {len(cells)} cells, expected {len(self.columns)}")
        self.rows[name] = cells
        self.row_extra[name] = tokens[1 + len(self.columns) :]
        return True

    def as_dict(self) -> dict[str, dict[str, str]]:
        return {row: dict(zip(self.columns, cells, strict=False)) for row, cells in self.rows.items()}

    def pair(self, matrix: dict[str, dict[str, str]], a: str, b: str) -> tuple[str | None, str | None]:
        return matrix.get(a, {}).get(b), matrix.get(b, {}).get(a)


def _affinity_value(value: str | None) -> str | None:
    if value is None or value in ("", "N/A"):
        return None
    return value


@parser("nvidia_topo")
def parse_nvidia_topo(text: str) -> dict[str, Any]:
    """`nvidia-smi topo -m`: {gpus, nics, nic_names, matrix, cpu_affinity, numa_affinity, gpu_numa_id,
    nvlink_pairs: [[a, b, links]], all_gpu_pairs_nvlink, worst_gpu_link, errors}.

    `matrix[row][col]` keeps every cell as printed (self is "X"); `nvlink_pairs` lists each unordered GPU pair
    joined by NV# once; `all_gpu_pairs_nvlink` is false when there are fewer than two GPUs;
    `worst_gpu_link` orders NV# (fewer links worse) < PIX < PXB < PHB < NODE < SYS, "X" for a single GPU.
    """
    errors: list[str] = []
    topo = _Matrix()
    nic_names: dict[str, str] = {}
    for line in iter_lines(text):
        if len(line) > 20_000:
            continue
        if m := _NIC_LEGEND.match(line):
            nic_names[m.group(1)] = m.group(2)
            continue
        topo.feed(line, errors)
    out: dict[str, Any] = {
        "gpus": [],
        "nics": [],
        "nic_names": nic_names,
        "matrix": {},
        "cpu_affinity": {},
        "numa_affinity": {},
        "gpu_numa_id": {},
        "nvlink_pairs": [],
        "all_gpu_pairs_nvlink": False,
        "worst_gpu_link": None,
        "errors": errors,
    }
    if not topo.found:
        if text.strip():
            _error(errors, "no topology matrix found (expected a header line starting with GPU0)")
        return out
    gpus = sorted((c for c in topo.columns if c.startswith("GPU") and c[3:].isdigit()), key=_gpu_order)
    nics = [c for c in topo.columns if c not in gpus]
    for nic in nics:
        if not nic.startswith("NIC"):
            nic_names.setdefault(nic, nic)  # old layout: the column is the device name itself
    out["gpus"], out["nics"] = gpus, nics
    matrix = topo.as_dict()
    out["matrix"] = matrix
    for row, cells in matrix.items():
        for col, cell in cells.items():
            if not _TOPO_CELL.match(cell):
                _error(errors, f"unknown link type {cell!r} between {row} and {col}")
    for gpu in gpus:
        values = dict(zip(topo.extra, topo.row_extra.get(gpu, []), strict=False))
        out["cpu_affinity"][gpu] = _affinity_value(values.get("CPU Affinity"))
        out["numa_affinity"][gpu] = _affinity_value(values.get("NUMA Affinity"))
        out["gpu_numa_id"][gpu] = _affinity_value(values.get("GPU NUMA ID"))

    worst: tuple[tuple[int, int], str] | None = None  # ((class, -links), cell): bigger is worse
    pairs = 0
    all_nv = True
    for i, a in enumerate(gpus):
        for b in gpus[i + 1 :]:
            ab, ba = topo.pair(matrix, a, b)
            cell = ab or ba
            if cell is None:
                continue
            if ab and ba and ab != ba:
                _error(errors, f"{a}-{b} is {ab} one way and {ba} the other")
            pairs += 1
            if nv := _NV.match(cell):
                links = int(nv.group(1))
                out["nvlink_pairs"].append([a, b, links])
                rank = (0, -links)
            else:
                all_nv = False
                rank = (_LINK_RANK.get(cell, 6), 0)
            if worst is None or rank > worst[0]:
                worst = (rank, cell)
    out["all_gpu_pairs_nvlink"] = pairs > 0 and all_nv
    if worst is not None:
        out["worst_gpu_link"] = worst[1]
    elif len(gpus) == 1:
        out["worst_gpu_link"] = "X"
    return out


@parser("nvidia_topo_p2p")
def parse_nvidia_topo_p2p(text: str) -> dict[str, Any]:
    """`nvidia-smi topo -p2p r|w|n|a|p`: {mode, matrix, not_ok_pairs: [[a, b, status]], all_ok, errors}.

    `mode` is read from the command echo (`topo -p2p r`) when the capture has one, else None.
    `not_ok_pairs` lists each unordered pair once with the first status that is not OK; `all_ok` is false
    when there are fewer than two GPUs.
    """
    errors: list[str] = []
    mode: str | None = None
    topo = _Matrix()
    for line in iter_lines(text):
        if len(line) > 20_000:
            continue
        if not topo.found and (m := _P2P_MODE.search(line)):
            mode = m.group(1)
            continue
        topo.feed(line, errors)
    out: dict[str, Any] = {"mode": mode, "matrix": {}, "not_ok_pairs": [], "all_ok": False, "errors": errors}
    if not topo.found:
        if text.strip():
            _error(errors, "no P2P matrix found (expected a header line starting with GPU0)")
        return out
    matrix = topo.as_dict()
    out["matrix"] = matrix
    gpus = sorted((c for c in topo.columns if c.startswith("GPU")), key=_gpu_order)
    for row, cells in matrix.items():
        for col, cell in cells.items():
            if cell not in _P2P_CELLS:
                _error(errors, f"unknown P2P status {cell!r} between {row} and {col}")
    pairs = 0
    for i, a in enumerate(gpus):
        for b in gpus[i + 1 :]:
            ab, ba = topo.pair(matrix, a, b)
            if ab is None and ba is None:
                continue
            pairs += 1
            bad = next((c for c in (ab, ba) if c is not None and c != "OK"), None)
            if bad is not None:
                out["not_ok_pairs"].append([a, b, bad])
    out["all_ok"] = pairs > 0 and not out["not_ok_pairs"]
    return out


_NVLINK_GPU = re.compile(r"^GPU (\d+): (.*?)\s*\(UUID: ([^)]*)\)\s*$")
_NVLINK_LINK = re.compile(r"^\s+Link (\d+): (.*?)\s*$")
_SPEED = re.compile(r"^([\d.]+)\s*GB/s$")


@parser("nvlink_status")
def parse_nvlink_status(text: str) -> dict[str, Any]:
    """`nvidia-smi nvlink --status`: {gpus: [{index, name, uuid, links: [{link, speed_gbps, active}],
    active_links, inactive_links}], gpus_with_inactive_links: [index], errors}.

    A link printed as `<inactive>` (or at 0 GB/s) is inactive with speed None/0.0.
    """
    errors: list[str] = []
    gpus: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for line in iter_lines(text):
        if not line.strip() or len(line) > 20_000:
            continue
        if m := _NVLINK_GPU.match(line):
            current = {"index": int(m.group(1)), "name": m.group(2), "uuid": m.group(3).strip() or None, "links": []}
            gpus.append(current)
            continue
        if m := _NVLINK_LINK.match(line):
            if current is None:
                _error(errors, f"link line before any GPU line: {line.strip()[:120]}")
                continue
            value = m.group(2)
            speed: float | None = None
            if sp := _SPEED.match(value):
                try:
                    speed = float(sp.group(1))
                except ValueError:
                    speed = None
            elif "inactive" not in value.lower():
                _error(errors, f"GPU {current['index']} link {m.group(1)}: unknown state {value[:60]!r}")
            current["links"].append({"link": int(m.group(1)), "speed_gbps": speed, "active": bool(speed)})
            continue
        if "NVML" in line or ("nvlink" in line.lower() and "unable" in line.lower()):
            _error(errors, line.strip()[:200])
    for gpu in gpus:
        gpu["active_links"] = sum(1 for link in gpu["links"] if link["active"])
        gpu["inactive_links"] = len(gpu["links"]) - gpu["active_links"]
    if text.strip() and not gpus and not errors:
        _error(errors, "no 'GPU n: <name> (UUID: ...)' lines found")
    return {
        "gpus": gpus,
        "gpus_with_inactive_links": [g["index"] for g in gpus if g["inactive_links"]],
        "errors": errors,
    }
