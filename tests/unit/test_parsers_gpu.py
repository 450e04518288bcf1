"""GPU-node parsers (nvidia-smi, topo, nvlink, lspci, /proc/cmdline) on real captures and on garbage.

Real samples live in tests/fixtures/real (sources in its SOURCES.md). Inline samples marked "hand-written"
follow the layout NVIDIA documents / prints and cover cases no public capture was found for.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmd_triage.parsers import get_parser, safe_parse
from llmd_triage.parsers.nvidia_smi import (
    normalise_bus_id,
    parse_nvidia_smi_query_csv,
    parse_nvidia_smi_text,
    parse_nvidia_smi_xml,
)
from llmd_triage.parsers.nvidia_topo import parse_nvidia_topo, parse_nvidia_topo_p2p, parse_nvlink_status
from llmd_triage.parsers.pci import parse_lspci_vvv, parse_proc_cmdline

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real"
GPU_PARSERS = (
    "nvidia_smi_xml",
    "nvidia_smi_text",
    "nvidia_smi_query_csv",
    "nvidia_topo",
    "nvidia_topo_p2p",
    "nvlink_status",
    "lspci_vvv",
    "proc_cmdline",
)
GPU_KEYS = {
    "index",
    "uuid",
    "pci_bus_id",
    "pci_bus_short",
    "name",
    "minor_number",
    "memory_used_mib",
    "memory_total_mib",
    "ecc_mode_current",
    "ecc",
    "retired_pages",
    "remapped_rows",
    "recovery_action",
    "throttle_reasons_active",
    "persistence_mode",
    "mig_mode_current",
    "virtualization_mode",
}
TOP_KEYS = {
    "driver_version",
    "cuda_version",
    "format_version",
    "gpus",
    "gpu_lost",
    "lost_bus_ids",
    "driver_unreachable",
    "errors",
}
NO_ROWS = {"correctable": None, "uncorrectable": None, "pending": None, "failure": None}
NO_ECC = {"volatile": {"sbe": None, "dbe": None}, "aggregate": {"sbe": None, "dbe": None}}


def real(name: str) -> str:
    return (REAL / name).read_text()


# ------------------------------------------------------------------------------------------ nvidia-smi -q -x


def test_xml_p100_aggregate_sbe() -> None:
    out = parse_nvidia_smi_xml(real("nvidia-smi-q-x-tesla-p100-aggregate-sbe.xml"))
    assert set(out) == TOP_KEYS
    assert (out["driver_version"], out["cuda_version"], out["format_version"]) == ("510.47.03", "11.6", "v11")
    assert out["errors"] == [] and out["gpu_lost"] is False and out["lost_bus_ids"] == []
    assert len(out["gpus"]) == 1
    assert out["gpus"][0] == {
        "index": 0,
        "uuid": "GPU-d3da8716-eaab-75db-efc1-60e88e1cd55e",
        "pci_bus_id": "00000000:00:04.0",
        "pci_bus_short": "00:04.0",
        "name": "Tesla P100-PCIE-16GB",
        "minor_number": 0,
        "memory_used_mib": 0,
        "memory_total_mib": 16384,
        "ecc_mode_current": "Enabled",
        "ecc": {"volatile": {"sbe": 0, "dbe": 0}, "aggregate": {"sbe": 3, "dbe": 0}},
        "retired_pages": {"sbe": 0, "dbe": 0, "pending": False},
        "remapped_rows": NO_ROWS,
        "recovery_action": None,
        "throttle_reasons_active": ["gpu_idle"],
        "persistence_mode": "Disabled",
        "mig_mode_current": None,
        "virtualization_mode": "Pass-Through",
    }


def test_xml_a100_v12_mig_and_sram_dram_ecc() -> None:
    out = parse_nvidia_smi_xml(real("nvidia-smi-q-x-a100-sxm4-mig-v12.xml"))
    assert (out["driver_version"], out["cuda_version"], out["format_version"], out["errors"]) == (
        "535.54.03",
        "12.2",
        "v12",
        [],
    )
    [gpu] = out["gpus"]
    assert (gpu["name"], gpu["uuid"], gpu["pci_bus_id"], gpu["minor_number"]) == (
        "NVIDIA A100-SXM4-80GB",
        "GPU-513536b6-7d19-9063-b049-1e69664bb298",
        "00000000:01:00.0",
        1,
    )
    assert gpu["mig_mode_current"] == "Enabled"
    assert (gpu["memory_used_mib"], gpu["memory_total_mib"]) == (50, 81920)  # the GPU's, not a MIG slice's
    assert gpu["ecc"] == {"volatile": {"sbe": 0, "dbe": 0}, "aggregate": {"sbe": 0, "dbe": 0}}
    assert gpu["retired_pages"] == {"sbe": None, "dbe": None, "pending": None}
    assert gpu["remapped_rows"] == NO_ROWS
    assert gpu["throttle_reasons_active"] == []
    assert (gpu["persistence_mode"], gpu["virtualization_mode"], gpu["recovery_action"]) == ("Disabled", "None", None)


def test_xml_truncated_real_v13_keeps_what_was_read() -> None:
    out = parse_nvidia_smi_xml(real("nvidia-smi-q-x-rtx4000-ada-v13-truncated.xml"))
    assert len(out["errors"]) == 1 and "truncated" in out["errors"][0]
    assert (out["driver_version"], out["format_version"]) == ("595.84", "v13")
    [gpu] = out["gpus"]
    assert gpu["recovery_action"] == "None"
    assert gpu["remapped_rows"] == {"correctable": 0, "uncorrectable": 0, "pending": False, "failure": False}
    assert gpu["ecc"] == NO_ECC
    assert gpu["throttle_reasons_active"] == ["gpu_idle"]
    assert (gpu["memory_used_mib"], gpu["memory_total_mib"], gpu["pci_bus_short"]) == (3534, 20475, "06:00.0")


def test_xml_truncated_mid_gpu_list() -> None:
    text = real("nvidia-smi-q-x-tesla-p100-aggregate-sbe.xml")
    cut = text[: text.index("<ecc_errors>")]
    out = parse_nvidia_smi_xml(cut)
    assert out["errors"] and "truncated" in out["errors"][0]
    assert out["gpus"][0]["uuid"] == "GPU-d3da8716-eaab-75db-efc1-60e88e1cd55e"
    assert out["gpus"][0]["ecc"] == NO_ECC


def test_xml_gpu_blocks_without_root() -> None:
    text = real("nvidia-smi-q-x-tesla-p100-aggregate-sbe.xml")
    fragment = text[text.index("<gpu id") : text.index("</nvidia_smi_log>")]
    out = parse_nvidia_smi_xml(fragment)
    assert out["gpus"][0]["ecc"]["aggregate"]["sbe"] == 3
    assert any("no <nvidia_smi_log> root" in e for e in out["errors"])


def test_xml_refuses_entities() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        "<nvidia_smi_log><driver_version>&lol2;</driver_version></nvidia_smi_log>"
    )
    out = parse_nvidia_smi_xml(bomb)
    assert out["gpus"] == [] and out["driver_version"] is None
    assert out["errors"] == ["refused: the XML declares entities (<!ENTITY>), which nvidia-smi never does"]


def test_xml_device_handle_error_before_report() -> None:
    # nvidia-smi prints the lost GPU on stderr and the others as XML; a capture merges both
    xml = real("nvidia-smi-q-x-tesla-p100-aggregate-sbe.xml")
    out = parse_nvidia_smi_xml("Unable to determine the device handle for GPU 0000:3B:00.0: GPU is lost\n" + xml)
    assert out["gpu_lost"] is True and out["lost_bus_ids"] == ["00000000:3B:00.0"]
    assert len(out["gpus"]) == 1 and out["gpus"][0]["ecc"]["aggregate"]["sbe"] == 3


def test_xml_recovery_action_reset_hand_written() -> None:
    # hand-written from the documented nvsmi_device_v12+ element names (gpu_recovery_action, remapped_rows)
    xml = """<?xml version="1.0" ?>
<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v12.dtd">
<nvidia_smi_log><driver_version>570.86.15</driver_version><cuda_version>12.8</cuda_version>
<gpu id="00000000:18:00.0"><product_name>NVIDIA H100 80GB HBM3</product_name><uuid>GPU-a</uuid>
<gpu_recovery_action>Reset</gpu_recovery_action>
<ecc_errors><volatile><sram_correctable>0</sram_correctable><sram_uncorrectable_parity>0</sram_uncorrectable_parity>
<sram_uncorrectable_secded>1</sram_uncorrectable_secded><dram_correctable>7</dram_correctable>
<dram_uncorrectable>2</dram_uncorrectable></volatile></ecc_errors>
<remapped_rows><remapped_row_corr>0</remapped_row_corr><remapped_row_unc>3</remapped_row_unc>
<remapped_row_pending>Yes</remapped_row_pending><remapped_row_failure>No</remapped_row_failure></remapped_rows>
<clocks_event_reasons><clocks_event_reason_hw_thermal_slowdown>Active</clocks_event_reason_hw_thermal_slowdown>
</clocks_event_reasons></gpu>
<gpu id="00000000:2A:00.0"><uuid>GPU-b</uuid><gpu_recovery_action>None</gpu_recovery_action></gpu>
</nvidia_smi_log>"""
    out = parse_nvidia_smi_xml(xml)
    assert out["errors"] == []
    first, second = out["gpus"]
    assert (first["index"], first["recovery_action"], second["index"], second["recovery_action"]) == (
        0,
        "Reset",
        1,
        "None",
    )
    assert first["ecc"] == {"volatile": {"sbe": 7, "dbe": 3}, "aggregate": {"sbe": None, "dbe": None}}
    assert first["remapped_rows"] == {"correctable": 0, "uncorrectable": 3, "pending": True, "failure": False}
    assert first["throttle_reasons_active"] == ["hw_thermal_slowdown"]
    assert (second["pci_bus_id"], second["pci_bus_short"]) == ("00000000:2A:00.0", "2a:00.0")


@pytest.mark.parametrize("parse", [parse_nvidia_smi_xml, parse_nvidia_smi_text])
def test_gpu_lost_from_real_xid79_capture(parse) -> None:  # type: ignore[no-untyped-def]
    out = parse(real("dmesg-T-xid-79-fallen-off-bus-nvidia-smi-unknown-error.txt"))
    assert out["gpu_lost"] is True and out["driver_unreachable"] is False
    assert out["lost_bus_ids"] == ["00000000:A1:00.0"]
    assert out["gpus"] == []
    assert out["errors"] == ["nvidia-smi could not get a handle for GPU 00000000:A1:00.0: Unknown Error"]


@pytest.mark.parametrize("parse", [parse_nvidia_smi_xml, parse_nvidia_smi_text, parse_nvidia_smi_query_csv])
def test_driver_unreachable_real(parse) -> None:  # type: ignore[no-untyped-def]
    out = parse(real("nvidia-smi-failed-communicate-driver-k8s-exec.txt"))
    assert (out["gpu_lost"], out["driver_unreachable"], out["gpus"]) == (True, True, [])
    assert "could not communicate with the NVIDIA driver" in out["errors"][0]
    # the CSV reader also flags kubectl's trailing "command terminated" line as unreadable
    assert out["errors"][1:] in ([], ["unreadable line: command terminated with exit code 9"])


@pytest.mark.parametrize("parse", [parse_nvidia_smi_xml, parse_nvidia_smi_text, parse_nvidia_smi_query_csv])
def test_no_devices_found(parse) -> None:  # type: ignore[no-untyped-def]
    out = parse("No devices were found\n")  # nvidia-smi's documented message, hand-written
    assert out["gpu_lost"] is True and out["gpus"] == [] and "No devices were found" in out["errors"][0]


def test_xml_newer_format_version_is_noted() -> None:
    text = real("nvidia-smi-q-x-tesla-p100-aggregate-sbe.xml").replace("nvsmi_device_v11.dtd", "nvsmi_device_v14.dtd")
    out = parse_nvidia_smi_xml(text)
    assert out["format_version"] == "v14" and out["gpus"][0]["ecc"]["aggregate"]["sbe"] == 3
    assert out["errors"] == ["nvsmi_device_v14.dtd is newer than v13; read the elements it shares"]


def test_xml_garbage_and_wrong_root() -> None:
    assert parse_nvidia_smi_xml("")["errors"] == []
    assert parse_nvidia_smi_xml("hello")["errors"] == ["no nvidia-smi XML found (expected <nvidia_smi_log>)"]
    out = parse_nvidia_smi_xml("<nvidia_smi_log><gpu id='zz'><uuid>u</uuid></gpu>\x00</nvidia_smi_log>")
    assert out["gpus"][0]["uuid"] == "u" and out["gpus"][0]["pci_bus_id"] is None and out["errors"]


# ------------------------------------------------------------------------------------------ nvidia-smi -q


def test_text_rtx4090_two_gpus() -> None:
    out = parse_nvidia_smi_text(real("nvidia-smi-q-rtx4090-535-sw-power-cap.txt"))
    assert set(out) == TOP_KEYS
    assert (out["driver_version"], out["cuda_version"], out["errors"], out["gpu_lost"]) == (
        "535.154.05",
        "12.2",
        [],
        False,
    )
    first, second = out["gpus"]
    assert set(first) == GPU_KEYS
    assert first == {
        "index": 0,
        "uuid": "GPU-370465f5-30e0-6877-b85c-16729f41b90f",
        "pci_bus_id": "00000000:01:00.0",
        "pci_bus_short": "01:00.0",
        "name": "NVIDIA GeForce RTX 4090",
        "minor_number": 3,
        "memory_used_mib": 0,
        "memory_total_mib": 24564,
        "ecc_mode_current": "Disabled",
        "ecc": NO_ECC,
        "retired_pages": {"sbe": None, "dbe": None, "pending": None},
        "remapped_rows": {"correctable": 0, "uncorrectable": 0, "pending": False, "failure": False},
        "recovery_action": None,
        "throttle_reasons_active": ["gpu_idle"],
        "persistence_mode": "Enabled",
        "mig_mode_current": None,
        "virtualization_mode": "None",
    }
    assert (second["index"], second["pci_bus_id"], second["minor_number"]) == (1, "00000000:23:00.0", 2)
    assert second["throttle_reasons_active"] == ["sw_power_cap"]
    assert (second["memory_used_mib"], second["memory_total_mib"]) == (21608, 24564)


OLD_TEXT = """
==============NVSMI LOG==============

Timestamp                           : Tue Mar  5 10:00:00 2019
Driver Version                      : 418.67
CUDA Version                        : 10.1

Attached GPUs                       : 2
GPU 00000000:3B:00.0
    Product Name                    : Tesla V100-SXM2-32GB
    Persistence Mode                : Enabled
    GPU UUID                        : GPU-1111
    GPU Virtualization Mode
        Virtualization Mode         : None
    PCI
        Bus Id                      : 00000000:3B:00.0
    Clocks Throttle Reasons
        Idle                        : Not Active
        HW Slowdown                 : Active
            HW Thermal Slowdown     : Active
            HW Power Brake Slowdown : Not Active
    FB Memory Usage
        Total                       : 32510 MiB
        Used                        : 31000 MiB
        Free                        : 1510 MiB
    ECC Errors
        Volatile
            Single Bit
                Device Memory       : 2
                Register File       : 0
                L1 Cache            : 0
                L2 Cache            : 0
                Texture Memory      : N/A
                Texture Shared      : N/A
                CBU                 : N/A
                Total               : 2
            Double Bit
                Device Memory       : 1
                Register File       : 0
                L1 Cache            : 0
                L2 Cache            : 0
                Texture Memory      : N/A
                Texture Shared      : N/A
                CBU                 : 0
                Total               : 1
        Aggregate
            Single Bit
                Device Memory       : 40
                Total               : 40
            Double Bit
                Device Memory       : 1
    Retired Pages
        Single Bit ECC              : 4
        Double Bit ECC              : 1
        Pending Page Blacklist      : Yes
    Remapped Rows                   : N/A
    GPU Recovery Action             : Reset

GPU 00000000:86:00.0
    Product Name                    : Tesla V100-SXM2-32GB
\tGPU UUID                        : GPU-2222
"""


def test_text_old_layout_hand_written() -> None:
    # hand-written in the layout of pre-Ampere `nvidia-smi -q` (Single/Double Bit sections with Total lines)
    out = parse_nvidia_smi_text(OLD_TEXT)
    assert (out["driver_version"], out["errors"]) == ("418.67", [])
    first, second = out["gpus"]
    assert first["ecc"] == {"volatile": {"sbe": 2, "dbe": 1}, "aggregate": {"sbe": 40, "dbe": 1}}
    assert first["retired_pages"] == {"sbe": 4, "dbe": 1, "pending": True}
    assert first["remapped_rows"] == NO_ROWS
    assert first["recovery_action"] == "Reset"
    assert first["throttle_reasons_active"] == ["hw_slowdown", "hw_thermal_slowdown"]
    assert (first["memory_used_mib"], first["pci_bus_short"]) == (31000, "3b:00.0")
    assert (second["index"], second["uuid"], second["pci_bus_id"]) == (1, "GPU-2222", "00000000:86:00.0")


def test_text_and_xml_agree_on_keys() -> None:
    xml = parse_nvidia_smi_xml(real("nvidia-smi-q-x-tesla-p100-aggregate-sbe.xml"))
    text = parse_nvidia_smi_text(real("nvidia-smi-q-rtx4090-535-sw-power-cap.txt"))
    assert set(xml) == set(text) == TOP_KEYS
    assert set(xml["gpus"][0]) == set(text["gpus"][0]) == GPU_KEYS
    for key in ("ecc", "retired_pages", "remapped_rows"):
        assert xml["gpus"][0][key].keys() == text["gpus"][0][key].keys()


def test_text_not_nvidia_smi() -> None:
    out = parse_nvidia_smi_text("Bonjour\ntout le monde\n")
    assert out["gpus"] == [] and out["errors"][0].startswith("no nvidia-smi -q output recognised")


# ------------------------------------------------------------------------------------------ --query-gpu CSV


def test_query_csv_real_header_by_name() -> None:
    out = parse_nvidia_smi_query_csv(real("nvidia-smi-query-gpu-csv-name-bus-index-uuid.txt"))
    assert out["errors"] == [] and len(out["gpus"]) == 5
    assert out["gpus"][4] == {
        "index": 4,
        "pci_bus_id": None,  # this capture asked for pci.bus, not pci.bus_id
        "pci_bus_short": None,
        "uuid": "GPU-ff3318a7-f0dd-dc57-1fb8-cc95ba35c56e",
        "name": "GeForce GTX 1060 6GB",
    }
    assert [g["index"] for g in out["gpus"]] == [0, 1, 2, 3, 4]


def test_query_csv_with_and_without_header() -> None:
    rows = "0, 00000000:A1:00.0, GPU-aaaa\n1, 00000000:C1:00.0, [N/A]\n"
    with_header = parse_nvidia_smi_query_csv("index, pci.bus_id, uuid\n" + rows)
    without = parse_nvidia_smi_query_csv(rows)
    assert with_header == without
    assert without["gpus"] == [
        {"index": 0, "pci_bus_id": "00000000:A1:00.0", "pci_bus_short": "a1:00.0", "uuid": "GPU-aaaa", "name": None},
        {"index": 1, "pci_bus_id": "00000000:C1:00.0", "pci_bus_short": "c1:00.0", "uuid": None, "name": None},
    ]
    reordered = parse_nvidia_smi_query_csv("uuid, index, pci.bus_id\nGPU-x, 3, 0000:3b:00.0\n")
    assert reordered["gpus"][0]["index"] == 3 and reordered["gpus"][0]["pci_bus_id"] == "00000000:3B:00.0"
    assert parse_nvidia_smi_query_csv("what,is,this\n")["errors"] == ["unreadable line: what,is,this"]


def test_normalise_bus_id_spellings() -> None:
    for spelling in ("00000000:A1:00.0", "0000:a1:00.0", "a1:00.0", "A1:0.0"):
        assert normalise_bus_id(spelling) == ("00000000:A1:00.0", "a1:00.0")
    assert normalise_bus_id("garbage") == (None, None)
    assert normalise_bus_id(None) == (None, None)


# ------------------------------------------------------------------------------------------ topo -m


def test_topo_a100_nv12_17_nics() -> None:
    out = parse_nvidia_topo(real("nvidia-smi-topo-a100-8gpu-nv12-17nic.txt"))
    assert out["errors"] == []
    assert out["gpus"] == [f"GPU{i}" for i in range(8)]
    assert out["nics"] == [f"NIC{i}" for i in range(17)]
    assert len(out["nic_names"]) == 17
    assert out["nic_names"]["NIC0"] == "mlx5_2" and out["nic_names"]["NIC16"] == "mlx5_bond_0"
    assert len(out["nvlink_pairs"]) == 28
    assert all(link == 12 for _, _, link in out["nvlink_pairs"])
    assert out["nvlink_pairs"][0] == ["GPU0", "GPU1", 12]
    assert all(out["matrix"][a][b] == "NV12" for a in out["gpus"] for b in out["gpus"] if a != b)
    assert out["all_gpu_pairs_nvlink"] is True and out["worst_gpu_link"] == "NV12"
    assert set(out["matrix"]) == set(out["gpus"]) | set(out["nics"])
    assert (out["matrix"]["GPU0"]["GPU0"], out["matrix"]["GPU0"]["NIC0"], out["matrix"]["GPU7"]["NIC16"]) == (
        "X",
        "PXB",
        "SYS",
    )
    assert out["matrix"]["NIC0"]["NIC1"] == "PIX" and out["matrix"]["NIC16"]["NIC16"] == "X"
    assert out["cpu_affinity"] == dict.fromkeys(out["gpus"], "0-103")
    assert out["numa_affinity"] == dict.fromkeys(out["gpus"], "0")
    assert out["gpu_numa_id"] == dict.fromkeys(out["gpus"])


def test_topo_a10_all_sys() -> None:
    out = parse_nvidia_topo(real("nvidia-smi-topo-a10-4gpu-sys-only.txt"))
    assert out["errors"] == []
    assert (out["gpus"], out["nics"]) == (["GPU0", "GPU1", "GPU2", "GPU3"], ["NIC0", "NIC1"])
    assert out["nic_names"] == {"NIC0": "mlx5_0", "NIC1": "mlx5_1"}
    assert all(out["matrix"][g][c] == "SYS" for g in out["gpus"] for c in out["gpus"] + out["nics"] if g != c)
    assert out["matrix"]["NIC0"]["NIC1"] == "PIX"
    assert (out["nvlink_pairs"], out["all_gpu_pairs_nvlink"], out["worst_gpu_link"]) == ([], False, "SYS")
    assert out["cpu_affinity"]["GPU3"] == "0-127"


def test_topo_h100_numa_columns_spaces() -> None:
    out = parse_nvidia_topo(real("nvidia-smi-topo-h100-4gpu-nv6-numa-nic-spaces.txt"))
    assert out["errors"] == []
    assert out["nics"] == ["NIC0", "NIC1", "NIC2", "NIC3"] and out["nic_names"] == {}  # NIC legend cut off
    assert out["cpu_affinity"] == {
        "GPU0": "6,14,22,30",
        "GPU1": "4,12,20,28",
        "GPU2": "7,15,23,31",
        "GPU3": "5,13,21,29",
    }
    assert out["numa_affinity"] == {"GPU0": "3", "GPU1": "1", "GPU2": "7", "GPU3": "5"}
    assert out["nvlink_pairs"] == [
        ["GPU0", "GPU1", 6],
        ["GPU0", "GPU2", 6],
        ["GPU0", "GPU3", 6],
        ["GPU1", "GPU2", 6],
        ["GPU1", "GPU3", 6],
        ["GPU2", "GPU3", 6],
    ]
    assert (out["all_gpu_pairs_nvlink"], out["worst_gpu_link"]) == (True, "NV6")
    assert out["matrix"]["GPU2"]["NIC2"] == "PIX" and out["matrix"]["NIC3"]["GPU3"] == "PIX"


def test_topo_h100_nv18_tabs() -> None:
    out = parse_nvidia_topo(real("nvidia-smi-topo-h100-8gpu-nv18-tabs-cut.txt"))
    assert out["errors"] == []
    assert len(out["gpus"]) == 8 and out["nics"] == [f"NIC{i}" for i in range(10)]
    assert len(out["nvlink_pairs"]) == 28 and out["worst_gpu_link"] == "NV18"
    assert out["cpu_affinity"]["GPU0"] == "0-55,112-167" and out["cpu_affinity"]["GPU7"] == "56-111,168-223"
    assert [out["numa_affinity"][g] for g in out["gpus"]] == ["0"] * 4 + ["1"] * 4
    assert set(out["matrix"]) == set(out["gpus"]) | {"NIC0", "NIC1", "NIC2"}  # rows after NIC2 were cut
    assert out["matrix"]["GPU3"]["NIC5"] == "PIX" and out["matrix"]["NIC2"]["GPU2"] == "PIX"


def test_topo_two_5090_phb() -> None:
    out = parse_nvidia_topo(real("nvidia-smi-topo-2x5090-phb-tabs.txt"))
    assert out["errors"] == []
    assert (out["gpus"], out["nics"], out["worst_gpu_link"], out["all_gpu_pairs_nvlink"]) == (
        ["GPU0", "GPU1"],
        [],
        "PHB",
        False,
    )
    assert out["numa_affinity"] == {"GPU0": "0", "GPU1": "0"}


def test_topo_old_layout_hand_written() -> None:
    # hand-written in the pre-NIC-legend layout (HCA named in the header, CPU Affinity only)
    text = (
        "\tGPU0\tGPU1\tGPU2\tmlx5_0\tCPU Affinity\n"
        "GPU0\t X \tNV2\tPHB\tPIX\t0-19\n"
        "GPU1\tNV2\t X \tNV1\tPHB\t0-19\n"
        "GPU2\tPHB\tNV1\t X \tSYS\t20-39\n"
        "mlx5_0\tPIX\tPHB\tSYS\t X \t\n"
    )
    out = parse_nvidia_topo(text)
    assert out["errors"] == []
    assert (out["gpus"], out["nics"], out["nic_names"]) == (["GPU0", "GPU1", "GPU2"], ["mlx5_0"], {"mlx5_0": "mlx5_0"})
    assert out["nvlink_pairs"] == [["GPU0", "GPU1", 2], ["GPU1", "GPU2", 1]]
    assert (out["all_gpu_pairs_nvlink"], out["worst_gpu_link"]) == (False, "PHB")
    assert out["numa_affinity"] == {"GPU0": None, "GPU1": None, "GPU2": None}
    assert out["cpu_affinity"]["GPU2"] == "20-39"
    nv_only = parse_nvidia_topo("\tGPU0\tGPU1\tGPU2\nGPU0\t X \tNV2\tNV1\nGPU1\tNV2\t X \tNV2\nGPU2\tNV1\tNV2\t X \n")
    assert (nv_only["all_gpu_pairs_nvlink"], nv_only["worst_gpu_link"]) == (True, "NV1")
    single = parse_nvidia_topo("\tGPU0\tCPU Affinity\tNUMA Affinity\nGPU0\t X \t0-7\tN/A\n")
    assert (single["worst_gpu_link"], single["all_gpu_pairs_nvlink"], single["numa_affinity"]) == (
        "X",
        False,
        {"GPU0": None},
    )


def test_topo_unknown_cells_and_garbage() -> None:
    out = parse_nvidia_topo("\tGPU0\tGPU1\nGPU0\t X \tWAT\nGPU1\tWAT\t X \n")
    assert out["errors"] == [
        "unknown link type 'WAT' between GPU0 and GPU1",
        "unknown link type 'WAT' between GPU1 and GPU0",
    ]
    assert parse_nvidia_topo("no matrix here")["errors"] == [
        "no topology matrix found (expected a header line starting with GPU0)"
    ]


# ------------------------------------------------------------------------------------------ topo -p2p


def test_p2p_gns_real() -> None:
    out = parse_nvidia_topo_p2p(real("nvidia-smi-topo-p2p-rw-2x5090-gns.txt"))
    assert out == {
        "mode": None,
        "matrix": {"GPU0": {"GPU0": "X", "GPU1": "GNS"}, "GPU1": {"GPU0": "GNS", "GPU1": "X"}},
        "not_ok_pairs": [["GPU0", "GPU1", "GNS"]],
        "all_ok": False,
        "errors": [],
    }


def test_p2p_all_ok_real_with_mode() -> None:
    out = parse_nvidia_topo_p2p(real("nvidia-smi-topo-p2p-p-5gpu-all-ok.txt"))
    assert (out["mode"], out["not_ok_pairs"], out["all_ok"], out["errors"]) == ("p", [], True, [])
    assert len(out["matrix"]) == 5 and out["matrix"]["GPU4"]["GPU0"] == "OK"


def test_p2p_mixed_hand_written() -> None:
    # hand-written in the documented `topo -p2p r` layout: CNS across the two root complexes, DR on one pair
    text = (
        "$ nvidia-smi topo -p2p r\n"
        " \tGPU0\tGPU1\tGPU2\tGPU3\t\n"
        " GPU0\tX\tOK\tCNS\tCNS\t\n"
        " GPU1\tOK\tX\tCNS\tCNS\t\n"
        " GPU2\tCNS\tCNS\tX\tDR\t\n"
        " GPU3\tCNS\tCNS\tOK\tX\t\n"
    )
    out = parse_nvidia_topo_p2p(text)
    assert out["mode"] == "r" and out["errors"] == [] and out["all_ok"] is False
    assert out["not_ok_pairs"] == [
        ["GPU0", "GPU2", "CNS"],
        ["GPU0", "GPU3", "CNS"],
        ["GPU1", "GPU2", "CNS"],
        ["GPU1", "GPU3", "CNS"],
        ["GPU2", "GPU3", "DR"],
    ]
    assert parse_nvidia_topo_p2p(" \tGPU0\t\n GPU0\tX\t\n")["all_ok"] is False
    assert parse_nvidia_topo_p2p(" \tGPU0\tGPU1\n GPU0\tX\tMAYBE\n")["errors"] == [
        "unknown P2P status 'MAYBE' between GPU0 and GPU1"
    ]


# ------------------------------------------------------------------------------------------ nvlink --status


def test_nvlink_a100_all_active_real() -> None:
    out = parse_nvlink_status(real("nvidia-smi-nvlink-status-a100-8gpu-25gbs.txt"))
    assert out["errors"] == [] and out["gpus_with_inactive_links"] == []
    assert [g["index"] for g in out["gpus"]] == list(range(8))
    first = out["gpus"][0]
    assert (first["name"], first["uuid"]) == ("NVIDIA A100-SXM4-80GB", "GPU-5269b708-678a-b1a8-60f0-c90406537486")
    assert first["links"][11] == {"link": 11, "speed_gbps": 25.0, "active": True}
    assert all(g["active_links"] == 12 and g["inactive_links"] == 0 for g in out["gpus"])


def test_nvlink_v100_inactive_real() -> None:
    out = parse_nvlink_status(real("nvidia-smi-nvlink-s-v100-inactive-links.txt"))
    assert out["errors"] == [] and out["gpus_with_inactive_links"] == [3]
    [gpu] = out["gpus"]
    assert (gpu["index"], gpu["name"], gpu["uuid"]) == (3, "Tesla V100-SXM2-32GB", "...")
    assert (gpu["active_links"], gpu["inactive_links"]) == (4, 2)
    assert gpu["links"][0] == {"link": 0, "speed_gbps": 25.781, "active": True}
    assert gpu["links"][3] == {"link": 3, "speed_gbps": None, "active": False}
    assert gpu["links"][5] == {"link": 5, "speed_gbps": None, "active": False}


def test_nvlink_tab_indent_real() -> None:
    out = parse_nvlink_status(real("nvidia-smi-nvlink-status-a100-tab-indent-elided.txt"))
    assert out["errors"] == []
    assert [(g["index"], g["active_links"]) for g in out["gpus"]] == [(0, 12), (1, 12), (2, 1)]


def test_nvlink_h100_hand_written_and_garbage() -> None:
    # hand-written in the documented R535+ layout (H100: 18 links at 26.562 GB/s)
    text = "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-abc)\n" + "".join(
        f"\t Link {i}: {'<inactive>' if i == 17 else '26.562 GB/s'}\n" for i in range(18)
    )
    out = parse_nvlink_status(text)
    assert out["gpus"][0]["active_links"] == 17 and out["gpus"][0]["links"][0]["speed_gbps"] == 26.562
    assert out["gpus_with_inactive_links"] == [0]
    assert parse_nvlink_status("\t Link 0: 25 GB/s\n")["errors"] == ["link line before any GPU line: Link 0: 25 GB/s"]
    assert parse_nvlink_status("hello")["errors"] == ["no 'GPU n: <name> (UUID: ...)' lines found"]


# ------------------------------------------------------------------------------------------ lspci -vvv


def test_lspci_root_port_acsctl_real() -> None:
    out = parse_lspci_vvv(real("lspci-vvv-xe9680-rootport-acsctl.txt"))
    assert out["errors"] == [] and out["device_count"] == 1
    [dev] = out["devices"]
    assert dev == {
        "address": "00:0c.0",
        "class": "PCI bridge",
        "class_code": None,
        "description": "Intel Corporation Device 1bbc (rev 11) (prog-if 00 [Normal decode])",
        "is_bridge": True,
        "is_nvidia": False,
        "acs_cap": {
            "SrcValid": True,
            "TransBlk": True,
            "ReqRedir": False,
            "CmpltRedir": False,
            "UpstreamFwd": True,
            "EgressCtrl": False,
            "DirectTrans": False,
        },
        "acs_ctl": {
            "SrcValid": True,
            "TransBlk": False,
            "ReqRedir": False,
            "CmpltRedir": False,
            "UpstreamFwd": False,
            "EgressCtrl": False,
            "DirectTrans": False,
        },
        "acs_redirect_enabled": True,
        "acs_request_redirect": False,  # SrcValid+ alone validates sources, redirects nothing
        "lnk_cap": {"speed_gts": 8.0, "width": 1},
        "lnk_sta": {"speed_gts": 5.0, "width": 1, "downgraded": True},
        "numa_node": 0,
    }
    assert out["bridges_with_acs_redirect"] == ["00:0c.0"]
    assert out["downtrained_links"] == ["00:0c.0"]
    assert out["nvidia_devices"] == []


def test_lspci_nn_a100_real() -> None:
    out = parse_lspci_vvv(real("lspci-nn-vvv-a100-sxm4-numa5-head.txt"))
    assert out["errors"] == []
    [dev] = out["devices"]
    assert (dev["address"], dev["class"], dev["class_code"], dev["is_nvidia"], dev["is_bridge"]) == (
        "da:00.0",
        "3D controller",
        "0302",
        True,
        False,
    )
    assert dev["numa_node"] == 5
    assert (dev["acs_ctl"], dev["acs_redirect_enabled"], dev["lnk_cap"], dev["lnk_sta"]) == (None, None, None, None)
    assert out["nvidia_devices"] == ["da:00.0"]


LSPCI_SWITCH = """0000:16:00.0 PCI bridge: PLX Technology, Inc. PEX 8747 48-Lane, 5-Port PCI Express Gen 3 (8.0 GT/s) Switch (rev ca)
\tCapabilities: [40] Express (v2) Upstream Port, MSI 00
\t\tLnkCap:\tPort #0, Speed 8GT/s, Width x16, ASPM L1, Exit Latency L1 <4us
\t\tLnkSta:\tSpeed 8GT/s (ok), Width x8 (downgraded)
\tCapabilities: [f24 v1] Access Control Services
\t\tACSCap:\tSrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl+ DirectTrans+
\t\tACSCtl:\tSrcValid- TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd- EgressCtrl- DirectTrans-
0000:17:00.0 PCI bridge: PLX Technology, Inc. PEX 8747 48-Lane, 5-Port PCI Express Gen 3 (8.0 GT/s) Switch (rev ca)
\t\tACSCtl:\tSrcValid- TransBlk- ReqRedir- CmpltRedir- UpstreamFwd- EgressCtrl- DirectTrans-
\t\tLnkCap:\tPort #8, Speed 8GT/s, Width x16, ASPM L1, Exit Latency L1 <4us
\t\tLnkSta:\tSpeed 2.5GT/s, Width x16
0000:18:00.0 3D controller: NVIDIA Corporation GA102GL [A10] (rev a1)
\tNUMA node: 0
\tCapabilities: <access denied>
not an lspci line
"""


def test_lspci_switch_redirect_hand_written() -> None:
    # hand-written in the documented lspci -vvv layout: PLX switch ports with ReqRedir+/CmpltRedir+ (vllm#51513)
    out = parse_lspci_vvv(LSPCI_SWITCH)
    assert [d["address"] for d in out["devices"]] == ["0000:16:00.0", "0000:17:00.0", "0000:18:00.0"]
    up, down, gpu = out["devices"]
    assert up["acs_redirect_enabled"] is True and down["acs_redirect_enabled"] is False
    assert up["lnk_sta"] == {"speed_gts": 8.0, "width": 8, "downgraded": True}
    assert down["lnk_sta"] == {"speed_gts": 2.5, "width": 16, "downgraded": True}  # below LnkCap, no marker
    assert gpu["is_nvidia"] and gpu["acs_ctl"] is None and gpu["numa_node"] == 0
    assert out["bridges_with_acs_redirect"] == ["0000:16:00.0"]
    assert out["downtrained_links"] == ["0000:16:00.0", "0000:17:00.0"]
    assert out["errors"] == [
        "unreadable line: not an lspci line",
        "lspci could not read some capabilities ('<access denied>'): run it as root for ACS and link state",
    ]


# ------------------------------------------------------------------------------------------ /proc/cmdline


def test_proc_cmdline_real_iommu_pt() -> None:
    out = parse_proc_cmdline(real("proc-cmdline-iommu-pt-ubuntu.txt"))
    assert out == {
        "args": {
            "BOOT_IMAGE": "/vmlinuz-5.15.0-101-generic",
            "root": "/dev/mapper/ubuntu--vg-ubuntu--lv",
            "ro": True,
            "iommu": "pt",
        },
        "iommu": {"intel_iommu": None, "amd_iommu": None, "iommu": "pt"},
        "iommu_passthrough": True,
        "errors": [],
    }


def test_proc_cmdline_variants() -> None:
    out = parse_proc_cmdline('BOOT_IMAGE=/b quiet intel_iommu=on amd_iommu acpi="a b" intel_iommu=off\n')
    assert out["iommu"] == {"intel_iommu": "off", "amd_iommu": "", "iommu": None}
    assert out["args"]["acpi"] == "a b" and out["iommu_passthrough"] is False
    assert parse_proc_cmdline("iommu.passthrough=1")["iommu_passthrough"] is True
    broken = parse_proc_cmdline('root=/x foo="unclosed iommu=pt')
    assert broken["iommu_passthrough"] is True and broken["errors"] == ["unbalanced quotes; split on spaces instead"]
    two = parse_proc_cmdline("a=1\nb=2\n")
    assert two["args"] == {"a": "1"} and two["errors"] == ["expected one line, got 2; read the first"]
    assert parse_proc_cmdline("")["errors"] == []


# ------------------------------------------------------------------------------------------ robustness


def test_all_registered() -> None:
    for name in GPU_PARSERS:
        assert get_parser(name) is not None, name


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=3000))
def test_gpu_parsers_never_raise_on_text(text: str) -> None:
    for name in GPU_PARSERS:
        fn = get_parser(name)
        assert fn is not None
        out = fn(text)  # called directly: a raise here is a bug, safe_parse would hide it
        assert isinstance(out["errors"], list)
        json.dumps(out)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000).map(lambda b: b.decode("utf-8", "replace")))
def test_gpu_parsers_never_raise_on_bytes(text: str) -> None:
    for name in GPU_PARSERS:
        fn = get_parser(name)
        assert fn is not None
        out = fn(text)
        assert isinstance(out["errors"], list)
        json.dumps(out)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=40_000))
def test_xml_and_text_never_raise_on_any_cut(at: int) -> None:
    xml = real("nvidia-smi-q-x-a100-sxm4-mig-v12.xml")
    text = real("nvidia-smi-q-rtx4090-535-sw-power-cap.txt")
    assert isinstance(parse_nvidia_smi_xml(xml[:at])["gpus"], list)
    assert isinstance(parse_nvidia_smi_text(text[:at])["gpus"], list)
    assert isinstance(parse_lspci_vvv(real("lspci-vvv-xe9680-rootport-acsctl.txt")[:at])["devices"], list)


@pytest.mark.parametrize(
    ("name", "sample"),
    [
        ("lspci_vvv", "lspci-vvv-xe9680-rootport-acsctl.txt"),
        ("nvidia_smi_text", "nvidia-smi-q-rtx4090-535-sw-power-cap.txt"),
        ("nvidia_smi_text", "dmesg-T-xid-79-fallen-off-bus-nvidia-smi-unknown-error.txt"),
        ("nvidia_smi_xml", "dmesg-T-xid-79-fallen-off-bus-nvidia-smi-unknown-error.txt"),
        ("nvidia_topo", "dmesg-T-xid-79-fallen-off-bus-nvidia-smi-unknown-error.txt"),
        ("nvlink_status", "nvidia-smi-nvlink-status-a100-8gpu-25gbs.txt"),
    ],
)
def test_twenty_megabytes_parse_in_bounded_time(name: str, sample: str) -> None:
    block = real(sample) + "\n"
    big = block * (20_000_000 // len(block) + 1)
    started = time.monotonic()
    out = safe_parse(name, big)
    assert time.monotonic() - started < 30  # a guard against quadratic behaviour, not a benchmark
    assert isinstance(out["errors"], list) and not any(e.startswith(f"parser {name} failed") for e in out["errors"])


def test_bus_ids_from_every_spelling_meet_and_keep_non_zero_domains() -> None:
    from llmd_triage.parsers.nvidia_smi import normalise_bus_id

    assert normalise_bus_id("0000:a1:00") == ("00000000:A1:00.0", "a1:00.0")  # kernel
    assert normalise_bus_id("00000000:A1:00.0") == ("00000000:A1:00.0", "a1:00.0")  # nvidia-smi
    assert normalise_bus_id("a1:00.0") == ("00000000:A1:00.0", "a1:00.0")  # lspci
    # GB200: two GPUs differing only by domain must stay apart
    assert normalise_bus_id("0008:01:00") == ("00000008:01:00.0", "0008:01:00.0")
    assert normalise_bus_id("0009:01:00.0")[1] == "0009:01:00.0"
    assert normalise_bus_id("garbage") == (None, None)
