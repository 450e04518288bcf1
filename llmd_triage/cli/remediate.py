"""`--apply-remediation` for run and scan: the actions of the findings, without a person at the keyboard.

Only with the flag, never on a snapshot, each one after a server-side dry run and into the audit log, as in the
TUI. Dangerous actions (drain, delete a pod) need their own flag: a cron job that cordons a node that lost a GPU
is a reasonable policy; one that drains it needs a separate decision.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--apply-remediation",
        action="store_true",
        help="run the non-dangerous actions of the findings (cordon, uncordon) after a server-side dry run; "
        "every attempt goes to the audit log. A change to the cluster: off by default, never on a snapshot",
    )
    p.add_argument(
        "--apply-dangerous-remediation",
        action="store_true",
        help="with --apply-remediation, also drain nodes and delete pods",
    )
    p.add_argument("--audit-log", metavar="FILE", help="JSONL audit log (default: ~/.local/state/llmd-triage/)")


def apply_findings(args: argparse.Namespace, cluster: Any, walks: list[Any], note: Any) -> int:
    """Run the findings' actions; return how many failed or were refused. Notes go to `note` (stderr)."""
    from llmd_triage.cluster.base import ClusterWriter
    from llmd_triage.cluster.snapshot import SnapshotCluster
    from llmd_triage.engine.actions import ActionPlan, apply_and_audit, default_audit_path
    from llmd_triage.tree.model import severity_rank

    findings = sorted(
        (w for w in walks if w.leaf and w.leaf.is_finding),
        key=lambda w: (-severity_rank(w.leaf.severity), w.target.get("name", ""), w.tree),
    )  # worst first, then a stable order: the same scan applies the same actions in the same order
    plans = [(w, ActionPlan(**a)) for w in findings for a in w.leaf.actions]
    if not plans:
        note("--apply-remediation: the findings offer no action")
        return 0
    if isinstance(cluster, SnapshotCluster) or not isinstance(cluster, ClusterWriter):
        note(f"--apply-remediation: not applied: {len(plans)} action(s), but a snapshot cannot be changed")
        return 0
    log = Path(args.audit_log) if getattr(args, "audit_log", None) else default_audit_path()
    failed = 0

    async def run_all() -> None:
        nonlocal failed

        done: set[tuple[str, str, str | None]] = set()
        for w, plan in plans:
            key = (plan.kind, plan.name, plan.namespace)
            if key in done:  # two trees may offer the same cordon
                continue
            done.add(key)
            walk_target = f"{w.target['kind']}/{w.target['name']}"
            if plan.dangerous and not args.apply_dangerous_remediation:
                note(f"--apply-remediation: skipped {plan.command} (dangerous: needs --apply-dangerous-remediation)")
                continue
            outcome = await apply_and_audit(plan, cluster, log=log, context=cluster.name, walk_target=walk_target)
            if outcome.ok:
                note(f"--apply-remediation: {plan.command}: done ({'; '.join(outcome.details)})")
            else:
                failed += 1
                note(f"--apply-remediation: {plan.command}: dry run {outcome.dry_run}; {outcome.result}")

    asyncio.run(run_all())
    return failed
