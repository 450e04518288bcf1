"""RDMA port state from `ibstat`, `ibv_devinfo [-v]`, `rdma link show` and sysfs (DOMAIN.md section 5).

Strings follow rdma-core: infiniband-diags/ibstat.c prints `State: Active` / `Physical state: LinkUp`;
libibverbs/examples/devinfo.c prints `state: PORT_ACTIVE (4)`, `phys_state: LINK_UP (5)` and, with
`-v`, `GID[  3]: ::ffff:10.0.0.5, RoCE v2`; iproute2 `rdma link show` prints
`link mlx5_0/1 state ACTIVE physical_state LINK_UP netdev p1p1`.

ibstat and ib_sysfs share one port shape: {port, state (Down|Initializing|Armed|Active),
physical_state (Disabled|Polling|LinkUp|...), rate (Gb/s float), link_layer, base_lid, sm_lid,
port_guid}; `active_ports` / `down_ports` list "ca/port" names. Every key is always present.
"""

from __future__ import annotations

import re
from typing import Any

from llmd_triage.parsers import parser
from llmd_triage.parsers.textutil import as_text, iter_lines

MAX_DEVICES = 256
MAX_PORTS = 64
MAX_GIDS = 256
MAX_LINKS = 1024
MAX_LINE = 4096

# ---------------------------------------------------------------- ibstat

_CA = re.compile(r"^\s*CA '([^']*)'")
_KV = re.compile(r"^\s*([A-Za-z][A-Za-z ]*?):\s*(.*?)\s*$")
_PORT_HDR = re.compile(r"^\s*Port (\d+):\s*$")


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    s = text.strip()
    try:
        return int(s, 16) if s.lower().startswith("0x") else int(s)
    except ValueError:
        return None


def _float(text: str | None) -> float | None:
    if text is None:
        return None
    m = re.match(r"\s*(\d+(?:\.\d+)?)", text)
    return float(m.group(1)) if m else None


def _port(number: int | None) -> dict[str, Any]:
    return {
        "port": number,
        "state": None,
        "physical_state": None,
        "rate": None,
        "link_layer": None,
        "base_lid": None,
        "sm_lid": None,
        "port_guid": None,
    }


def _tally(cas: list[dict[str, Any]], out: dict[str, Any]) -> None:
    for ca in cas:
        for port in ca["ports"]:
            name = f"{ca['name']}/{port['port']}"
            if port["state"] == "Active":
                out["active_ports"].append(name)
            elif port["state"] == "Down":
                out["down_ports"].append(name)


@parser("ibstat")
def parse_ibstat(text: str) -> dict[str, Any]:
    """`ibstat` -> {cas: [{name, type, ports: [...]}], active_ports, down_ports, errors}."""
    text, errors = as_text(text)
    out: dict[str, Any] = {"cas": [], "active_ports": [], "down_ports": [], "errors": errors}
    cas: list[dict[str, Any]] = out["cas"]
    ca: dict[str, Any] | None = None
    port: dict[str, Any] | None = None
    for line in iter_lines(text):
        if len(line) > MAX_LINE or not line.strip():
            continue
        if m := _CA.match(line):
            port = None
            if len(cas) >= MAX_DEVICES:
                ca = None
                continue
            ca = {"name": m.group(1), "type": None, "firmware": None, "node_guid": None, "ports": []}
            cas.append(ca)
            continue
        if line.startswith("ibpanic") or line.startswith("ibwarn"):
            if len(errors) < 20:
                errors.append(f"ibstat reported: {line.strip()[:300]}")
            continue
        if m := _PORT_HDR.match(line):
            if ca is None or len(ca["ports"]) >= MAX_PORTS:
                port = None
                continue
            port = _port(int(m.group(1)))
            ca["ports"].append(port)
            continue
        m = _KV.match(line)
        if not m or ca is None:
            continue
        key, value = m.group(1).lower(), m.group(2)
        if port is None:
            if key == "ca type":
                ca["type"] = value or None
            elif key == "firmware version":
                ca["firmware"] = value or None
            elif key == "node guid":
                ca["node_guid"] = value or None
            continue
        if key == "state":
            port["state"] = value or None
        elif key == "physical state":
            port["physical_state"] = value or None
        elif key == "rate":
            port["rate"] = _float(value)
        elif key == "link layer":
            port["link_layer"] = value or None
        elif key == "base lid":
            port["base_lid"] = _int(value)
        elif key == "sm lid":
            port["sm_lid"] = _int(value)
        elif key == "port guid":
            port["port_guid"] = value or None
    _tally(cas, out)
    if not cas and text.strip():
        errors.append("no \"CA '...'\" block found; is this ibstat output?")
    return out


# ---------------------------------------------------------------- ibv_devinfo

_HCA = re.compile(r"^\s*hca_id:\s*(\S+)")
_DEV_PORT = re.compile(r"^\s*port:\s*(\d+)\s*$")
_GID = re.compile(r"^\s*GID\[\s*(\d+)\]:\s*([0-9A-Fa-f:.]+)(?:,\s*(.*?))?\s*$")
_KEY_VALUE = re.compile(r"^\s*([a-z_0-9]+):\s*(.*?)\s*$")
_VALUE_NUM = re.compile(r"^(.*?)\s*\((\d+)\)\s*$")
_IPV4_MAPPED = re.compile(r"^(?:0{1,4}:){5}ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$|^::ffff:(\d+\.\d+\.\d+\.\d+)$")
_PORT_KEYS = ("state", "phys_state", "link_layer", "active_mtu", "sm_lid", "port_lid")
_DEVICE_KEYS = (
    "transport",
    "fw_ver",
    "node_guid",
    "sys_image_guid",
    "vendor_id",
    "vendor_part_id",
    "hw_ver",
    "board_id",
    "phys_port_cnt",
)


def _ipv4(gid: str) -> str | None:
    m = _IPV4_MAPPED.match(gid.lower())
    if not m:
        return None
    if m.group(3):
        return m.group(3)
    hi, lo = int(m.group(1), 16), int(m.group(2), 16)
    return f"{hi >> 8}.{hi & 0xFF}.{lo >> 8}.{lo & 0xFF}"


def _dev_port(number: int | None) -> dict[str, Any]:
    return {
        "port": number,
        "state": None,
        "state_num": None,
        "phys_state": None,
        "phys_state_num": None,
        "link_layer": None,
        "active_mtu": None,
        "sm_lid": None,
        "port_lid": None,
        "gids": [],
        "active": None,
        "link_up": None,
        "has_ipv4_gid": False,
    }


def _device(hca_id: str | None) -> dict[str, Any]:
    return {"hca_id": hca_id, "fw_ver": None, "node_guid": None, "board_id": None, "ports": []}


@parser("ibv_devinfo")
def parse_ibv_devinfo(text: str) -> dict[str, Any]:
    """`ibv_devinfo [-v]` -> {devices: [{hca_id, fw_ver, node_guid, ports: [...]}], no_devices_found, errors}.

    Each port: {port, state, state_num, phys_state, phys_state_num, link_layer, active_mtu, sm_lid,
    port_lid, gids: [{index, gid, type, ipv4}], active (state_num == 4), link_up (phys_state_num == 5),
    has_ipv4_gid}. Plain `ibv_devinfo` prints no phys_state and no GIDs: phys_state, phys_state_num
    and link_up stay None and gids []. `active` / `link_up` are None when their state line is absent.
    """
    text, errors = as_text(text)
    out: dict[str, Any] = {"devices": [], "no_devices_found": False, "errors": errors}
    devices: list[dict[str, Any]] = out["devices"]
    dev: dict[str, Any] | None = None
    port: dict[str, Any] | None = None
    orphan = False

    def need_port() -> dict[str, Any] | None:
        nonlocal dev, port, orphan
        if port is None:
            if dev is None:
                if len(devices) >= MAX_DEVICES:
                    return None
                dev = _device(None)
                devices.append(dev)
            if len(dev["ports"]) >= MAX_PORTS:
                return None
            port = _dev_port(None)
            dev["ports"].append(port)
            orphan = True
        return port

    for line in iter_lines(text):
        if len(line) > MAX_LINE or not line.strip():
            continue
        if "No IB devices found" in line:
            out["no_devices_found"] = True
            continue
        if m := _HCA.match(line):
            port = None
            if len(devices) >= MAX_DEVICES:
                dev = None
                continue
            dev = _device(m.group(1))
            devices.append(dev)
            continue
        if m := _DEV_PORT.match(line):
            if dev is None:
                dev = _device(None)
                devices.append(dev)
                orphan = True
            if len(dev["ports"]) >= MAX_PORTS:
                port = None
                continue
            port = _dev_port(int(m.group(1)))
            dev["ports"].append(port)
            continue
        if m := _GID.match(line):
            p = need_port()
            if p is not None and len(p["gids"]) < MAX_GIDS:
                gid = m.group(2)
                kind = m.group(3) or None
                p["gids"].append({"index": int(m.group(1)), "gid": gid, "type": kind, "ipv4": _ipv4(gid)})
            continue
        m = _KEY_VALUE.match(line)
        if not m:
            continue
        key, value = m.group(1), m.group(2)
        if port is None and dev is not None and key in _DEVICE_KEYS:
            if key in dev:
                dev[key] = value or None
            continue
        if key not in _PORT_KEYS or (p := need_port()) is None:
            continue
        vm = _VALUE_NUM.match(value)
        if key in ("state", "phys_state"):
            p[key] = (vm.group(1) if vm else value) or None
            p[f"{key}_num"] = int(vm.group(2)) if vm else None
        elif key == "link_layer":
            p["link_layer"] = value or None
        elif key == "active_mtu":
            p["active_mtu"] = _int(vm.group(1) if vm else value)
        else:  # sm_lid, port_lid
            p[key] = _int(value)
    for dev in devices:
        for p in dev["ports"]:
            p["active"] = None if p["state_num"] is None else p["state_num"] == 4
            p["link_up"] = None if p["phys_state_num"] is None else p["phys_state_num"] == 5
            p["has_ipv4_gid"] = any(g["ipv4"] for g in p["gids"])
    if orphan:
        errors.append("port lines appeared before any 'hca_id:' / 'port:' header; kept under hca_id None / port None")
    if not devices and not out["no_devices_found"] and text.strip():
        errors.append("no 'hca_id:' block found; is this ibv_devinfo output?")
    return out


# ---------------------------------------------------------------- rdma link

_LINK = re.compile(r"\blink (\S+?)/(\d+)\s+state (\S+)\s+physical_state (\S+)(?:\s+netdev (\S+))?")


@parser("rdma_link")
def parse_rdma_link(text: str) -> dict[str, Any]:
    """`rdma link show` -> {links: [{device, port, state, physical_state, netdev, active, link_up}], errors}."""
    text, errors = as_text(text)
    out: dict[str, Any] = {"links": [], "errors": errors}
    dropped = 0
    for line in iter_lines(text):
        if len(line) > MAX_LINE:
            continue
        m = _LINK.search(line)
        if not m:
            continue
        if len(out["links"]) >= MAX_LINKS:
            dropped += 1
            continue
        state, phys = m.group(3), m.group(4)
        out["links"].append(
            {
                "device": m.group(1),
                "port": int(m.group(2)),
                "state": state,
                "physical_state": phys,
                "netdev": m.group(5),
                "active": state.upper() == "ACTIVE",
                "link_up": phys.upper() == "LINK_UP",
            }
        )
    if dropped:
        errors.append(f"{dropped} more link(s) not listed (limit {MAX_LINKS})")
    if not out["links"] and text.strip():
        errors.append("no 'link DEV/PORT state ... physical_state ...' line found")
    return out


# ---------------------------------------------------------------- sysfs

_SYSFS = re.compile(r"^\s*/sys/class/infiniband/([^/\s]+)/ports/(\d+)/([a-z_]+):\s*(.*?)\s*$")
_SYSFS_STATE = {
    "DOWN": "Down",
    "INIT": "Initializing",
    "ARMED": "Armed",
    "ACTIVE": "Active",
    "ACTIVE_DEFER": "ActiveDefer",
    "NOP": "NOP",
}


@parser("ib_sysfs")
def parse_ib_sysfs(text: str) -> dict[str, Any]:
    """`grep -H . /sys/class/infiniband/*/ports/*/{state,phys_state,rate,link_layer}` -> ibstat's shape.

    Lines look like `/sys/class/infiniband/mlx5_0/ports/1/state:4: ACTIVE`; `lid`, `sm_lid` (hex)
    are read when present. CA `type` stays None (sysfs keeps it elsewhere).
    """
    text, errors = as_text(text)
    out: dict[str, Any] = {"cas": [], "active_ports": [], "down_ports": [], "errors": errors}
    by_name: dict[str, dict[str, Any]] = {}
    ports: dict[tuple[str, int], dict[str, Any]] = {}
    for line in iter_lines(text):
        if len(line) > MAX_LINE:
            continue
        m = _SYSFS.match(line)
        if not m:
            continue
        name, number, attr, value = m.group(1), int(m.group(2)), m.group(3), m.group(4)
        ca = by_name.get(name)
        if ca is None:
            if len(by_name) >= MAX_DEVICES:
                continue
            ca = {"name": name, "type": None, "firmware": None, "node_guid": None, "ports": []}
            by_name[name] = ca
            out["cas"].append(ca)
        port = ports.get((name, number))
        if port is None:
            if len(ca["ports"]) >= MAX_PORTS:
                continue
            port = _port(number)
            ports[(name, number)] = port
            ca["ports"].append(port)
        if attr == "state":
            word = value.split(":", 1)[-1].strip()
            port["state"] = _SYSFS_STATE.get(word.upper(), word or None)
        elif attr == "phys_state":
            port["physical_state"] = value.split(":", 1)[-1].strip() or None
        elif attr == "rate":
            port["rate"] = _float(value)
        elif attr == "link_layer":
            port["link_layer"] = value or None
        elif attr == "lid":
            port["base_lid"] = _int(value)
        elif attr == "sm_lid":
            port["sm_lid"] = _int(value)
    for ca in out["cas"]:
        ca["ports"].sort(key=lambda p: p["port"])
    _tally(out["cas"], out)
    if not out["cas"] and text.strip():
        errors.append("no /sys/class/infiniband/<dev>/ports/<n>/<attr>:<value> line found")
    return out
