"""NCCL, UCX and NIXL lines inside any log (DOMAIN.md sections 5 and 7).

NCCL lines are found anywhere in a line, whatever the prefix (`host:pid:tid [dev] NCCL INFO ...`,
vLLM's `(VllmWorker pid=..)`, mpirun's `[1]`, a quoted `> `). Message texts were checked against
NVIDIA/nccl: `Channel %02d/%d : %d[%d] -> %d[%d] [send|receive] via NET/%s/%d[/GDRDMA]` (net.cc),
`via P2P/IPC|P2P/CUMEM|P2P/direct pointer[/read]` (p2p.cc), `via SHM/direct/direct` (shm.cc),
`NET/IB : No device found.` and `NET/IB : Using [0]mlx5_0:1/IB ...` (net_ib), `Using network %s`,
`%s set by environment to %s.` (param.cc, sometimes with a trailing period),
`P2P is disabled between connected GPUs %d and %d` and `P2P is disabled between NVLINK connected
GPUs %d and %d. ... probably due to a hardware issue` (graph/paths.cc),
`Error while creating shared memory segment %s (size %zu)` (misc/shmutils.cc).

`nccl` keys (all always present):
  version ("2.21.5+cuda12.4", or vLLM's "vLLM is using nccl==X" when NCCL prints none);
  transports: {"P2P/IPC": n, "P2P/CUMEM": n, "P2P/direct pointer": n, "SHM": n, "NET/IB": n,
    "NET/IB/GDRDMA": n, "NET/Socket": n, ...} counted per channel connection line (NET keys drop the
    device index; plugin networks keep their name, e.g. "NET/IBext/GDRDMA");
  intra_node_p2p: True when any P2P channel was seen, False when SHM was seen but no P2P, else None;
  using_network: "IB" | "Socket" | another plugin name from "Using network X" ("Socket" wins when
    ranks disagree), None when absent;
  ib_devices: [{device, port, link_layer}] from "NET/IB : Using ..." (both the `[0]mlx5_0:1/IB`
    and the merged `[0]={[0] mlx5_7:1/RoCE, ...}` forms);
  env: {"NCCL_P2P_DISABLE": "1", ...};  p2p_disabled_pairs: [[a, b]];
  nvlink_p2p_hw_issue: bool;  nvlink_disabled_pairs: [[a, b]];
  ib_fallbacks: distinct reasons ("NET/IB : No device found.", "Failed to open libibverbs.so",
    "NCCL_IB_DISABLE set by environment to 1", "NCCL_NET set by environment to Socket",
    "Failed to initialize NET plugin IB");
  shm_failures: [{segment, size, reason}];  warnings: the first 50 NCCL WARN lines;  warn_count;
  custom_allreduce_disabled: vLLM's "Custom allreduce is disabled because your platform lacks GPU P2P
    capability or P2P test failed";  nccl_lines: lines that mention NCCL;  errors.

`ucx_nixl` keys: ucx_errors (first 50 UCX ERROR messages), ucx_warnings (first 50), rc_lanes (an
rc_mlx5 / rc_verbs lane or transport seen), tcp_only (lanes or the available-transport list name tcp
and no RDMA transport; None without either), transports_seen, rtr_failed ("failed to modify ... RTR"),
local_protection_error, nixl_errors (distinct NIXL_ERR_* codes in order), nixl_error_count, errors.
"""

from __future__ import annotations

import re
from typing import Any

from llmd_triage.parsers import parser
from llmd_triage.parsers.textutil import as_text, iter_lines

MAX_LINE = 20_000
MAX_WARNINGS = 50
MAX_LIST = 100
MAX_ENV = 200
MAX_TRANSPORTS = 64

_VERSION = re.compile(r"NCCL version (\S+)")
_VLLM_NCCL = re.compile(r"vLLM is using nccl==(\S+)")
_CHANNEL = re.compile(r"\bChannel \d+(?:/\d+)? : .*? via (.+?)\s*$")
_NETWORK = re.compile(r"\bUsing network (\S+(?: \S+)?)\s*$")
_IB_USING = re.compile(r"NET/IB\w* ?: Using (.*)")
_IB_DEV = re.compile(r"([A-Za-z][\w.-]*):(\d+)/(IB|RoCE)")
_ENV = re.compile(r"\b(NCCL_[A-Z0-9_]+) set by environment to (.*?)\s*$")
_P2P_OFF = re.compile(r"P2P is disabled between connected GPUs (\d+) and (\d+)")
_NVLINK_OFF = re.compile(r"P2P is disabled between NVLINK connected GPUs (\d+) and (\d+)")
_SHM_FAIL = re.compile(r"Error while creating shared memory segment (\S+) \(size (\d+)\)(?:,\s*error:\s*(.*?))?\s*$")
_SHM_EXTEND = re.compile(r"failed to extend (\S+) to (\d+) bytes")
_WARN = re.compile(r"NCCL WARN\b")
_CUSTOM_AR = re.compile(r"Custom allreduce is disabled because your platform lacks GPU P2P capability")
_FALLBACKS = (
    (re.compile(r"NET/IB : No device found\."), "NET/IB : No device found."),
    (re.compile(r"Failed to open libibverbs\.so"), "Failed to open libibverbs.so"),
    (re.compile(r"Failed to initialize NET plugin IB\b"), "Failed to initialize NET plugin IB"),
)


def _transport_key(via: str) -> str:
    via = via.strip()
    if via.startswith("direct shared memory"):
        return "SHM"
    parts = via.split("/")
    head = parts[0]
    if head == "P2P" and len(parts) > 1:
        return f"P2P/{parts[1]}"
    if head == "SHM":
        return "SHM"
    if head == "NET" and len(parts) > 1:
        gdr = any(p.strip() == "GDRDMA" for p in parts[2:])
        return f"NET/{parts[1]}" + ("/GDRDMA" if gdr else "")
    return head.split()[0] if head.split() else head


def _add_unique(items: list[Any], item: Any, limit: int = MAX_LIST) -> None:
    if item not in items and len(items) < limit:
        items.append(item)


def _note_shm(failures: list[dict[str, Any]], segment: str, size: int, reason: str | None) -> None:
    """One entry per segment; a later line may supply the reason an earlier one lacked."""
    for known in failures:
        if known["segment"] == segment:
            if known["reason"] is None or known["reason"] == "failed to extend the segment":
                known["reason"] = reason or known["reason"]
                known["size"] = size
            return
    if len(failures) < MAX_LIST:
        failures.append({"segment": segment, "size": size, "reason": reason})


@parser("nccl")
def parse_nccl(text: str) -> dict[str, Any]:
    text, errors = as_text(text)
    out: dict[str, Any] = {
        "version": None,
        "transports": {},
        "intra_node_p2p": None,
        "using_network": None,
        "ib_devices": [],
        "env": {},
        "p2p_disabled_pairs": [],
        "nvlink_p2p_hw_issue": False,
        "nvlink_disabled_pairs": [],
        "ib_fallbacks": [],
        "shm_failures": [],
        "warnings": [],
        "warn_count": 0,
        "custom_allreduce_disabled": False,
        "nccl_lines": 0,
        "errors": errors,
    }
    transports: dict[str, int] = out["transports"]
    vllm_version = None
    long_lines = 0
    for line in iter_lines(text):
        if len(line) > MAX_LINE:
            long_lines += 1
            continue
        if "Custom allreduce" in line and _CUSTOM_AR.search(line):
            out["custom_allreduce_disabled"] = True
            continue
        if "nccl" in line and vllm_version is None and (m := _VLLM_NCCL.search(line)):
            vllm_version = m.group(1)
        if "NCCL" not in line and "P2P" not in line and "NET/" not in line and "shared memory" not in line:
            continue
        out["nccl_lines"] += 1
        if _WARN.search(line):
            out["warn_count"] += 1
            if len(out["warnings"]) < MAX_WARNINGS:
                out["warnings"].append(line.strip()[:500])
        if out["version"] is None and (m := _VERSION.search(line)):
            out["version"] = m.group(1)
        if " via " in line and (m := _CHANNEL.search(line)):
            if len(transports) < MAX_TRANSPORTS or _transport_key(m.group(1)) in transports:
                key = _transport_key(m.group(1))
                transports[key] = transports.get(key, 0) + 1
            continue
        if m := _NETWORK.search(line):
            net = m.group(1)
            if out["using_network"] is None or net == "Socket":
                out["using_network"] = net
        if m := _IB_USING.search(line):
            devices = m.group(1).split(" ; OOB")[0]
            for d in _IB_DEV.finditer(devices):
                _add_unique(
                    out["ib_devices"], {"device": d.group(1), "port": int(d.group(2)), "link_layer": d.group(3)}
                )
        if m := _ENV.search(line):
            name, value = m.group(1), m.group(2)
            if value.endswith("."):
                value = value[:-1]
            if name in out["env"] or len(out["env"]) < MAX_ENV:
                out["env"][name] = value
            if name == "NCCL_IB_DISABLE" and value.strip() == "1":
                _add_unique(out["ib_fallbacks"], "NCCL_IB_DISABLE set by environment to 1")
            if name == "NCCL_NET" and value.strip().lower() == "socket":
                _add_unique(out["ib_fallbacks"], "NCCL_NET set by environment to Socket")
        for pattern, reason in _FALLBACKS:
            if pattern.search(line):
                _add_unique(out["ib_fallbacks"], reason)
        if m := _NVLINK_OFF.search(line):
            out["nvlink_p2p_hw_issue"] = True
            _add_unique(out["nvlink_disabled_pairs"], [int(m.group(1)), int(m.group(2))])
        elif m := _P2P_OFF.search(line):
            _add_unique(out["p2p_disabled_pairs"], [int(m.group(1)), int(m.group(2))])
        if m := _SHM_FAIL.search(line):
            _note_shm(out["shm_failures"], m.group(1), int(m.group(2)), m.group(3) or None)
        elif m := _SHM_EXTEND.search(line):
            _note_shm(out["shm_failures"], m.group(1), int(m.group(2)), "failed to extend the segment")
    if out["version"] is None:
        out["version"] = vllm_version
    if any(k.startswith("P2P/") for k in transports):
        out["intra_node_p2p"] = True
    elif "SHM" in transports:
        out["intra_node_p2p"] = False
    if long_lines:
        errors.append(f"{long_lines} line(s) longer than {MAX_LINE} characters were skipped")
    return out


_UCX_ERROR = re.compile(r"\bUCX\s+ERROR\s+(.*?)\s*$")
_UCX_WARN = re.compile(r"\bUCX\s+WARN\s+(.*?)\s*$")
_LANES = re.compile(r"\b(?:inter|intra)-node cfg#\d+\s+(.*)")
_LANE_TL = re.compile(r"[(\s]([a-z][a-z0-9_]*)/[\w.:-]+")
_AVAILABLE = re.compile(r"please use one or more of:\s*(.*?)\s*$")
_RTR = re.compile(r"failed to modify (?:\S+ )?to RTR|ibv_modify_qp\([^)]*RTR\) failed", re.IGNORECASE)
_LOCAL_PROT = re.compile(r"Local protection error")
_NIXL_ERR = re.compile(r"\bNIXL_ERR_[A-Z_]+\b")
_RDMA_TL = re.compile(r"^(rc|dc|ud)(_|$)")


@parser("ucx_nixl")
def parse_ucx_nixl(text: str) -> dict[str, Any]:
    text, errors = as_text(text)
    out: dict[str, Any] = {
        "ucx_errors": [],
        "ucx_warnings": [],
        "rc_lanes": False,
        "tcp_only": None,
        "transports_seen": [],
        "rtr_failed": False,
        "local_protection_error": False,
        "nixl_errors": [],
        "nixl_error_count": 0,
        "errors": errors,
    }
    lane_tls: list[str] = out["transports_seen"]
    available: list[str] = []
    for line in iter_lines(text):
        if len(line) > MAX_LINE:
            continue
        if "UCX" in line:
            if m := _UCX_ERROR.search(line):
                if len(out["ucx_errors"]) < MAX_WARNINGS:
                    out["ucx_errors"].append(m.group(1)[:500])
            elif m := _UCX_WARN.search(line):
                if len(out["ucx_warnings"]) < MAX_WARNINGS:
                    out["ucx_warnings"].append(m.group(1)[:500])
                if a := _AVAILABLE.search(line):
                    for tl in re.split(r"[,\s]+", a.group(1)):
                        if tl:
                            _add_unique(available, tl.strip("'\""), MAX_TRANSPORTS)
            if m := _LANES.search(line):
                for tl in _LANE_TL.finditer(" " + m.group(1)):
                    _add_unique(lane_tls, tl.group(1), MAX_TRANSPORTS)
        if _RTR.search(line):
            out["rtr_failed"] = True
        if _LOCAL_PROT.search(line):
            out["local_protection_error"] = True
        if "NIXL_ERR" in line:
            for code in _NIXL_ERR.findall(line):
                out["nixl_error_count"] += 1
                _add_unique(out["nixl_errors"], code)
    seen = lane_tls or available
    out["rc_lanes"] = any(tl in ("rc_mlx5", "rc_verbs") for tl in seen)
    if seen:
        rdma = any(_RDMA_TL.match(tl) for tl in seen)
        out["tcp_only"] = "tcp" in seen and not rdma
    return out
