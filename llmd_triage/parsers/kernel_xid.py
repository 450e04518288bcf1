"""NVIDIA Xid events from a node's kernel log (DOMAIN.md section 4).

Reads `dmesg` (`[12345.678901] NVRM: ...`), `dmesg -T` / `--ctime` (`[Fri Apr  5 21:29:39 2024] ...`),
`dmesg --time-format iso`, `/dev/kmsg` records (`4,1234,5678901,-;NVRM: ...`), `journalctl -k`
(`Apr 05 21:29:39 host kernel: NVRM: Xid ...`, also `-o short-iso`) and classic syslog files. Only
lines carrying `NVRM: Xid (PCI:...): N, ...` count as events, so the driver's multi-line follow-ups
("A GPU crash dump has been created...", GSP RPC history tables) never inflate the count.

Keys (all always present):
  events: up to MAX_EVENTS of {timestamp, pci, pci_bus_short, xid, message, pid, process, action,
          catalog_name, caused_by_xid (the N of Xid 45's "caused by previous Xid N")}; `timestamp` is
          the text as printed, or seconds since boot (float) for `[12.3]` and kmsg records;
          `pci_bus_short` is lowercase "a1:00.0" (the PCI domain is kept when it is not 0000,
          e.g. "0009:01:00.0").
  by_xid: {"79": count} over every event, not only the kept ones.   count: number of Xid events.
  worst_action: the most severe of the events' catalog actions, of the actions Xid 154 lines ask for
          and of "fallen off the bus" lines without an Xid (read as Xid 79, reboot_node); ordering
          reboot_node > contact_support > reset_gpu > workflow > restart_app > ignore > unknown;
          None when there is none of these.
  gpu_fallen_off_bus: any Xid 79 or any "fallen off the bus" line (also the multi-line form that
          carries no Xid).
  recovery_actions: [{pci, from, to, timestamp}] from Xid 154 "GPU recovery action changed" lines.
  pci_uuids: {pci as printed: "GPU-..."} from "NVRM: GPU at PCI:0000:a1:00: GPU-..." lines.
  peermem_errors: count of nvidia-peermem lines that report an error.
  errors: sentences about what could not be read.

`map_pci_to_gpu(events, gpus)` joins events to `nvidia-smi --query-gpu=index,pci.bus_id,uuid` rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from llmd_triage.parsers import parser
from llmd_triage.parsers.pciaddr import normalize_pci, short_pci
from llmd_triage.parsers.textutil import as_text, iter_lines

MAX_EVENTS = 1000
MAX_RECOVERY = 200
MAX_UUIDS = 256
MAX_LINE = 20_000
MAX_MESSAGE = 500

_XID = re.compile(
    r"NVRM: Xid \((?:PCI:)?([0-9A-Fa-f]{1,8}:[0-9A-Fa-f]{1,2}:[0-9A-Fa-f]{1,2}(?:\.[0-7])?)\): (\d+),?\s*(.*)"
)
_RECOVERY = re.compile(r"GPU recovery action changed from 0x[0-9A-Fa-f]+ \(([^)]*)\) to 0x[0-9A-Fa-f]+ \(([^)]*)\)")
_PID = re.compile(r"\bpid=(?:'?<unknown>'?|(\d+))")
_NAME = re.compile(r"\bname=([^,]+?)(?:,|$)")
_GPU_AT = re.compile(r"NVRM: GPU at PCI:([0-9A-Fa-f:.]+): (GPU-[0-9A-Fa-f-]+)")
_FALLEN = re.compile(r"fallen off the bus", re.IGNORECASE)
_CAUSED_BY = re.compile(r"caused by previous Xid (\d+)")
_PEERMEM = re.compile(r"nvidia[-_]peermem.*\berror\b", re.IGNORECASE)
# Leading timestamps, tried in order; each group 1 is the timestamp text.
_TS_BOOT = re.compile(r"^\s*\[\s*(\d+\.\d+)\]")
_TS_BRACKET = re.compile(r"^\s*\[([A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4})\]")
_TS_KMSG = re.compile(r"^\d+,\d+,(\d+),[^;]*;")
_TS_ISO = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)\s")
_TS_SYSLOG = re.compile(r"^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d)\s")

_RECOVERY_ACTIONS = {
    "none": "ignore",
    "drain p2p": "workflow",
    "drain and reset": "reset_gpu",
    "gpu reset required": "reset_gpu",
    "pf flr": "reset_gpu",
    "bus reset": "reset_gpu",
    "node reboot required": "reboot_node",
    "os reboot": "reboot_node",
    "system reboot": "reboot_node",
}
_ORDER = ("unknown", "ignore", "restart_app", "workflow", "reset_gpu", "contact_support", "reboot_node")


def _timestamp(line: str) -> tuple[str | float | None, str]:
    """(timestamp, rest of the line) for the log formats this parser knows."""
    if m := _TS_BOOT.match(line):
        return float(m.group(1)), line[m.end() :]
    if m := _TS_BRACKET.match(line):
        return m.group(1), line[m.end() :]
    if m := _TS_KMSG.match(line):
        return int(m.group(1)) / 1_000_000, line[m.end() :]
    if m := _TS_ISO.match(line):
        return m.group(1), line[m.end() :]
    if m := _TS_SYSLOG.match(line):
        stamp, rest = m.group(1), line[m.end() :]
        if m2 := _TS_BOOT.search(rest[:200]):  # syslog of a kernel line: keep the wall clock
            rest = rest[m2.end() :]
        return stamp, rest
    return None, line


def _catalog() -> tuple[dict[int, dict[str, Any]], str | None]:
    try:
        from llmd_triage.knowledge import xid_catalog

        return xid_catalog(), None
    except Exception as exc:  # a broken package file must not break parsing
        return {}, f"Xid catalog unavailable ({type(exc).__name__}: {exc}); actions read 'unknown'"


def _worse(a: str | None, b: str) -> str:
    if a is None:
        return b
    rank = {name: i for i, name in enumerate(_ORDER)}
    return b if rank.get(b, 0) > rank.get(a, 0) else a


@parser("kernel_xid")
def parse_kernel_xid(text: str) -> dict[str, Any]:
    text, errors = as_text(text)
    out: dict[str, Any] = {
        "events": [],
        "by_xid": {},
        "worst_action": None,
        "gpu_fallen_off_bus": False,
        "recovery_actions": [],
        "pci_uuids": {},
        "peermem_errors": 0,
        "count": 0,
        "errors": errors,
    }
    catalog, problem = _catalog()
    if problem:
        errors.append(problem)
    events: list[dict[str, Any]] = out["events"]
    by_xid: dict[str, int] = out["by_xid"]
    long_lines = 0
    for line in iter_lines(text):
        if len(line) > MAX_LINE:
            long_lines += 1
            continue
        if "NVRM" not in line and "peermem" not in line and "fallen" not in line:
            continue
        if _FALLEN.search(line):
            out["gpu_fallen_off_bus"] = True
            out["worst_action"] = _worse(out["worst_action"], "reboot_node")  # as Xid 79 (NVSentinel does too)
        if _PEERMEM.search(line):
            out["peermem_errors"] += 1
        if m := _GPU_AT.search(line):
            if len(out["pci_uuids"]) < MAX_UUIDS:
                out["pci_uuids"].setdefault(m.group(1), m.group(2))
            continue
        m = _XID.search(line)
        if not m:
            continue
        stamp, _ = _timestamp(line)
        pci, xid, message = m.group(1), int(m.group(2)), m.group(3).strip()
        out["count"] += 1
        by_xid[str(xid)] = by_xid.get(str(xid), 0) + 1
        entry = catalog.get(xid)
        action = entry["action"] if entry else "unknown"
        out["worst_action"] = _worse(out["worst_action"], action)
        if xid == 79:
            out["gpu_fallen_off_bus"] = True
        if xid == 154 and (r := _RECOVERY.search(message)):
            wanted = _RECOVERY_ACTIONS.get(r.group(2).strip().lower(), "unknown")
            out["worst_action"] = _worse(out["worst_action"], wanted)
            if len(out["recovery_actions"]) < MAX_RECOVERY:
                out["recovery_actions"].append({"pci": pci, "from": r.group(1), "to": r.group(2), "timestamp": stamp})
        if len(events) >= MAX_EVENTS:
            continue
        pid_m = _PID.search(message)
        name_m = _NAME.search(message)
        process = name_m.group(1).strip() if name_m else None
        if process in ("<unknown>", "'<unknown>'", ""):
            process = None
        events.append(
            {
                "timestamp": stamp,
                "pci": pci,
                "pci_bus_short": short_pci(normalize_pci(pci)),
                "xid": xid,
                "message": message[:MAX_MESSAGE],
                "pid": int(pid_m.group(1)) if pid_m and pid_m.group(1) else None,
                "process": process,
                "action": action,
                "catalog_name": entry["name"] if entry else None,
                "caused_by_xid": int(c.group(1)) if (c := _CAUSED_BY.search(message)) else None,
            }
        )
    if out["count"] > MAX_EVENTS:
        errors.append(f"{out['count']} Xid events; only the first {MAX_EVENTS} are listed (by_xid counts all)")
    if long_lines:
        errors.append(f"{long_lines} line(s) longer than {MAX_LINE} characters were skipped")
    return out


def map_pci_to_gpu(events: Iterable[dict[str, Any]], gpus: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of `events` with `gpu_index` and `gpu_uuid` joined on the normalised PCI bus id.

    `gpus` are rows of `nvidia-smi --query-gpu=index,pci.bus_id,uuid --format=csv`, keyed
    `index` and `pci_bus_id` (or `pci.bus_id`) and optionally `uuid`; unmatched events get None.
    """
    table: dict[str, tuple[int | None, str | None]] = {}
    for row in gpus or []:
        if not isinstance(row, dict):
            continue
        key = normalize_pci(str(row.get("pci_bus_id") or row.get("pci.bus_id") or ""))
        if key is None:
            continue
        try:
            index = int(str(row.get("index")).strip())
        except ValueError:
            index = None
        uuid = row.get("uuid")
        table[key] = (index, str(uuid).strip() if uuid else None)
    joined = []
    for event in events or []:
        if not isinstance(event, dict):
            continue
        copy = dict(event)
        index, uuid = table.get(normalize_pci(str(event.get("pci") or "")) or "", (None, None))
        copy["gpu_index"] = index
        copy["gpu_uuid"] = uuid
        joined.append(copy)
    return joined
