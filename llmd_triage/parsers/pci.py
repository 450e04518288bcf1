"""`lspci -vvv` (ACS and link state of bridges and GPUs) and `/proc/cmdline` (IOMMU), DOMAIN.md §7 step 5.

NCCL's troubleshooting guide: PCI ACS on the bridges between GPUs redirects peer-to-peer traffic through
the root complex (slow, or broken P2P); `lspci -vvv | grep ACSCtl` shows it as `SrcValid+`, `ReqRedir+`
or `CmpltRedir+`. A link's `LnkSta` below its `LnkCap` is reported as downgraded; note that idle GPUs drop
their link speed to save power, so a downgraded GPU link only matters under load.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from llmd_triage.parsers import parser
from llmd_triage.parsers.textutil import add_error, iter_lines

MAX_ERRORS = 20

_DEVICE = re.compile(r"^((?:[0-9a-fA-F]{4,8}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\s+([^:]+?):\s*(.*)$")
_CLASS_CODE = re.compile(r"^(.*?)\s*\[([0-9a-fA-F]{4})\]$")
_FLAG = re.compile(r"([A-Za-z][A-Za-z0-9_]*)([+-])(?=\s|$|,)")
_SPEED = re.compile(r"Speed\s+([\d.]+)\s*GT/s")
_WIDTH = re.compile(r"Width\s+x(\d+)")
_NUMA = re.compile(r"^\s*NUMA node:\s*(-?\d+)")
_FIELD = re.compile(r"^\s*(ACSCap|ACSCtl|LnkCap|LnkSta):\s*(.*)$")


def _error(errors: list[str], message: str) -> None:
    add_error(errors, message, MAX_ERRORS)


def _flags(text: str) -> dict[str, bool]:
    return {name: sign == "+" for name, sign in _FLAG.findall(text)}


def _link(text: str) -> dict[str, Any]:
    speed = _SPEED.search(text)
    width = _WIDTH.search(text)
    return {
        "speed_gts": float(speed.group(1)) if speed else None,
        "width": int(width.group(1)) if width else None,
    }


def _new_device(address: str, cls: str, description: str) -> dict[str, Any]:
    class_code = None
    if m := _CLASS_CODE.match(cls):  # `lspci -nn`: "3D controller [0302]"
        cls, class_code = m.group(1), m.group(2).lower()
    return {
        "address": address.lower(),
        "class": cls.strip(),
        "class_code": class_code,
        "description": description.strip(),
        "is_bridge": "bridge" in cls.lower(),
        "is_nvidia": "nvidia" in description.lower() or "[10de:" in description.lower(),
        "acs_cap": None,
        "acs_ctl": None,
        "acs_redirect_enabled": None,
        "acs_request_redirect": None,
        "lnk_cap": None,
        "lnk_sta": None,
        "numa_node": None,
    }


def _finish(dev: dict[str, Any]) -> None:
    ctl = dev["acs_ctl"]
    if ctl is not None:
        dev["acs_redirect_enabled"] = bool(ctl.get("SrcValid") or ctl.get("ReqRedir") or ctl.get("CmpltRedir"))
        # only request/completion redirect send peer traffic up to the root complex; SrcValid validates sources
        dev["acs_request_redirect"] = bool(ctl.get("ReqRedir") or ctl.get("CmpltRedir"))
    sta, cap = dev["lnk_sta"], dev["lnk_cap"]
    if sta is not None and cap is not None and not sta["downgraded"]:
        slower = sta["speed_gts"] is not None and cap["speed_gts"] is not None and sta["speed_gts"] < cap["speed_gts"]
        narrower = sta["width"] is not None and cap["width"] is not None and sta["width"] < cap["width"]
        sta["downgraded"] = slower or narrower


@parser("lspci_vvv")
def parse_lspci_vvv(text: str) -> dict[str, Any]:
    """`lspci -vvv` (also `-nn -vvv`, with or without domains): {devices: [{address, class, class_code,
    description, is_bridge, is_nvidia, acs_cap, acs_ctl, acs_redirect_enabled, lnk_cap: {speed_gts, width},
    lnk_sta: {speed_gts, width, downgraded}, numa_node}], device_count, bridges_with_acs_redirect,
    downtrained_links, nvidia_devices, errors}.

    acs_cap/acs_ctl map each flag to True (+) or False (-); they, lnk_cap and lnk_sta are None when the block
    has no such line (an lspci run without root prints `<access denied>` instead, noted in errors).
    """
    errors: list[str] = []
    devices: list[dict[str, Any]] = []
    dev: dict[str, Any] | None = None
    unreadable = 0
    denied = False
    for line in iter_lines(text):
        if not line.strip():
            continue
        if len(line) > 10_000:
            _error(errors, "skipped a line longer than 10000 characters")
            continue
        if not line[0].isspace():
            if m := _DEVICE.match(line):
                if dev is not None:
                    _finish(dev)
                dev = _new_device(m.group(1), m.group(2), m.group(3))
                devices.append(dev)
            else:
                unreadable += 1
                if unreadable <= 5:
                    _error(errors, f"unreadable line: {line[:120]}")
            continue
        if dev is None:
            continue
        if "<access denied>" in line:
            denied = True
            continue
        if m := _NUMA.match(line):
            dev["numa_node"] = int(m.group(1))
            continue
        f = _FIELD.match(line)
        if f is None:
            continue
        name, rest = f.group(1), f.group(2)
        if name == "ACSCap" and dev["acs_cap"] is None:
            dev["acs_cap"] = _flags(rest)
        elif name == "ACSCtl" and dev["acs_ctl"] is None:
            dev["acs_ctl"] = _flags(rest)
        elif name == "LnkCap" and dev["lnk_cap"] is None:
            dev["lnk_cap"] = _link(rest)
        elif name == "LnkSta" and dev["lnk_sta"] is None:
            dev["lnk_sta"] = {**_link(rest), "downgraded": "(downgraded)" in rest}
    if dev is not None:
        _finish(dev)
    if denied:
        _error(
            errors, "lspci could not read some capabilities ('<access denied>'): run it as root for ACS and link state"
        )
    if text.strip() and not devices:
        _error(errors, "no lspci device lines found (expected 'BB:DD.F class: description')")
    return {
        "devices": devices,
        "device_count": len(devices),
        "bridges_with_acs_redirect": [d["address"] for d in devices if d["is_bridge"] and d["acs_redirect_enabled"]],
        "bridges_with_request_redirect": [
            d["address"] for d in devices if d["is_bridge"] and d["acs_request_redirect"]
        ],
        "downtrained_links": [d["address"] for d in devices if d["lnk_sta"] and d["lnk_sta"]["downgraded"]],
        "nvidia_devices": [d["address"] for d in devices if d["is_nvidia"]],
        "errors": errors,
    }


_PASSTHROUGH_VALUES = frozenset({"1", "on", "y", "yes", "true"})


@parser("proc_cmdline")
def parse_proc_cmdline(text: str) -> dict[str, Any]:
    """`/proc/cmdline`: {args: {key: value or True}, iommu: {intel_iommu, amd_iommu, iommu},
    iommu_passthrough, errors}.

    A repeated key keeps its last value (as the kernel does for these parameters). The three iommu entries are
    the strings given (None when absent, "" for a bare flag); passthrough is `iommu=pt` or
    `iommu.passthrough=1`.
    """
    errors: list[str] = []
    lines = [line for line in text.replace("\x00", " ").splitlines() if line.strip()] if len(text) < 1_000_000 else []
    if len(text) >= 1_000_000:
        errors.append("input is too large to be a kernel command line; not read")
    elif len(lines) > 1:
        errors.append(f"expected one line, got {len(lines)}; read the first")
    line = lines[0] if lines else ""
    try:
        tokens = shlex.split(line)
    except ValueError:
        tokens = line.split()
        errors.append("unbalanced quotes; split on spaces instead")
    args: dict[str, Any] = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if not key:
            continue
        args[key] = value if sep else True

    def iommu_value(key: str) -> str | None:
        value = args.get(key)
        if value is None:
            return None
        return "" if value is True else str(value)

    iommu = {k: iommu_value(k) for k in ("intel_iommu", "amd_iommu", "iommu")}
    generic = args.get("iommu.passthrough")
    passthrough = iommu["iommu"] == "pt" or (isinstance(generic, str) and generic.lower() in _PASSTHROUGH_VALUES)
    if text.strip() and not args:
        errors.append("no kernel arguments found")
    return {"args": args, "iommu": iommu, "iommu_passthrough": passthrough, "errors": errors}
