"""What a grep over the kubectl runbook's output (bench/baseline.sh OUTDIR) flags, for bench/scan.py.

The rules are the ones a runbook gives an SRE to spot each kind of fault, applied to what the
script saved; each flags a target (a pod or a node):

| rule | where | flags |
|---|---|---|
| lastState OOMKilled | pods.json | the pod |
| startup probe failures | events.json: `Startup probe failed`, `failed startup probe` | the pod |
| dmesg NVRM: Xid | node/NODE.dmesg: `NVRM: Xid` or `fallen off the bus` | the node |
| nvidia-smi cannot reach a GPU | node/NODE.nvidia-smi.xml: `Unable to determine the device handle` | the node |
| ibstat State: Down | node/NODE.ibstat | the node |

A flagged target counts toward an injected fault when it is the fault's own target (a pod) or its
node; any other flagged target is a false finding. `nvidia-smi topo -m` has no such rule: it does not
show ACS, so the P2P fault stays unseen. A flag only says where to look: the cause and the fix are
still the SRE's to read out of the files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_PROBE = re.compile(r"Startup probe failed|failed startup probe")


def flags(out: Path) -> dict[str, set[str]]:
    """target ('pod/NAME' or 'node/NAME') -> the rules that flagged it."""
    out = Path(out)
    found: dict[str, set[str]] = {}

    def flag(target: str, rule: str) -> None:
        found.setdefault(target, set()).add(rule)

    pods = json.loads((out / "pods.json").read_text())["items"]
    for p in pods:
        for s in (p.get("status") or {}).get("containerStatuses") or []:
            if ((s.get("lastState") or {}).get("terminated") or {}).get("reason") == "OOMKilled":
                flag(f"pod/{p['metadata']['name']}", "lastState OOMKilled")
    events = json.loads((out / "events.json").read_text())["items"]
    for e in events:
        inv = e.get("involvedObject") or {}
        if inv.get("kind") == "Pod" and _PROBE.search(str(e.get("message") or "")):
            flag(f"pod/{inv.get('name')}", "startup probe failures")
    for f in sorted((out / "node").glob("*")):
        node, _, what = f.name.partition(".")
        text = f.read_text(errors="replace")
        if what == "dmesg" and ("NVRM: Xid" in text or "fallen off the bus" in text):
            flag(f"node/{node}", "dmesg NVRM: Xid")
        elif what == "nvidia-smi.xml" and "Unable to determine the device handle" in text:
            flag(f"node/{node}", "nvidia-smi cannot reach a GPU")
        elif what == "ibstat" and re.search(r"State:\s+Down", text):
            flag(f"node/{node}", "ibstat State: Down")
    return found


def score(out: Path, manifest: dict[str, Any]) -> tuple[int, int, list[str]]:
    """(injected faults flagged, false flags, the false targets) for the runbook's output in `out`."""
    flagged = flags(out)
    hit: set[str] = set()
    matched: set[str] = set()
    for fault in manifest["faults"]:
        targets = {e["target"] for e in fault["expect"]} | {f"node/{fault['node']}"}
        if fault.get("runbook") is None:
            continue
        for t in targets:
            if t in flagged:
                hit.add(fault["id"])
                matched.add(t)
    false = sorted(t for t in flagged if t not in matched)
    return len(hit), len(false), false
