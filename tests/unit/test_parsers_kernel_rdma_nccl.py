"""Kernel Xid, RDMA and NCCL/UCX parsers on real output (tests/fixtures/real, sources in SOURCES.md),
the Xid catalog against DOMAIN.md section 4, and garbage / very large input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmd_triage.knowledge import XID_ACTIONS, action_rank, xid_catalog, xid_info
from llmd_triage.parsers import get_parser, safe_parse
from llmd_triage.parsers.kernel_xid import MAX_EVENTS, map_pci_to_gpu, normalize_pci, parse_kernel_xid
from llmd_triage.parsers.nccl_log import parse_nccl, parse_ucx_nixl
from llmd_triage.parsers.rdma import parse_ib_sysfs, parse_ibstat, parse_ibv_devinfo, parse_rdma_link

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real"
NVIDIA_URL = "https://docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html"
PARSERS = ("kernel_xid", "ibstat", "ibv_devinfo", "rdma_link", "ib_sysfs", "nccl", "ucx_nixl")


def real(name: str) -> str:
    return (REAL / name).read_text(encoding="utf-8")


# ------------------------------------------------------------------ Xid catalog


def test_catalog_lists_every_code_of_nvidias_catalog() -> None:
    catalog = xid_catalog()
    assert sorted(catalog) == list(range(1, 173))
    for code, entry in catalog.items():
        assert entry["code"] == code
        assert entry["action"] in XID_ACTIONS[:-1]
        assert entry["name"] and entry["cause"]
        assert NVIDIA_URL in entry["source"]
        if code <= 162:  # NVSentinel's CSV stops at 162
            assert "xiderrorsmapping.csv" in entry["source"]
            assert entry["nvsentinel_bucket"] is not None
        else:
            assert entry["nvsentinel_bucket"] is None
    json.dumps(catalog)


# DOMAIN.md section 4 "Classify", bucket by bucket. Where DOMAIN.md is less precise the catalog wins:
# 160 is RESTART_BM in NVSentinel (and DOMAIN.md) but IGNORE in NVIDIA's catalog; 154 "follow the action it
# states" is the workflow bucket (the parser reads the stated action into recovery_actions / worst_action).
DOMAIN_BUCKETS = {
    "restart_app": [8, 11, 13, 25, 31, 32, 39, 40, 41, 68, 69, 70, 71, 72, 75, 76, 77, 80, 94],
    "reset_gpu": [46, 62, 64, 95, 109, 110, 119, 120, 136, 140, 143, 155, 156, 158],
    "reboot_node": [79],
    "workflow": [45, 48, 74, 144, 145, 146, 147, 148, 149, 150, 154],
    "ignore": [43, 63, 92, 93],
}


@pytest.mark.parametrize(("action", "codes"), sorted(DOMAIN_BUCKETS.items()))
def test_catalog_matches_domain_buckets(action: str, codes: list[int]) -> None:
    catalog = xid_catalog()
    assert {code: catalog[code]["action"] for code in codes} == dict.fromkeys(codes, action)


def test_catalog_follows_nvidia_where_nvsentinel_differs() -> None:
    entry = xid_catalog()[160]
    assert (entry["action"], entry["nvidia_bucket"], entry["nvsentinel_bucket"]) == ("ignore", "IGNORE", "RESTART_BM")
    assert "NVSentinel recommends RESTART_BM" in entry["note"]
    assert xid_catalog()[108]["action"] == "ignore"  # NVSentinel: UNEXPECTED_ERR_REPORT_ISSUE
    assert "NVSentinel names it NVLINK_FLA_PRIV_ERR" in xid_catalog()[137]["note"]


def test_catalog_details_for_the_codes_the_trees_use() -> None:
    catalog = xid_catalog()
    assert catalog[79]["name"] == "ROBUST_CHANNEL_GPU_HAS_FALLEN_OFF_THE_BUS"
    assert catalog[79]["nvidia_bucket"] == "RESTART_BM"
    assert catalog[151]["action"] == "reboot_node"  # RESTART_VM: the VM is the node
    assert catalog[142]["action"] == "contact_support"
    assert catalog[63]["escalation"] and "Xid 64" in catalog[63]["escalation"]
    for code in (48, 64, 79, 95):  # DOMAIN.md: recurring 48/79/95 after reset, Xid 64 -> RMA
        assert "RMA" in catalog[code]["escalation"], code
    assert catalog[154]["escalation"] is None
    assert catalog[171]["nvidia_bucket"] is None and "no resolution bucket" in catalog[171]["note"]


def test_xid_info_is_a_private_copy_and_ranks_order_actions() -> None:
    info = xid_info(79)
    assert info is not None
    info["action"] = "ignore"
    assert xid_catalog()[79]["action"] == "reboot_node"
    assert xid_info(999) is None
    ranks = [action_rank(a) for a in XID_ACTIONS]
    assert ranks == sorted(ranks, reverse=True)
    assert action_rank("nonsense") == action_rank("unknown") == 0


# ------------------------------------------------------------------ kernel Xid: real samples


def test_dmesg_ctime_xid_13_31_109_and_peermem() -> None:
    out = parse_kernel_xid(real("dmesg-xid-13-31-109-peermem-pytorch.txt"))
    assert out["count"] == 6
    assert out["by_xid"] == {"13": 3, "109": 2, "31": 1}
    assert out["peermem_errors"] == 2
    assert out["worst_action"] == "reset_gpu"  # 109 is RESET_GPU; 13/31 RESTART_APP
    assert out["gpu_fallen_off_bus"] is False
    assert [e["xid"] for e in out["events"]] == [13, 13, 13, 109, 31, 109]
    assert [e["action"] for e in out["events"]] == ["restart_app"] * 3 + ["reset_gpu", "restart_app", "reset_gpu"]
    first, ctx = out["events"][0], out["events"][3]
    assert first["timestamp"] == "Fri Aug 30 11:43:09 2024"
    assert (first["pci"], first["pci_bus_short"], first["pid"], first["process"]) == (
        "0000:cb:00",
        "cb:00.0",
        None,
        None,
    )
    assert (ctx["pid"], ctx["process"], ctx["timestamp"]) == (1797828, "pt_main_thread", "Fri Aug 30 11:43:14 2024")
    assert ctx["catalog_name"] == "ROBUST_CHANNEL_CTXSW_TIMEOUT_ERROR"
    assert (
        ctx["message"] == "pid=1797828, name=pt_main_thread, Ch 00000008, errorString CTX SWITCH TIMEOUT, Info 0x58005"
    )
    assert out["errors"] == []


def test_dmesg_T_xid_79_fallen_off_bus_continuation_lines_not_counted() -> None:
    out = parse_kernel_xid(real("dmesg-T-xid-79-fallen-off-bus-nvidia-smi-unknown-error.txt"))
    assert out["count"] == 1 and out["by_xid"] == {"79": 1}
    assert out["gpu_fallen_off_bus"] is True
    assert out["worst_action"] == "reboot_node"
    event = out["events"][0]
    assert event["timestamp"] == "Fri Apr  5 21:29:39 2024"
    assert (event["pci"], event["pci_bus_short"], event["xid"]) == ("0000:a1:00", "a1:00.0", 79)
    assert event["catalog_name"] == "ROBUST_CHANNEL_GPU_HAS_FALLEN_OFF_THE_BUS"
    assert event["message"] == "pid='<unknown>', name=<unknown>, GPU has fallen off the bus."
    assert out["pci_uuids"] == {"0000:a1:00": "GPU-979426f2-893a-7cbb-c4cf-81472f89a462"}


def test_journal_k_xid_45_after_149_and_145() -> None:
    out = parse_kernel_xid(real("journal-kernel-xid-45-after-149-145-nvlink.txt"))
    assert out["count"] == 7 and out["by_xid"] == {"45": 7}
    assert [e["caused_by_xid"] for e in out["events"]] == [149, 145, 145, 145, 149, 145, 145]
    assert [e["pci_bus_short"] for e in out["events"]] == [
        "dc:00.0",
        "ed:00.0",
        "ba:00.0",
        "97:00.0",
        "dc:00.0",
        "ba:00.0",
        "ed:00.0",
    ]
    assert {e["process"] for e in out["events"]} == {"python3"}
    assert out["events"][0]["pid"] == 1818990
    assert all(e["timestamp"] is None for e in out["events"])  # the excerpt carries no date
    assert out["worst_action"] == "workflow"


def test_dmesg_T_xid_119_gsp_rpc_history_lines_are_not_events() -> None:
    out = parse_kernel_xid(real("dmesg-T-xid-119-gsp-rpc-timeout-rpc-history.txt"))
    assert out["count"] == 5 and out["by_xid"] == {"119": 5}
    assert [e["process"] for e in out["events"]] == ["nvidia-smi"] * 3 + ["cache_mgr_main", "gpud"]
    assert [e["pid"] for e in out["events"]] == [2024380, 2024380, 2024380, 1263500, 1240590]
    assert out["events"][-1]["timestamp"] == "Sun Feb 23 16:30:13 2025"
    assert out["worst_action"] == "reset_gpu"
    assert out["pci_uuids"] == {"0000:9b:00": "GPU-509665ad-b600-ac93-3616-d754b23d636d"}


def test_kmsg_xid_149_and_154_recovery_actions() -> None:
    out = parse_kernel_xid(real("kmsg-xid-149-netir-154-recovery-action-gb200.txt"))
    assert out["count"] == 9 and out["by_xid"] == {"149": 5, "154": 4}
    assert out["recovery_actions"] == [
        {"pci": "0009:01:00", "from": "None", "to": "Drain and Reset", "timestamp": 171167.621162},
        {"pci": "0019:01:00", "from": "Drain and Reset", "to": "GPU Reset Required", "timestamp": 171167.897562},
        {"pci": "0018:01:00", "from": "Drain and Reset", "to": "GPU Reset Required", "timestamp": 171168.537473},
        {"pci": "0008:01:00", "from": "Drain and Reset", "to": "GPU Reset Required", "timestamp": 171168.601459},
    ]
    first = out["events"][0]
    assert first["timestamp"] == 171167.620236
    assert (first["pci_bus_short"], first["action"], first["catalog_name"]) == (
        "0009:01:00.0",
        "workflow",
        "NVLINK_NETIR_ERROR",
    )
    assert out["worst_action"] == "reset_gpu"  # from the 154 lines; 149/154 alone are "workflow"


def test_fallen_off_bus_without_xid() -> None:
    out = parse_kernel_xid(real("dmesg-nvrm-fallen-off-bus-no-xid-multiline.txt"))
    assert (out["count"], out["events"], out["by_xid"]) == (0, [], {})
    assert out["gpu_fallen_off_bus"] is True
    assert out["worst_action"] == "reboot_node"


# ------------------------------------------------------------------ kernel Xid: formats (hand-written lines)


def test_kernel_log_formats() -> None:
    # Hand-written: no real journalctl -k / syslog / kmsg-record / ISO Xid 154 sample was found.
    text = "\n".join(
        [
            "Apr 05 21:29:39 gpu-node-1 kernel: NVRM: Xid (PCI:0000:a1:00): 154, GPU recovery action changed "
            "from 0x0 (None) to 0x2 (Node Reboot Required)",
            "Apr  5 21:29:40 gpu-node-1 kernel: [12345.678901] NVRM: Xid (PCI:0000:a1:00): 94, pid=77, name=python3, "
            "Contained: SM (0x1). RST: No, D-RST: No",
            "4,1234,5678901,-;NVRM: Xid (PCI:0000:3b:00): 63, pid=1, name=x, Row Remapper: New row marked for "
            "remapping, reset gpu to activate.",
            "2024-04-05T21:29:41+0000 gpu-node-1 kernel: NVRM: Xid (0000:03:00): 14, Channel 00000001",
            "\x1b[31m[  100.5] NVRM: Xid (PCI:0000:18:00): 999, something new\x1b[0m\r",
        ]
    )
    out = parse_kernel_xid(text)
    assert [e["timestamp"] for e in out["events"]] == [
        "Apr 05 21:29:39",
        "Apr  5 21:29:40",
        5.678901,
        "2024-04-05T21:29:41+0000",
        100.5,
    ]
    assert [e["xid"] for e in out["events"]] == [154, 94, 63, 14, 999]
    assert [e["action"] for e in out["events"]] == ["workflow", "restart_app", "ignore", "ignore", "unknown"]
    assert out["events"][-1]["catalog_name"] is None
    assert out["events"][3]["pci_bus_short"] == "03:00.0"
    assert out["recovery_actions"] == [
        {"pci": "0000:a1:00", "from": "None", "to": "Node Reboot Required", "timestamp": "Apr 05 21:29:39"}
    ]
    assert out["worst_action"] == "reboot_node"  # what the 154 line asks for


def test_kernel_xid_empty_input_has_every_key() -> None:
    out = parse_kernel_xid("")
    assert out == {
        "events": [],
        "by_xid": {},
        "worst_action": None,
        "gpu_fallen_off_bus": False,
        "recovery_actions": [],
        "pci_uuids": {},
        "peermem_errors": 0,
        "count": 0,
        "errors": [],
    }


def test_kernel_xid_keeps_a_bounded_event_list_and_counts_the_rest() -> None:
    line = "[{:d}.000001] NVRM: Xid (PCI:0000:1b:00): 13, pid=9, name=p, Graphics Exception\n"
    out = parse_kernel_xid("".join(line.format(i) for i in range(MAX_EVENTS + 500)))
    assert out["count"] == MAX_EVENTS + 500
    assert out["by_xid"] == {"13": MAX_EVENTS + 500}
    assert len(out["events"]) == MAX_EVENTS
    assert any("only the first" in e for e in out["errors"])


def test_fifty_megabytes_of_dmesg_parse_to_bounded_output() -> None:
    noise = "[ 1843.439662] mlx5_core 0000:ab:00.0 mlx5_5: Port: 1 Link ACTIVE, some ordinary kernel chatter here\n"
    xid = "[ 1843.439669] NVRM: Xid (PCI:0000:cb:00): 31, pid=626486, name=pt_main_thread, Ch 00000008, MMU Fault\n"
    block = noise * 9 + xid
    repeats = 50 * 1024 * 1024 // len(block) + 1
    text = block * repeats
    assert len(text) >= 50 * 1024 * 1024
    out = parse_kernel_xid(text)
    del text
    assert out["count"] == repeats and out["by_xid"] == {"31": repeats}
    assert len(out["events"]) == MAX_EVENTS
    assert len(json.dumps(out)) < 1_000_000


def test_map_pci_to_gpu_joins_kernel_and_nvidia_smi_spellings() -> None:
    events = parse_kernel_xid(
        real("dmesg-T-xid-79-fallen-off-bus-nvidia-smi-unknown-error.txt")
        + real("kmsg-xid-149-netir-154-recovery-action-gb200.txt")
    )["events"]
    gpus = [
        {"index": "0", "pci_bus_id": "00000000:A1:00.0", "uuid": "GPU-979426f2-893a-7cbb-c4cf-81472f89a462"},
        {"index": 3, "pci.bus_id": "00000009:01:00.0", "uuid": " GPU-x "},
    ]
    joined = map_pci_to_gpu(events, gpus)
    assert [(e["xid"], e["gpu_index"], e["gpu_uuid"]) for e in joined[:4]] == [
        (79, 0, "GPU-979426f2-893a-7cbb-c4cf-81472f89a462"),
        (149, 3, "GPU-x"),
        (154, 3, "GPU-x"),
        (149, None, None),  # domain 0008: no nvidia-smi row
    ]
    assert "gpu_index" not in events[0]  # inputs are not modified
    assert map_pci_to_gpu([], gpus) == []
    assert map_pci_to_gpu(events[:1], [{"index": "x", "pci_bus_id": "junk"}, "not a row"])[0]["gpu_index"] is None


def test_normalize_pci_spellings() -> None:
    assert normalize_pci("0000:a1:00") == normalize_pci("00000000:A1:00.0") == normalize_pci("a1:00.0")
    assert normalize_pci("PCI:0009:01:00") == "0009:01:00.0"
    assert normalize_pci("not-a-bus") is None and normalize_pci(None) is None


# ------------------------------------------------------------------ RDMA


def test_ibstat_h100_infiniband_active_and_ethernet_down() -> None:
    out = parse_ibstat(real("ibstat-h100-infiniband-active-eth-disabled.txt"))
    assert len(out["cas"]) == 12
    ib_active = [
        f"{ca['name']}/{p['port']}"
        for ca in out["cas"]
        for p in ca["ports"]
        if p["link_layer"] == "InfiniBand" and p["state"] == "Active"
    ]
    assert ib_active == [
        "mlx5_0/1",
        "mlx5_10/1",
        "mlx5_11/1",
        "mlx5_3/1",
        "mlx5_4/1",
        "mlx5_5/1",
        "mlx5_6/1",
        "mlx5_9/1",
    ]
    assert out["down_ports"] == ["mlx5_2/1", "mlx5_7/1", "mlx5_8/1"]
    assert out["active_ports"] == ["mlx5_0/1", "mlx5_1/1", *ib_active[1:]]  # + the one active Ethernet port
    down = [p for ca in out["cas"] for p in ca["ports"] if p["state"] == "Down"]
    assert {(p["physical_state"], p["link_layer"], p["rate"]) for p in down} == {("Disabled", "Ethernet", 40.0)}
    assert out["cas"][0] == {
        "name": "mlx5_0",
        "type": "MT4129",
        "firmware": "28.39.1002",
        "node_guid": "0x946dae0300cde72c",
        "ports": [
            {
                "port": 1,
                "state": "Active",
                "physical_state": "LinkUp",
                "rate": 400.0,
                "link_layer": "InfiniBand",
                "base_lid": 75,
                "sm_lid": 334,
                "port_guid": "0x946dae0300cde72c",
            }
        ],
    }
    assert out["errors"] == []


def test_ibv_devinfo_two_hcas_port_2_down() -> None:
    out = parse_ibv_devinfo(real("ibv_devinfo-2hca-mlx4-port2-down.txt"))
    assert [d["hca_id"] for d in out["devices"]] == ["mlx4_1", "mlx4_0"]
    for dev in out["devices"]:
        assert dev["fw_ver"] == "2.42.5000"
        p1, p2 = dev["ports"]
        assert (p1["port"], p1["state"], p1["state_num"], p1["active"]) == (1, "PORT_ACTIVE", 4, True)
        assert (p2["port"], p2["state"], p2["state_num"], p2["active"]) == (2, "PORT_DOWN", 1, False)
        assert p1["link_layer"] == p2["link_layer"] == "InfiniBand"
        assert p1["active_mtu"] == 4096
        assert (p2["phys_state"], p2["link_up"], p2["gids"]) == (None, None, [])  # plain ibv_devinfo
    assert (out["devices"][0]["ports"][0]["sm_lid"], out["devices"][0]["ports"][0]["port_lid"]) == (1, 22)
    assert out["devices"][0]["node_guid"] == "7cfe:9003:00a5:95c0"
    assert out["no_devices_found"] is False and out["errors"] == []


def test_ibv_devinfo_verbose_roce_gids() -> None:
    out = parse_ibv_devinfo(real("ibv_devinfo-v-cx6-roce-gid-ipv4-mapped.txt"))
    (dev,) = out["devices"]
    assert (dev["hca_id"], dev["fw_ver"], dev["board_id"]) == ("mlx5_0", "20.24.4702", "MT_0000000225")
    (port,) = dev["ports"]
    assert (port["state"], port["state_num"], port["phys_state"], port["phys_state_num"]) == (
        "PORT_ACTIVE",
        4,
        "LINK_UP",
        5,
    )
    assert (port["active"], port["link_up"], port["link_layer"], port["has_ipv4_gid"]) == (True, True, "Ethernet", True)
    assert port["gids"] == [
        {"index": 0, "gid": "fe80:0000:0000:0000:ba59:9fff:fe37:8268", "type": "RoCE v1", "ipv4": None},
        {"index": 1, "gid": "fe80::ba59:9fff:fe37:8268", "type": "RoCE v2", "ipv4": None},
        {"index": 2, "gid": "0000:0000:0000:0000:0000:ffff:c0a8:010b", "type": "RoCE v1", "ipv4": "192.168.1.11"},
        {"index": 3, "gid": "::ffff:192.168.1.11", "type": "RoCE v2", "ipv4": "192.168.1.11"},
    ]
    assert out["errors"] == []


def test_ibv_devinfo_tab_indented_fragment_without_headers() -> None:
    out = parse_ibv_devinfo(real("ibv_devinfo-v-gid-fragment-mlx5-bond-tabs.txt"))
    (port,) = out["devices"][0]["ports"]
    assert out["devices"][0]["hca_id"] is None and port["port"] is None
    assert (port["phys_state"], port["link_up"], port["active"]) == ("LINK_UP", True, None)
    assert [g["type"] for g in port["gids"]] == ["RoCE v1", "RoCE v2", "RoCE v1", "RoCE v2"]
    assert [g["ipv4"] for g in port["gids"]] == [None, None, "200.0.209.6", "200.0.209.6"]
    assert len(out["errors"]) == 1


def test_ibv_devinfo_no_devices() -> None:
    out = parse_ibv_devinfo("No IB devices found\n")
    assert out == {"devices": [], "no_devices_found": True, "errors": []}


def test_rdma_link_show() -> None:
    out = parse_rdma_link(real("rdma-link-show-roce-cx6dx-active.txt"))
    assert out["links"] == [
        {
            "device": "mlx5_0",
            "port": 1,
            "state": "ACTIVE",
            "physical_state": "LINK_UP",
            "netdev": "p1p1",
            "active": True,
            "link_up": True,
        },
        {
            "device": "mlx5_1",
            "port": 1,
            "state": "ACTIVE",
            "physical_state": "LINK_UP",
            "netdev": "p1p2",
            "active": True,
            "link_up": True,
        },
    ]
    assert out["errors"] == []
    down = parse_rdma_link("link mlx5_2/1 state DOWN physical_state DISABLED\n")["links"][0]
    assert (down["netdev"], down["active"], down["link_up"]) == (None, False, False)


def test_ib_sysfs_dump() -> None:
    # Hand-written in the `grep -H .` layout (no real dump was found); values as the kernel prints them.
    text = (
        "/sys/class/infiniband/mlx5_0/ports/1/link_layer:InfiniBand\n"
        "/sys/class/infiniband/mlx5_0/ports/1/phys_state:5: LinkUp\n"
        "/sys/class/infiniband/mlx5_0/ports/1/rate:400 Gb/sec (4X NDR)\n"
        "/sys/class/infiniband/mlx5_0/ports/1/state:4: ACTIVE\n"
        "/sys/class/infiniband/mlx5_0/ports/1/lid:0x4b\n"
        "/sys/class/infiniband/mlx5_0/ports/1/sm_lid:0x14e\n"
        "/sys/class/infiniband/mlx5_2/ports/1/link_layer:Ethernet\n"
        "/sys/class/infiniband/mlx5_2/ports/1/phys_state:3: Disabled\n"
        "/sys/class/infiniband/mlx5_2/ports/1/rate:40 Gb/sec (4X QDR)\n"
        "/sys/class/infiniband/mlx5_2/ports/1/state:1: DOWN\n"
    )
    out = parse_ib_sysfs(text)
    assert out["active_ports"] == ["mlx5_0/1"] and out["down_ports"] == ["mlx5_2/1"]
    assert out["cas"][0]["ports"] == [
        {
            "port": 1,
            "state": "Active",
            "physical_state": "LinkUp",
            "rate": 400.0,
            "link_layer": "InfiniBand",
            "base_lid": 75,
            "sm_lid": 334,
            "port_guid": None,
        }
    ]
    assert out["cas"][1]["ports"][0]["physical_state"] == "Disabled"
    assert set(out["cas"][0]["ports"][0]) == set(
        parse_ibstat(real("ibstat-h100-infiniband-active-eth-disabled.txt"))["cas"][0]["ports"][0]
    )


# ------------------------------------------------------------------ NCCL


def test_nccl_p2p_ipc_in_vllm_pod() -> None:
    out = parse_nccl(real("nccl-info-p2p-ipc-h100-k8s-pod-vllm.txt"))
    assert out["transports"] == {"P2P/IPC": 4}
    assert out["intra_node_p2p"] is True
    assert out["nccl_lines"] == 12 and out["warnings"] == []


def test_nccl_net_ib_gdrdma() -> None:
    out = parse_nccl(real("nccl-info-net-ib-gdrdma-a100.txt"))
    assert out["transports"] == {"NET/IB/GDRDMA": 12}
    assert out["intra_node_p2p"] is None


def test_nccl_socket_and_shm_fallback() -> None:
    out = parse_nccl(real("nccl-info-net-socket-shm-fallback-mpirun-prefix.txt"))
    assert out["transports"] == {"NET/Socket": 9, "SHM": 2}
    assert out["intra_node_p2p"] is False


def test_nccl_no_ib_device_uses_socket() -> None:
    out = parse_nccl(real("nccl-info-net-ib-no-device-using-network-socket-vllm.txt"))
    assert out["version"] == "2.20.5+cuda12.4"
    assert out["using_network"] == "Socket"
    assert out["ib_fallbacks"] == ["NET/IB : No device found."]
    assert out["ib_devices"] == []


def test_nccl_roce_devices_using_network_ib() -> None:
    out = parse_nccl(real("nccl-info-net-ib-roce-merged-devices-using-network-ib-vllm.txt"))
    assert out["version"] == "2.20.5+cuda11.0"
    assert out["using_network"] == "IB"
    assert out["ib_devices"] == [
        {"device": "mlx5_7", "port": 1, "link_layer": "RoCE"},
        {"device": "mlx5_6", "port": 1, "link_layer": "RoCE"},
    ]
    assert out["ib_fallbacks"] == []


def test_nccl_config_p2p_and_shm_signals() -> None:
    # Hand-written lines in NCCL's own wording (checked against NVIDIA/nccl sources).
    text = "\n".join(
        [
            "h:1:1 [0] NCCL INFO NCCL_P2P_DISABLE set by environment to 1.",
            "h:1:1 [0] NCCL INFO NCCL_IB_DISABLE set by environment to 1.",
            "h:1:1 [0] NCCL INFO NCCL_SOCKET_IFNAME set by environment to eth0",
            "h:1:1 [0] NCCL INFO Failed to open libibverbs.so[.1]",
            "h:1:1 [0] NCCL INFO NET/IB : Using [0]mlx5_0:1/IB [1]mlx5_1:1/IB ; OOB ib0:10.0.0.1<0>",
            "h:1:1 [0] NCCL INFO P2P is disabled between connected GPUs 1 and 0. You can repress this message with "
            "NCCL_IGNORE_DISABLED_P2P=1.",
            "h:1:1 [0] NCCL INFO P2P is disabled between connected GPUs 1 and 0. You can repress this message with "
            "NCCL_IGNORE_DISABLED_P2P=1.",
            "h:1:1 [0] misc/shmutils.cc:72 NCCL WARN Error: failed to extend /dev/shm/nccl-Ab to 9637892 bytes",
            "h:1:1 [0] misc/shmutils.cc:113 NCCL WARN Error while creating shared memory segment /dev/shm/nccl-Ab "
            "(size 9637888), error: No space left on device (28)",
            "h:1:1 [0] NCCL INFO Channel 00 : 0[0] -> 1[1] via SHM/direct/direct",
            "h:1:1 [0] NCCL INFO Channel 00/0 : 0[0] -> 1[1] via P2P/CUMEM/read",
            "h:1:1 [0] NCCL INFO Channel 01/0 : 0[0] -> 1[1] via P2P/direct pointer",
            "(VllmWorker rank=0 pid=9) WARNING 05-01 10:00:00 [custom_all_reduce.py:136] Custom allreduce is disabled "
            "because your platform lacks GPU P2P capability or P2P test failed. To silence this warning, specify "
            "disable_custom_all_reduce=True explicitly.",
            "INFO 05-01 10:00:00 [pynccl.py:69] vLLM is using nccl==2.26.2",
            "h:1:1 [0] NCCL INFO Using network IB",
            "h:2:2 [1] NCCL INFO Using network Socket",
            "h:2:2 [1] NCCL INFO Using network IB",
        ]
    )
    out = parse_nccl(text)
    assert out["env"] == {"NCCL_P2P_DISABLE": "1", "NCCL_IB_DISABLE": "1", "NCCL_SOCKET_IFNAME": "eth0"}
    assert out["ib_fallbacks"] == ["NCCL_IB_DISABLE set by environment to 1", "Failed to open libibverbs.so"]
    assert out["ib_devices"] == [
        {"device": "mlx5_0", "port": 1, "link_layer": "IB"},
        {"device": "mlx5_1", "port": 1, "link_layer": "IB"},
    ]
    assert out["p2p_disabled_pairs"] == [[1, 0]]
    assert out["nvlink_p2p_hw_issue"] is False
    assert out["shm_failures"] == [
        {"segment": "/dev/shm/nccl-Ab", "size": 9637888, "reason": "No space left on device (28)"}
    ]
    assert out["warn_count"] == 2 and len(out["warnings"]) == 2
    assert out["transports"] == {"SHM": 1, "P2P/CUMEM": 1, "P2P/direct pointer": 1}
    assert out["intra_node_p2p"] is True
    assert out["custom_allreduce_disabled"] is True
    assert out["version"] == "2.26.2"  # from vLLM: NCCL printed no "NCCL version" line
    assert out["using_network"] == "Socket"  # one rank fell back


def test_nccl_nvlink_p2p_hardware_warning_and_bounded_warnings() -> None:
    line = (
        "h:1:1 [1] NCCL WARN P2P is disabled between NVLINK connected GPUs 1 and 0. This should not be the case "
        "given their connectivity, and is probably due to a hardware issue. If you still want to proceed, you can "
        "set NCCL_IGNORE_DISABLED_P2P=1.\n"
    )
    out = parse_nccl(line * 80)
    assert out["nvlink_p2p_hw_issue"] is True
    assert out["nvlink_disabled_pairs"] == [[1, 0]]
    assert out["p2p_disabled_pairs"] == []
    assert out["warn_count"] == 80 and len(out["warnings"]) == 50


# ------------------------------------------------------------------ UCX / NIXL


def test_ucx_inter_node_rc_lanes() -> None:
    out = parse_ucx_nixl(real("ucx-info-inter-node-rc-mlx5-lanes-nixl.txt"))
    assert (out["rc_lanes"], out["tcp_only"], out["transports_seen"]) == (True, False, ["rc_mlx5"])
    assert out["ucx_errors"] == [] and out["nixl_errors"] == []


def test_ucx_errors_and_warnings() -> None:
    out = parse_ucx_nixl(real("ucx-error-ibv-create-ah-no-such-device-dynamo.txt"))
    assert out["ucx_errors"] == [
        "ibv_create_ah(dlid=49152 sl=0 port=1 src_path_bits=0 dgid=fe80::5aa2:e1ff:fefe:c130 flow_label=0xffffffff "
        "sgid_index=0 traffic_class=0) for UD mlx5 connect on mlx5_0 failed: No such device"
    ]
    assert len(out["ucx_warnings"]) == 8
    assert (out["rc_lanes"], out["tcp_only"], out["rtr_failed"]) == (False, None, False)


def test_ucx_modify_to_rtr_failure() -> None:
    out = parse_ucx_nixl(real("ucx-error-modify-qp-rtr-no-such-device-aibrix.txt"))
    assert out["rtr_failed"] is True
    assert out["ucx_errors"] == ["mlx5_1: ibv_modify_qp(UMR QP 0x2c5c) failed to modify to RTR: No such device"]


def test_nixl_backend_error() -> None:
    out = parse_ucx_nixl(real("nixl-err-backend-create-backend-traceback.txt"))
    assert (out["nixl_errors"], out["nixl_error_count"]) == (["NIXL_ERR_BACKEND"], 1)


def test_ucx_only_tcp_available() -> None:
    out = parse_ucx_nixl(real("ucx-warn-cuda-transports-unavailable-tcp-only-lmcache.txt"))
    assert (out["tcp_only"], out["rc_lanes"]) == (True, False)
    # Hand-written lane line: inter-node traffic on TCP only.
    lanes = "[1.0] [h:1:0] ucp_worker.c:1903 UCX  INFO  ucp_context_0 inter-node cfg#1 am(tcp/eth0 tcp/eth1)\n"
    assert parse_ucx_nixl(lanes)["tcp_only"] is True
    prot = "UCX  ERROR Local protection error on mlx5_0:1/RoCE (synd 0x4 vend 0x33 hw_synd 0/0)\n"
    assert parse_ucx_nixl(prot)["local_protection_error"] is True


# ------------------------------------------------------------------ every parser on garbage


@pytest.mark.parametrize("name", PARSERS)
def test_registered_and_empty_input_is_clean(name: str) -> None:
    fn = get_parser(name)
    assert fn is not None
    out = fn("")
    assert out["errors"] == []
    json.dumps(out)


@pytest.mark.parametrize("name", PARSERS)
def test_foreign_input_reports_instead_of_raising(name: str) -> None:
    out = safe_parse(name, real("vllm-v1-no-available-memory-kv-cache-h100.txt"))
    assert not any(e.startswith(f"parser {name} failed") for e in out["errors"])
    json.dumps(out)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(PARSERS), data=st.one_of(st.text(), st.binary()))
def test_no_exception_on_arbitrary_text_or_bytes(name: str, data: str | bytes) -> None:
    fn = get_parser(name)
    assert fn is not None
    out = fn(data)  # type: ignore[arg-type]
    assert isinstance(out["errors"], list)
    json.dumps(out)


_PIECES = st.sampled_from(
    [
        "NVRM: Xid (PCI:0000:a1:00): 79, ",
        "NVRM: Xid (PCI:zz): ",
        "GPU recovery action changed from 0x0 (",
        "[12.5] ",
        "CA 'mlx5_0'\n",
        "\tPort 1:\n",
        "State: Active\n",
        "Rate: x\n",
        "hca_id:\t",
        "port:\t1\n",
        "GID[  3]:\t::ffff:1.2.3.4, RoCE v2\n",
        "state: PORT_ACTIVE (4)\n",
        "phys_state: (\n",
        "link mlx5_0/1 state ACTIVE physical_state LINK_UP netdev\n",
        "/sys/class/infiniband/m/ports/1/state:4: ACTIVE\n",
        "NCCL INFO Channel 00/0 : 0[0] -> 1[1] via ",
        "NET/IB : Using [0]",
        "set by environment to ",
        "P2P is disabled between connected GPUs 1 and ",
        "Error while creating shared memory segment /dev/shm/x (size ",
        "UCX  ERROR ",
        "inter-node cfg#1 am(",
        "NIXL_ERR_",
        "\x1b[31m",
        "\r\n",
        "\n",
        "9" * 30,
    ]
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(PARSERS), pieces=st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=40))
def test_no_exception_on_near_miss_lines(name: str, pieces: list[str]) -> None:
    fn = get_parser(name)
    assert fn is not None
    out = fn("".join(pieces))
    assert isinstance(out["errors"], list)
    json.dumps(out)
