"""`nvidia-smi` output: `-q -x` (XML), `-q` (text) and `--query-gpu=... --format=csv` (DOMAIN.md §4, §7).

Both `-q` parsers return the same keys so a tree reads either capture the same way:

    {driver_version, cuda_version, format_version, gpus: [GPU], gpu_lost, lost_bus_ids,
     driver_unreachable, errors}

    GPU = {index, uuid, pci_bus_id ("00000000:A1:00.0"), pci_bus_short ("a1:00.0"), name, minor_number,
           memory_used_mib, memory_total_mib, ecc_mode_current,
           ecc: {volatile: {sbe, dbe}, aggregate: {sbe, dbe}},
           retired_pages: {sbe, dbe, pending}, remapped_rows: {correctable, uncorrectable, pending, failure},
           recovery_action, throttle_reasons_active: [names], persistence_mode, mig_mode_current,
           virtualization_mode}

`index` is the ordinal of the GPU block (nvidia-smi lists GPUs in index order). Counters are ints, flags
bools, and anything nvidia-smi reports as `N/A` (or a whole section reported as `N/A`, such as
`<remapped_rows>N/A</remapped_rows>`) is None; the nested dicts are always present so a CEL condition
can test `g.remapped_rows.pending == true` without guarding for null first. ECC `sbe`/`dbe` are the
single-/double-bit totals of nvidia-smi <= 11 DTDs (`total` when printed, else the sum of the parts) or,
for the SRAM/DRAM layout of Ampere and later, correctable / uncorrectable SRAM+DRAM.
Throttle reason names follow the XML (`gpu_idle`, `sw_power_cap`, `hw_thermal_slowdown`, ...) for both the
old `clocks_throttle_reasons` and the newer `clocks_event_reasons` sections.

When nvidia-smi cannot reach a GPU or the driver it prints a sentence instead of (or before) the report;
the parsers notice it anywhere in the text: `gpu_lost` is true for "No devices were found", "Unable to
determine the device handle for GPU <bus id>" (the bus id goes into `lost_bus_ids`) and "NVIDIA-SMI has
failed because it couldn't communicate with the NVIDIA driver" (which also sets `driver_unreachable`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from llmd_triage.parsers import parser
from llmd_triage.parsers.pciaddr import normalize_pci, nvidia_smi_bus_id, short_pci
from llmd_triage.parsers.textutil import iter_lines

MAX_ERRORS = 20
KNOWN_XML_VERSION = 13  # nvsmi_device_v10..v13 DTDs were checked

_BUS_ID = re.compile(r"^(?:([0-9A-Fa-f]{1,8}):)?([0-9A-Fa-f]{1,2}):([0-9A-Fa-f]{1,2})\.([0-7])$")
_BUS_IN_TEXT = r"((?:[0-9A-Fa-f]{4,8}:)?[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])"
_NO_DEVICES = re.compile(r"No devices were found")
_NO_HANDLE = re.compile(r"Unable to determine the device handle for (?:GPU)?\s*" + _BUS_IN_TEXT + r"(?::\s*(.*))?")
_NO_DRIVER = re.compile(r"NVIDIA-SMI has failed because it couldn.t communicate with the NVIDIA driver")
_NVML_INIT = re.compile(r"Failed to initialize NVML: (.*)")
_DTD = re.compile(r"nvsmi_device_(v\d+)\.dtd")
_ENTITY = re.compile(r"<!ENTITY", re.IGNORECASE)
_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)")

_NONE_VALUES = frozenset(
    {"", "n/a", "[n/a]", "not supported", "[not supported]", "unknown error", "[unknown error]", "[gpu is lost]"}
)
_DEPRECATED = "requested functionality has been deprecated"

# text `-q` names -> XML names, so both formats report the same throttle reasons
_REASON_NAMES = {
    "idle": "gpu_idle",
    "applications clocks setting": "applications_clocks_setting",
    "sw power cap": "sw_power_cap",
    "hw slowdown": "hw_slowdown",
    "hw thermal slowdown": "hw_thermal_slowdown",
    "hw power brake slowdown": "hw_power_brake_slowdown",
    "sync boost": "sync_boost",
    "sw thermal slowdown": "sw_thermal_slowdown",
    "display clock setting": "display_clocks_setting",
}
_REASON_SECTIONS = ("clocks throttle reasons", "clocks event reasons")


# ----------------------------------------------------------------------------------------------- helpers


def normalise_bus_id(text: str | None) -> tuple[str | None, str | None]:
    """("00000000:A1:00.0", "a1:00.0") from any of nvidia-smi's, lspci's or the kernel's spellings;
    the short form keeps a non-zero PCI domain (see parsers.pciaddr)."""
    full = normalize_pci(text)
    return nvidia_smi_bus_id(full), short_pci(full)


def _str(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if value.lower() in _NONE_VALUES or value.lower() == _DEPRECATED:
        return None
    return value


def _int(value: str | None) -> int | None:
    value = _str(value)
    if value is None:
        return None
    m = _NUMBER.match(value)
    if not m:
        return None
    try:
        return int(float(m.group(1)))
    except ValueError:
        return None


def _yes_no(value: str | None) -> bool | None:
    value = _str(value)
    if value is None:
        return None
    low = value.lower()
    if low in ("yes", "true", "active", "enabled"):
        return True
    if low in ("no", "false", "not active", "disabled"):
        return False
    return None


def _sum(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _new_gpu(index: int) -> dict[str, Any]:
    return {
        "index": index,
        "uuid": None,
        "pci_bus_id": None,
        "pci_bus_short": None,
        "name": None,
        "minor_number": None,
        "memory_used_mib": None,
        "memory_total_mib": None,
        "ecc_mode_current": None,
        "ecc": {"volatile": {"sbe": None, "dbe": None}, "aggregate": {"sbe": None, "dbe": None}},
        "retired_pages": {"sbe": None, "dbe": None, "pending": None},
        "remapped_rows": {"correctable": None, "uncorrectable": None, "pending": None, "failure": None},
        "recovery_action": None,
        "throttle_reasons_active": [],
        "persistence_mode": None,
        "mig_mode_current": None,
        "virtualization_mode": None,
    }


def _new_result() -> dict[str, Any]:
    return {
        "driver_version": None,
        "cuda_version": None,
        "format_version": None,
        "gpus": [],
        "gpu_lost": False,
        "lost_bus_ids": [],
        "driver_unreachable": False,
        "errors": [],
    }


def _error(out: dict[str, Any], message: str) -> None:
    if len(out["errors"]) < MAX_ERRORS and message not in out["errors"]:
        out["errors"].append(message)


def _scan_failure(out: dict[str, Any], line: str) -> bool:
    """Note nvidia-smi's own failure sentences; True when the line was one."""
    if len(line) > 2000:
        return False
    if _NO_DEVICES.search(line):
        out["gpu_lost"] = True
        _error(out, "nvidia-smi found no devices ('No devices were found'): the GPUs are lost or not visible")
        return True
    if m := _NO_HANDLE.search(line):
        out["gpu_lost"] = True
        bus_id, _ = normalise_bus_id(m.group(1))
        if bus_id and bus_id not in out["lost_bus_ids"] and len(out["lost_bus_ids"]) < 256:
            out["lost_bus_ids"].append(bus_id)
        reason = (m.group(2) or "").strip()
        _error(
            out, f"nvidia-smi could not get a handle for GPU {bus_id or m.group(1)}" + (f": {reason}" if reason else "")
        )
        return True
    if _NO_DRIVER.search(line):
        out["gpu_lost"] = True
        out["driver_unreachable"] = True
        _error(out, "nvidia-smi could not communicate with the NVIDIA driver (driver not loaded or not reachable)")
        return True
    if m := _NVML_INIT.search(line):
        _error(out, f"nvidia-smi failed to initialise NVML: {m.group(1).strip()}")
        return True
    return False


def _finish_ecc(gpu: dict[str, Any], parts: dict[str, dict[str, dict[str, int | None]]]) -> None:
    """parts[scope][key] = value, key in sbe_total/dbe_total/sbe_part/.../sram_corr/... -> gpu["ecc"]."""
    for scope in ("volatile", "aggregate"):
        p = parts.get(scope, {})
        sbe_total, dbe_total = p.get("sbe_total"), p.get("dbe_total")
        sbe = sbe_total if sbe_total is not None else _sum(p.get("sbe_parts", []))  # type: ignore[arg-type]
        dbe = dbe_total if dbe_total is not None else _sum(p.get("dbe_parts", []))  # type: ignore[arg-type]
        if sbe is None:
            sbe = _sum(p.get("corr", []))  # type: ignore[arg-type]
        if dbe is None:
            dbe = _sum(p.get("unc", []))  # type: ignore[arg-type]
        gpu["ecc"][scope] = {"sbe": sbe, "dbe": dbe}


def _ecc_bucket(parts: dict[str, Any], scope: str) -> dict[str, Any]:
    return parts.setdefault(scope, {"sbe_parts": [], "dbe_parts": [], "corr": [], "unc": []})


def _add_ecc_counter(bucket: dict[str, Any], name: str, value: int | None) -> None:
    """One SRAM/DRAM style counter (Ampere and later), by its XML or text name."""
    low = name.lower().replace(" ", "_").replace("-", "")
    if "threshold" in low or not ("sram" in low or "dram" in low):
        return
    if "uncorrectable" in low:
        bucket["unc"].append(value)
    elif "correctable" in low:
        bucket["corr"].append(value)


# ----------------------------------------------------------------------------------------------- XML


def _text(el: ET.Element | None, path: str) -> str | None:
    if el is None:
        return None
    found = el.find(path)
    if found is None or found.text is None:
        return None
    return found.text.strip()


def _xml_gpu(el: ET.Element, index: int) -> dict[str, Any]:
    gpu = _new_gpu(index)
    gpu["name"] = _str(_text(el, "product_name"))
    gpu["uuid"] = _str(_text(el, "uuid"))
    gpu["minor_number"] = _int(_text(el, "minor_number"))
    gpu["pci_bus_id"], gpu["pci_bus_short"] = normalise_bus_id(el.get("id"))
    if gpu["pci_bus_id"] is None:
        gpu["pci_bus_id"], gpu["pci_bus_short"] = normalise_bus_id(_text(el, "pci/pci_bus_id"))
    gpu["persistence_mode"] = _str(_text(el, "persistence_mode"))
    gpu["mig_mode_current"] = _str(_text(el, "mig_mode/current_mig"))
    gpu["virtualization_mode"] = _str(_text(el, "gpu_virtualization_mode/virtualization_mode"))
    gpu["recovery_action"] = _str(_text(el, "gpu_recovery_action"))
    gpu["memory_used_mib"] = _int(_text(el, "fb_memory_usage/used"))
    gpu["memory_total_mib"] = _int(_text(el, "fb_memory_usage/total"))
    gpu["ecc_mode_current"] = _str(_text(el, "ecc_mode/current_ecc"))

    parts: dict[str, Any] = {}
    for scope in ("volatile", "aggregate"):
        scope_el = el.find(f"ecc_errors/{scope}")
        if scope_el is None:
            continue
        bucket = _ecc_bucket(parts, scope)
        for child in scope_el:
            if child.tag in ("single_bit", "double_bit"):
                key = "sbe" if child.tag == "single_bit" else "dbe"
                for counter in child:
                    value = _int(counter.text)
                    if counter.tag == "total":
                        bucket[f"{key}_total"] = value
                    else:
                        bucket[f"{key}_parts"].append(value)
            else:
                _add_ecc_counter(bucket, child.tag, _int(child.text))
    _finish_ecc(gpu, parts)

    pending = [
        _yes_no(_text(el, "retired_pages/pending_blacklist")),
        _yes_no(_text(el, "retired_pages/pending_retirement")),
    ]
    gpu["retired_pages"] = {
        "sbe": _int(_text(el, "retired_pages/multiple_single_bit_retirement/retired_count")),
        "dbe": _int(_text(el, "retired_pages/double_bit_retirement/retired_count")),
        "pending": True if True in pending else (False if False in pending else None),
    }
    rows = el.find("remapped_rows")
    if rows is not None and len(rows):
        gpu["remapped_rows"] = {
            "correctable": _int(_text(rows, "remapped_row_corr")),
            "uncorrectable": _int(_text(rows, "remapped_row_unc")),
            "pending": _yes_no(_text(rows, "remapped_row_pending")),
            "failure": _yes_no(_text(rows, "remapped_row_failure")),
        }

    for section in ("clocks_throttle_reasons", "clocks_event_reasons"):
        reasons = el.find(section)
        if reasons is None:
            continue
        for child in reasons:
            if (child.text or "").strip() == "Active":
                name = re.sub(r"^clocks_(?:throttle|event)_reason_", "", child.tag)
                if name not in gpu["throttle_reasons_active"]:
                    gpu["throttle_reasons_active"].append(name)
    return gpu


def _pull_parse(document: str) -> tuple[ET.Element | None, str | None]:
    """Parse as much of the document as possible: the root (complete, or partial up to the first error) and
    the parse error, if any. Fed in chunks so only the root's start event is ever kept."""
    pull = ET.XMLPullParser(events=("start",))
    root: ET.Element | None = None
    error: str | None = None
    try:
        for at in range(0, len(document), 1 << 16):
            pull.feed(document[at : at + (1 << 16)])
            for _event, elem in pull.read_events():
                if root is None:
                    root = elem
        pull.close()
    except ET.ParseError as exc:
        error = str(exc)
    except Exception as exc:  # expat rejects some inputs (e.g. lone surrogates) with other errors
        error = f"{type(exc).__name__}: {exc}"
    if root is None:
        try:
            for _event, elem in pull.read_events():
                root = elem
                break
        except Exception:
            pass
    return root, error


@parser("nvidia_smi_xml")
def parse_nvidia_smi_xml(text: str) -> dict[str, Any]:
    out = _new_result()
    for line in iter_lines(text):
        if "<" not in line:
            _scan_failure(out, line)
    if _ENTITY.search(text):
        _error(out, "refused: the XML declares entities (<!ENTITY>), which nvidia-smi never does")
        return out
    if m := _DTD.search(text[:2000]):
        out["format_version"] = m.group(1)
        if int(m.group(1)[1:]) > KNOWN_XML_VERSION:
            _error(
                out, f"nvsmi_device_{m.group(1)}.dtd is newer than v{KNOWN_XML_VERSION}; read the elements it shares"
            )

    start = text.find("<nvidia_smi_log")
    if start < 0:
        gpu_at = text.find("<gpu")
        if gpu_at < 0:
            if text.strip() and not out["errors"]:
                _error(out, "no nvidia-smi XML found (expected <nvidia_smi_log>)")
            return out
        _error(out, "no <nvidia_smi_log> root; read the <gpu> blocks that are there")
        document = "<nvidia_smi_log>" + text[gpu_at:]
    else:
        document = text[start:]

    root, error = _pull_parse(document)
    if error is not None:
        _error(out, f"XML is truncated or malformed ({error}); kept what was read before that point")
    if root is None:
        return out
    if root.tag != "nvidia_smi_log":
        _error(out, f"unexpected XML root <{root.tag}>, expected <nvidia_smi_log>")
        return out
    out["driver_version"] = _str(_text(root, "driver_version"))
    out["cuda_version"] = _str(_text(root, "cuda_version"))
    for index, gpu_el in enumerate(root.findall("gpu")):
        out["gpus"].append(_xml_gpu(gpu_el, index))
    return out


# ----------------------------------------------------------------------------------------------- text

_GPU_HEADER = re.compile(r"^GPU\s+" + _BUS_IN_TEXT + r"\s*$")
_KV = re.compile(r"^(\s*)([^:]*?[^\s:])\s*:\s?(.*)$")
_SECTION = re.compile(r"^(\s*)(\S.*?)\s*$")


class _TextGpu:
    def __init__(self, index: int, bus: str) -> None:
        self.gpu = _new_gpu(index)
        self.gpu["pci_bus_id"], self.gpu["pci_bus_short"] = normalise_bus_id(bus)
        self.ecc: dict[str, Any] = {}
        self.pending: list[bool | None] = []
        self.rows_na = False

    def take(self, path: list[str], value: str) -> None:
        gpu = self.gpu
        low = [p.lower() for p in path]
        key = low[-1]
        if len(low) == 1:
            if key == "product name":
                gpu["name"] = _str(value)
            elif key == "gpu uuid":
                gpu["uuid"] = _str(value)
            elif key == "minor number":
                gpu["minor_number"] = _int(value)
            elif key == "persistence mode":
                gpu["persistence_mode"] = _str(value)
            elif key == "gpu recovery action":
                gpu["recovery_action"] = _str(value)
            elif key == "remapped rows":
                self.rows_na = True
            return
        head = low[0]
        if head == "mig mode" and key == "current":
            gpu["mig_mode_current"] = _str(value)
        elif head == "gpu virtualization mode" and key == "virtualization mode":
            gpu["virtualization_mode"] = _str(value)
        elif head == "pci" and len(low) == 2 and key == "bus id" and gpu["pci_bus_id"] is None:
            gpu["pci_bus_id"], gpu["pci_bus_short"] = normalise_bus_id(value)
        elif head == "fb memory usage" and key in ("used", "total"):
            gpu[f"memory_{key}_mib"] = _int(value)
        elif head == "ecc mode" and key == "current":
            gpu["ecc_mode_current"] = _str(value)
        elif head == "ecc errors" and len(low) >= 3 and low[1] in ("volatile", "aggregate"):
            bucket = _ecc_bucket(self.ecc, low[1])
            if len(low) >= 4 and low[2] in ("single bit", "double bit"):
                kind = "sbe" if low[2] == "single bit" else "dbe"
                if key == "total":
                    bucket[f"{kind}_total"] = _int(value)
                else:
                    bucket[f"{kind}_parts"].append(_int(value))
            else:
                _add_ecc_counter(bucket, key, _int(value))
        elif head == "retired pages" and len(low) == 2:
            if key == "single bit ecc":
                gpu["retired_pages"]["sbe"] = _int(value)
            elif key == "double bit ecc":
                gpu["retired_pages"]["dbe"] = _int(value)
            elif key.startswith("pending"):
                self.pending.append(_yes_no(value))
        elif head == "remapped rows" and len(low) == 2:
            rows = gpu["remapped_rows"]
            if key == "correctable error":
                rows["correctable"] = _int(value)
            elif key == "uncorrectable error":
                rows["uncorrectable"] = _int(value)
            elif key == "pending":
                rows["pending"] = _yes_no(value)
            elif key.startswith("remapping failure"):
                rows["failure"] = _yes_no(value)
        elif head in _REASON_SECTIONS and value.strip() == "Active":
            name = _REASON_NAMES.get(key, re.sub(r"\W+", "_", key).strip("_"))
            if name not in gpu["throttle_reasons_active"]:
                gpu["throttle_reasons_active"].append(name)

    def finish(self) -> dict[str, Any]:
        _finish_ecc(self.gpu, self.ecc)
        pending = self.pending
        self.gpu["retired_pages"]["pending"] = True if True in pending else (False if False in pending else None)
        return self.gpu


@parser("nvidia_smi_text")
def parse_nvidia_smi_text(text: str) -> dict[str, Any]:
    out = _new_result()
    current: _TextGpu | None = None
    stack: list[tuple[int, str]] = []  # (indent, section name) of the open sections
    seen_log = False
    for line in iter_lines(text):
        if not line.strip():
            continue
        if len(line) > 10_000:
            _error(out, "skipped a line longer than 10000 characters")
            continue
        if "NVSMI LOG" in line:
            seen_log = True
            continue
        if m := _GPU_HEADER.match(line):
            if current is not None:
                out["gpus"].append(current.finish())
            current = _TextGpu(len(out["gpus"]), m.group(1))
            stack = []
            continue
        if _scan_failure(out, line):
            continue
        expanded = line.expandtabs(4)
        kv = _KV.match(expanded)
        if kv is None:
            sec = _SECTION.match(expanded)
            if sec is not None:
                indent = len(sec.group(1))
                while stack and stack[-1][0] >= indent:
                    stack.pop()
                stack.append((indent, sec.group(2)))
            continue
        indent, key, value = len(kv.group(1)), kv.group(2).strip(), kv.group(3)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if current is None or indent == 0:
            low = key.lower()
            if low == "driver version":
                out["driver_version"] = _str(value)
            elif low == "cuda version":
                out["cuda_version"] = _str(value)
            continue
        current.take([name for _, name in stack] + [key], value)
    if current is not None:
        out["gpus"].append(current.finish())
    if text.strip() and not out["gpus"] and not seen_log and not out["errors"] and out["driver_version"] is None:
        _error(out, "no nvidia-smi -q output recognised (expected the '==============NVSMI LOG' banner and GPU blocks)")
    return out


# ----------------------------------------------------------------------------------------------- CSV

_DEFAULT_COLUMNS = ("index", "pci.bus_id", "uuid")
_COLUMN_ALIASES = {"gpu_bus_id": "pci.bus_id", "gpu_uuid": "uuid", "gpu_name": "name"}


def _column_name(cell: str) -> str:
    name = re.sub(r"\s*\[[^\]]*\]\s*$", "", cell.strip()).lower()
    return _COLUMN_ALIASES.get(name, name)


@parser("nvidia_smi_query_csv")
def parse_nvidia_smi_query_csv(text: str) -> dict[str, Any]:
    """`--query-gpu=index,pci.bus_id,uuid --format=csv[,noheader]`: {gpus: [{index, pci_bus_id,
    pci_bus_short, uuid, name}], gpu_lost, lost_bus_ids, driver_unreachable, errors}. With a header the
    columns are read by name (any order, extra columns ignored); without one they are index, pci.bus_id, uuid."""
    out: dict[str, Any] = {"gpus": [], "gpu_lost": False, "lost_bus_ids": [], "driver_unreachable": False, "errors": []}
    columns: tuple[str, ...] | None = None
    bad = 0
    for line in iter_lines(text):
        if not line.strip() or len(line) > 10_000:
            continue
        if _scan_failure(out, line):
            continue
        cells = [c.strip() for c in line.split(",")]
        if columns is None:
            names = tuple(_column_name(c) for c in cells)
            if any(n in ("index", "uuid", "pci.bus_id", "name") for n in names) and not cells[0].isdigit():
                columns = names
                continue
            columns = _DEFAULT_COLUMNS
        row = dict(zip(columns, cells, strict=False))
        index = _int(row.get("index")) if row.get("index", "").strip().isdigit() else None
        bus_id, short = normalise_bus_id(row.get("pci.bus_id"))
        uuid = _str(row.get("uuid"))
        if index is None and bus_id is None and not (uuid or "").startswith(("GPU-", "MIG-")):
            bad += 1
            if bad <= 5:
                _error(out, f"unreadable line: {line[:120]}")
            continue
        out["gpus"].append(
            {"index": index, "pci_bus_id": bus_id, "pci_bus_short": short, "uuid": uuid, "name": _str(row.get("name"))}
        )
    return out
