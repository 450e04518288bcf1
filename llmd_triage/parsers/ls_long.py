"""`ls -la DIR` listings, classified for /dev/shm: NCCL segments and vLLM offload regions are the
files that fill a memory-backed /dev/shm (llm-d#352, vllm#54002)."""

from __future__ import annotations

import re
from typing import Any

from llmd_triage.parsers import parser

_ENTRY = re.compile(r"^([-dlcbps])[-rwxsStT.+@]{9}\S*\s+\d+\s+\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+\S+\s+(.+)$")


@parser("ls_long")
def parse_ls_long(text: str) -> dict[str, Any]:
    files: list[dict[str, Any]] = []
    errors: list[str] = []
    for line in text.splitlines():
        line = line.rstrip()
        if not line or line.startswith("total "):
            continue
        m = _ENTRY.match(line)
        if not m:
            if len(errors) < 5:
                errors.append(f"unreadable line: {line[:120]}")
            continue
        kind, size, name = m.group(1), int(m.group(2)), m.group(3)
        if name in (".", "..") or kind == "d":
            continue
        files.append({"name": name, "size": size})
    nccl = [f for f in files if f["name"].startswith("nccl-")]
    offload = [f for f in files if f["name"].startswith("vllm_offload")]
    return {
        "files": files[:200],
        "count": len(files),
        "total_bytes": sum(f["size"] for f in files),
        "nccl_count": len(nccl),
        "nccl_bytes": sum(f["size"] for f in nccl),
        "offload_count": len(offload),
        "offload_bytes": sum(f["size"] for f in offload),
        "errors": errors,
    }
