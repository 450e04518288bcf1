"""Parsers on real vLLM output (tests/fixtures/real, sources in SOURCES.md) and on garbage."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from llmd_triage.parsers import parser_names, safe_parse
from llmd_triage.parsers.ls_long import parse_ls_long
from llmd_triage.parsers.pod_status import termination
from llmd_triage.parsers.quantity import parse_quantity
from llmd_triage.parsers.vllm_log import parse_vllm_log

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real"


def test_real_no_available_memory_log() -> None:
    out = parse_vllm_log((REAL / "vllm-v1-no-available-memory-kv-cache-h100.txt").read_text())
    assert out["no_cache_blocks"] is True
    assert out["cuda_oom"] is None and out["max_len_too_large"] is None
    assert out["evidence"][0]["signal"] == "no_cache_blocks"
    assert out["evidence"][0]["line"] == 7
    assert out["errors"] == []


def test_real_loading_times_log() -> None:
    out = parse_vllm_log((REAL / "vllm-v1-log-loading-weights-took-tp8-ep.txt").read_text())
    assert out["weights_load_seconds"] == 145.32
    assert out["model_load"] == {"gib": 51.3655, "seconds": 146.797333}


def test_real_engine_stats_kv_usage() -> None:
    out = parse_vllm_log((REAL / "vllm-v1-loggers-engine-stats-waiting-queue.txt").read_text())
    assert out["kv_usage_percent"] == {"last": 65.4, "max": 65.4}
    assert out["preemptions"] == 0


def test_max_len_message_current_and_v0_forms() -> None:
    cur = (
        "ValueError: To serve at least one request with the models's max seq len (131072), (18.0 GiB KV cache "
        "is needed, which is larger than the available KV cache memory (4.12 GiB). Based on the available "
        "memory, the estimated maximum model length is 29984. Try increasing"
    )
    assert parse_vllm_log(cur)["max_len_too_large"] == {
        "max_seq_len": 131072,
        "needed_gib": 18.0,
        "available_gib": 4.12,
        "estimated_max_len": 29984,
    }
    v0 = (
        "ValueError: The model's max seq len (32768) is larger than the maximum number of tokens that can be "
        "stored in KV cache (21456). Try increasing `gpu_memory_utilization`"
    )
    assert parse_vllm_log(v0)["max_len_too_large"]["estimated_max_len"] == 21456


def test_cuda_oom_units() -> None:
    line = (
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 512.00 MiB. GPU 3 has a total capacity "
        "of 79.19 GiB of which 300.00 MiB is free."
    )
    assert parse_vllm_log(line)["cuda_oom"] == {"tried_gib": 0.5, "gpu": 3, "total_gib": 79.19, "free_gib": 0.293}


def test_ls_long_classifies_shm_files() -> None:
    out = parse_ls_long(
        "total 8\n"
        "drwxrwxrwt 2 root root 80 Nov 20 03:02 .\n"
        "-rw------- 1 root root 100 Nov 20 00:14 nccl-3BpXq1\n"
        "-rw------- 1 root root  50 Nov 20 00:14 vllm_offload_0.mmap\n"
        "-rw-r--r-- 1 root root   7 Nov 20 00:14 other file\n"
        "garbage\n"
    )
    assert (out["count"], out["nccl_count"], out["nccl_bytes"], out["offload_count"]) == (3, 1, 100, 1)
    assert out["files"][2] == {"name": "other file", "size": 7}
    assert out["errors"] == ["unreadable line: garbage"]


def test_quantities() -> None:
    assert parse_quantity("64Gi") == 64 * 1024**3
    assert parse_quantity("100M") == 100e6
    assert parse_quantity("250m") == 0.25
    assert parse_quantity("1.5e3") == 1500
    assert parse_quantity("lots") is None
    assert parse_quantity(None) is None


def test_termination_picks_model_server_and_reads_shm() -> None:
    pod = {
        "spec": {
            "containers": [
                {"name": "sidecar"},
                {
                    "name": "vllm",
                    "resources": {"limits": {"memory": "1Gi"}},
                    "volumeMounts": [{"name": "d", "mountPath": "/dev/shm"}],
                },
            ],
            "volumes": [{"name": "d", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}}],
        },
        "status": {
            "containerStatuses": [
                {"name": "sidecar", "lastState": {"terminated": {"reason": "Error", "exitCode": 2}}},
                {
                    "name": "vllm",
                    "restartCount": 2,
                    "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
                },
            ]
        },
    }
    t = termination(pod)
    assert (t["container"], t["reason"], t["exit_code"], t["signal"], t["restart_count"]) == (
        "vllm",
        "OOMKilled",
        137,
        9,
        2,
    )
    assert t["memory_limit_bytes"] == 1024**3
    assert t["shm"]["medium_memory"] is True and t["shm"]["size_limit_bytes"] == 2 * 1024**3
    assert termination(pod, "sidecar")["reason"] == "Error"
    assert termination({})["container"] is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_parsers_never_raise_on_arbitrary_text(text: str) -> None:
    for name in parser_names():
        out = safe_parse(name, text)
        assert isinstance(out, dict) and isinstance(out.get("errors", []), list)


def test_load_timeline_signals() -> None:
    log = "\n".join(
        [
            "INFO 11-20 03:01:52 [__init__.py:216] Automatically detected platform cuda.",
            "(Worker_TP0 pid=131) Loading safetensors checkpoint shards:   0% Completed | 0/17 [00:00<?, ?it/s]"
            "Loading safetensors checkpoint shards:  47% Completed | 8/17 [03:10<03:35, 23.91s/it]",
            "(Worker_TP0 pid=131) Loading safetensors checkpoint shards: 100% Completed | 17/17 [06:41<00:00, 23.58s/it]",
            "(Worker_TP0 pid=131) INFO 11-20 03:09:01 [backends.py:215] torch.compile takes 41.3 s in total",
            "(Worker_TP0 pid=131) INFO 11-20 03:09:40 [gpu_model_runner.py:3338] Graph capturing finished in 12 secs",
            "(EngineCore_DP0 pid=97) INFO 11-20 03:09:58 [core.py:210] init engine (profile, create kv cache, warmup model) took 42.61 seconds",
            "(Worker_TP0 pid=131) INFO 11-20 03:09:58 [custom_all_reduce.py:60] Custom allreduce is disabled because your platform lacks GPU P2P capability or P2P test failed.",
            "(APIServer pid=1) INFO 11-20 03:10:02 [api_server.py:1634] Starting vLLM API server 0 on http://0.0.0.0:8000",
        ]
    )
    out = parse_vllm_log(log)
    assert out["shards"] == {
        "percent": 100,
        "done": 17,
        "total": 17,
        "elapsed": "06:41",
        "elapsed_seconds": 401,
        "seconds_per_shard": 23.58,
    }
    assert (out["torch_compile_seconds"], out["cuda_graph_seconds"], out["init_engine_seconds"]) == (41.3, 12.0, 42.61)
    assert out["custom_allreduce_disabled"] is True
    assert out["timeline"] == {
        "first": "11-20 03:01:52",
        "last": "11-20 03:10:02",
        "ready": "11-20 03:10:02",
        "startup_seconds": 490.0,
        "ready_seconds": 490.0,
    }
    fast = parse_vllm_log("Loading safetensors checkpoint shards: 100% Completed | 1/1 [00:00<00:00,  5.10it/s]")
    assert fast["shards"]["seconds_per_shard"] == 0.1961


def test_fifty_megabyte_log_streams() -> None:
    line = "(APIServer pid=1) INFO 11-20 03:09:48 [loggers.py:127] Engine 000: Running: 31 reqs, GPU KV cache usage: 41.2%\n"
    text = line * (50 * 1024 * 1024 // len(line))
    out = parse_vllm_log(text)
    assert out["lines"] == text.count("\n")
    assert len(out["evidence"]) <= 20 and out["kv_usage_percent"]["max"] == 41.2


def test_current_vllm_load_lines() -> None:
    log = "\n".join(
        [
            "(Worker pid=9) INFO 11-20 03:00:10 [weight_utils.py:422] Time spent downloading weights for Qwen/Qwen3-32B: 212.447 seconds",
            "(Worker pid=9) INFO 11-20 03:03:50 [default_loader.py:262] Filesystem type for checkpoints: NFS4. Checkpoint size: 61.04 GiB. Available RAM: 1842.11 GiB",
            "(Worker pid=9) INFO 11-20 03:05:31 [monitor.py:34] torch.compile took 37.21 s in total",
        ]
    )
    out = parse_vllm_log(log)
    assert out["download"] == {"seen": True, "files": None, "lines": 0, "seconds": 212.447}
    assert out["checkpoint"] == {"filesystem": "NFS4", "gib": 61.04, "available_ram_gib": 1842.11}
    assert out["torch_compile_seconds"] == 37.21
    assert [e["signal"] for e in out["evidence"]] == ["download_time", "checkpoint", "torch_compile"]
