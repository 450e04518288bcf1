"""vLLM server logs: the signals the OOM and model-load trees branch on (DOMAIN.md §3, §6).

Each signal keeps the first match's numbers and the line it came from, so a report can quote it.
Patterns come from vLLM's own source (vllm/v1/worker/utils.py, v1/core/kv_cache_utils.py) and
the messages PyTorch prints for a CUDA OOM.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

from llmd_triage.parsers import parser

_FREE_MEM = re.compile(
    r"Free memory on device (\S+) \(([\d.]+)/([\d.]+) GiB\) on startup is less than desired GPU memory "
    r"utilization \(([\d.]+), ([\d.]+) GiB\)"
)
_NO_BLOCKS = re.compile(r"No available memory for the cache blocks")
_MAX_LEN = re.compile(
    r"To serve at least one request with the models?'s max seq len \((\d+)\), \(([\d.]+) GiB KV cache is "
    r"needed, which is larger than the available KV cache memory \(([\d.]+) GiB\)\.(?: Based on the available "
    r"memory, the estimated maximum model length is (\d+)\.)?"
)
_MAX_LEN_V0 = re.compile(
    r"The model's max seq len \((\d+)\) is larger than the maximum number of tokens that can be stored in "
    r"KV cache \((\d+)\)"
)
_CUDA_OOM = re.compile(
    r"OutOfMemoryError: CUDA out of memory\. Tried to allocate ([\d.]+ [KMGT]iB)\. GPU (\d+) has a total "
    r"capac(?:i)?ty of ([\d.]+ [KMGT]iB) of which ([\d.]+ [KMGT]iB) is free"
)
_NCCL_SHM = re.compile(r"NCCL WARN Error while creating shared memory segment (/dev/shm/\S+) \(size (\d+)\)")
_PREEMPT = re.compile(r"preempted by PreemptionMode\.\w+ mode because there is not enough KV cache space")
_KV_AVAILABLE = re.compile(r"Available KV cache memory: ([\d.]+) GiB")
_KV_TOKENS = re.compile(r"GPU KV cache size: ([\d,]+) tokens")
_CONCURRENCY = re.compile(r"Maximum concurrency for ([\d,]+) tokens per request: ([\d.]+)x")
_KV_USAGE = re.compile(r"GPU KV cache usage: ([\d.]+)%")
_WEIGHTS = re.compile(r"Loading weights took ([\d.]+) seconds")
_MODEL_LOAD = re.compile(r"Model loading took ([\d.]+) GiB(?: memory)? and ([\d.]+) seconds")
_SHARDS = re.compile(
    r"Loading safetensors checkpoint shards:\s+(\d+)% Completed \| (\d+)/(\d+) "
    r"\[([\d:]+)<[\d:?]+,\s+([\d.?]+)(s/it|it/s)\]"
)
_INIT_ENGINE = re.compile(r"init engine \(profile, create kv cache, warmup model\) took ([\d.]+) seconds")
_COMPILE = re.compile(r"torch\.compile (?:takes|took) ([\d.]+) s in total")
_DOWNLOAD_TIME = re.compile(r"Time spent downloading weights for (\S+): ([\d.]+) seconds")
_CHECKPOINT = re.compile(
    r"Filesystem type for checkpoints: (\S+)\. Checkpoint size: ([\d.]+) GiB\. Available RAM: ([\d.]+) GiB"
)
_GRAPHS = re.compile(r"Graph capturing finished in ([\d.]+) secs?")
_DOWNLOAD = re.compile(r"(?:Fetching (\d+) files|\.safetensors:\s+\d+%\||Downloading shards:)")
_ALLREDUCE_OFF = re.compile(r"Custom allreduce is disabled because")
_READY = re.compile(r"Starting vLLM API server|Application startup complete")
_STAMP = re.compile(r"(?:INFO|WARNING|ERROR|DEBUG|CRITICAL) (\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)")
_VERSION = re.compile(r"vLLM API server version (\S+)|Starting vLLM API server \S* ?on .*version (\S+)")

MAX_EVIDENCE = 20


def _num(text: str) -> float:
    return float(text.replace(",", ""))


def _gib(text: str) -> float:
    value, unit = text.split()
    factor = {"KiB": 1 / 1024 / 1024, "MiB": 1 / 1024, "GiB": 1.0, "TiB": 1024.0}[unit]
    return round(float(value) * factor, 4)


@parser("vllm")
def parse_vllm_log(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "lines": 0,
        "version": None,
        "free_memory_low": None,
        "no_cache_blocks": False,
        "max_len_too_large": None,
        "cuda_oom": None,
        "nccl_shm_failure": None,
        "preemptions": 0,
        "kv_cache": {
            "available_gib": None,
            "tokens": None,
            "max_concurrency": None,
            "tokens_per_request": None,
        },
        "kv_usage_percent": {"last": None, "max": None},
        "weights_load_seconds": None,
        "model_load": None,
        "shards": None,
        "init_engine_seconds": None,
        "torch_compile_seconds": None,
        "cuda_graph_seconds": None,
        "download": {"seen": False, "files": None, "lines": 0, "seconds": None},
        "checkpoint": {"filesystem": None, "gib": None, "available_ram_gib": None},
        "custom_allreduce_disabled": False,
        "timeline": {"first": None, "last": None, "ready": None, "startup_seconds": None, "ready_seconds": None},
        "evidence": [],
        "errors": [],
    }
    evidence: list[dict[str, Any]] = out["evidence"]

    def note(no: int, line: str, signal: str) -> None:
        if len(evidence) < MAX_EVIDENCE:
            evidence.append({"line": no, "signal": signal, "text": line.strip()[:500]})

    stamps: dict[str, dt.datetime | None] = {"first": None, "last": None, "ready": None}
    # StringIO iterates lazily: a 50 MB log never becomes a list of a million strings
    for no, raw in enumerate(io.StringIO(text), 1):
        line = raw.rstrip("\r\n")
        out["lines"] = no
        if len(line) > 20_000:  # a binary blob or a runaway line: skip, do not regex it
            continue
        if m := _STAMP.search(line[:80]):
            when = _when(m)
            if when is not None:
                stamps["first"] = stamps["first"] or when
                stamps["last"] = when
                if stamps["ready"] is None and _READY.search(line):
                    stamps["ready"] = when
        for m in _SHARDS.finditer(line):  # tqdm may redraw several frames on one line
            rate = None if m.group(5) == "?" else _num(m.group(5))
            per_shard = rate if m.group(6) == "s/it" or not rate else round(1 / rate, 4)
            out["shards"] = {
                "percent": int(m.group(1)),
                "done": int(m.group(2)),
                "total": int(m.group(3)),
                "elapsed": m.group(4),
                "elapsed_seconds": _clock(m.group(4)),
                "seconds_per_shard": per_shard,
            }
        if m := _INIT_ENGINE.search(line):
            out["init_engine_seconds"] = _num(m.group(1))
            note(no, line, "init_engine")
        if m := _COMPILE.search(line):
            out["torch_compile_seconds"] = _num(m.group(1))
            note(no, line, "torch_compile")
        if m := _DOWNLOAD_TIME.search(line):
            out["download"]["seen"] = True
            out["download"]["seconds"] = _num(m.group(2))
            note(no, line, "download_time")
        if m := _CHECKPOINT.search(line):
            out["checkpoint"] = {
                "filesystem": m.group(1),
                "gib": _num(m.group(2)),
                "available_ram_gib": _num(m.group(3)),
            }
            note(no, line, "checkpoint")
        if m := _GRAPHS.search(line):
            out["cuda_graph_seconds"] = _num(m.group(1))
        if m := _DOWNLOAD.search(line):
            out["download"]["seen"] = True
            out["download"]["lines"] += 1
            if m.group(1):
                out["download"]["files"] = int(m.group(1))
        if not out["custom_allreduce_disabled"] and _ALLREDUCE_OFF.search(line):
            out["custom_allreduce_disabled"] = True
            note(no, line, "custom_allreduce_disabled")
        if out["version"] is None and (m := _VERSION.search(line)):
            out["version"] = m.group(1) or m.group(2)
        if out["free_memory_low"] is None and (m := _FREE_MEM.search(line)):
            out["free_memory_low"] = {
                "device": m.group(1),
                "free_gib": _num(m.group(2)),
                "total_gib": _num(m.group(3)),
                "utilization": _num(m.group(4)),
                "desired_gib": _num(m.group(5)),
            }
            note(no, line, "free_memory_low")
        if not out["no_cache_blocks"] and _NO_BLOCKS.search(line):
            out["no_cache_blocks"] = True
            note(no, line, "no_cache_blocks")
        if out["max_len_too_large"] is None and (m := _MAX_LEN.search(line)):
            out["max_len_too_large"] = {
                "max_seq_len": int(m.group(1)),
                "needed_gib": _num(m.group(2)),
                "available_gib": _num(m.group(3)),
                "estimated_max_len": int(m.group(4)) if m.group(4) else None,
            }
            note(no, line, "max_len_too_large")
        elif out["max_len_too_large"] is None and (m := _MAX_LEN_V0.search(line)):
            out["max_len_too_large"] = {
                "max_seq_len": int(m.group(1)),
                "needed_gib": None,
                "available_gib": None,
                "estimated_max_len": int(m.group(2)),
            }
            note(no, line, "max_len_too_large")
        if out["cuda_oom"] is None and (m := _CUDA_OOM.search(line)):
            out["cuda_oom"] = {
                "tried_gib": _gib(m.group(1)),
                "gpu": int(m.group(2)),
                "total_gib": _gib(m.group(3)),
                "free_gib": _gib(m.group(4)),
            }
            note(no, line, "cuda_oom")
        if out["nccl_shm_failure"] is None and (m := _NCCL_SHM.search(line)):
            out["nccl_shm_failure"] = {
                "segment": m.group(1),
                "size": int(m.group(2)),
                "no_space": "No space left on device" in line,
            }
            note(no, line, "nccl_shm_failure")
        if _PREEMPT.search(line):
            out["preemptions"] += 1
            if out["preemptions"] == 1:
                note(no, line, "preemption")
        if m := _KV_AVAILABLE.search(line):
            out["kv_cache"]["available_gib"] = _num(m.group(1))
        if m := _KV_TOKENS.search(line):
            out["kv_cache"]["tokens"] = int(_num(m.group(1)))
        if m := _CONCURRENCY.search(line):
            out["kv_cache"]["tokens_per_request"] = int(_num(m.group(1)))
            out["kv_cache"]["max_concurrency"] = _num(m.group(2))
        if m := _KV_USAGE.search(line):
            value = _num(m.group(1))
            usage = out["kv_usage_percent"]
            usage["last"] = value
            usage["max"] = value if usage["max"] is None else max(usage["max"], value)
        if out["weights_load_seconds"] is None and (m := _WEIGHTS.search(line)):
            out["weights_load_seconds"] = _num(m.group(1))
            note(no, line, "weights_loaded")
        if out["model_load"] is None and (m := _MODEL_LOAD.search(line)):
            out["model_load"] = {"gib": _num(m.group(1)), "seconds": _num(m.group(2))}
    tl = out["timeline"]
    for key in ("first", "last", "ready"):
        tl[key] = stamps[key].strftime("%m-%d %H:%M:%S") if stamps[key] else None
    if stamps["first"] and stamps["last"]:
        tl["startup_seconds"] = _span(stamps["first"], stamps["last"])
    if stamps["first"] and stamps["ready"]:
        tl["ready_seconds"] = _span(stamps["first"], stamps["ready"])
    return out


def _clock(text: str) -> int:
    """tqdm's elapsed "MM:SS" or "H:MM:SS" in seconds."""
    total = 0
    for part in text.split(":"):
        total = total * 60 + int(part or 0)
    return total


def _when(m: re.Match[str]) -> dt.datetime | None:
    """vLLM stamps carry no year; a leap year keeps 02-29 valid, and spans are what matters."""
    try:
        return dt.datetime(2024, int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)))
    except ValueError:
        return None


def _span(a: dt.datetime, b: dt.datetime) -> float:
    seconds = (b - a).total_seconds()
    return seconds if seconds >= 0 else seconds + 366 * 86400  # the log crossed new year
