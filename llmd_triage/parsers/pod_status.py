"""A pod object -> the facts about how its container last ended, as flat data.

Why flat: conditions then read `term.reason == "OOMKilled"` instead of repeating
`pod.status.containerStatuses.exists(...)` with `has()` guards in every tree.
"""

from __future__ import annotations

from typing import Any

from llmd_triage.parsers.quantity import parse_quantity

PREFERRED_CONTAINERS = ("vllm", "model-server", "main")


def _terminated(status: dict[str, Any]) -> dict[str, Any] | None:
    for key in ("state", "lastState"):
        term = (status.get(key) or {}).get("terminated")
        if term:
            return term
    return None


def pick_container(pod: dict[str, Any], wanted: str | None = None) -> str | None:
    """The container a triage is about: the named one, else a terminated model server, else the most recent end."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    names = [s.get("name") for s in statuses]
    if wanted:
        return wanted
    ended = [s for s in statuses if _terminated(s)]
    for name in PREFERRED_CONTAINERS:
        if any(s.get("name") == name for s in ended):
            return name
    if ended:
        return max(ended, key=lambda s: str(_terminated(s).get("finishedAt") or "")).get("name")  # type: ignore[union-attr]
    spec_names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    for name in PREFERRED_CONTAINERS:
        if name in spec_names or name in names:
            return name
    return spec_names[0] if spec_names else (names[0] if names else None)


def termination(pod: dict[str, Any], container: str | None = None) -> dict[str, Any]:
    status = pod.get("status") or {}
    spec = pod.get("spec") or {}
    name = pick_container(pod, container)
    cstatus = next((s for s in status.get("containerStatuses") or [] if s.get("name") == name), {})
    cspec = next((c for c in spec.get("containers") or [] if c.get("name") == name), {})
    term = _terminated(cstatus) or {}
    waiting = (cstatus.get("state") or {}).get("waiting") or {}
    resources = cspec.get("resources") or {}
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    mounts = {m.get("name"): m.get("mountPath") for m in cspec.get("volumeMounts") or []}
    shm = None
    for vol in spec.get("volumes") or []:
        ed = vol.get("emptyDir")
        if ed is not None and (mounts.get(vol.get("name")) == "/dev/shm" or ed.get("medium") == "Memory"):
            shm = {
                "volume": vol.get("name"),
                "mount_path": mounts.get(vol.get("name")),
                "medium_memory": ed.get("medium") == "Memory",
                "size_limit": ed.get("sizeLimit"),
                "size_limit_bytes": parse_quantity(ed.get("sizeLimit")),
            }
            break
    exit_code = term.get("exitCode")
    return {
        "container": name,
        "found": bool(cstatus),
        "reason": term.get("reason"),
        "exit_code": exit_code,
        "signal": exit_code - 128 if isinstance(exit_code, int) and exit_code > 128 else None,
        "message": term.get("message"),
        "started_at": term.get("startedAt"),
        "finished_at": term.get("finishedAt"),
        "restart_count": cstatus.get("restartCount", 0),
        "waiting_reason": waiting.get("reason"),
        "phase": status.get("phase"),
        "status_reason": status.get("reason"),
        "status_message": status.get("message") or "",
        "qos_class": status.get("qosClass"),
        "node": spec.get("nodeName"),
        "memory_limit": limits.get("memory"),
        "memory_limit_bytes": parse_quantity(limits.get("memory")),
        "memory_request_bytes": parse_quantity(requests.get("memory")),
        "gpus": parse_quantity(limits.get("nvidia.com/gpu")) or 0.0,
        "args": [str(a) for a in (cspec.get("command") or []) + (cspec.get("args") or [])],
        "shm": shm,
    }
