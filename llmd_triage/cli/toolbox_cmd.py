"""`llmd-triage toolbox manifest|status|apply`: the node toolbox from the command line."""

from __future__ import annotations

import argparse
import asyncio
import difflib
import sys
from collections.abc import Callable
from typing import Any

from llmd_triage.cli.exit_codes import Exit


def add_parser(sub: Any, cluster_args: Callable[[argparse.ArgumentParser], None]) -> None:
    from llmd_triage import toolbox as tb

    p = sub.add_parser("toolbox", help="the node toolbox DaemonSet: print its manifest, check it, or apply it")
    tsub = p.add_subparsers(dest="toolbox_command", metavar="ACTION", required=True)
    for name, helptext in (
        ("manifest", "print the DaemonSet (apply it yourself: llmd-triage toolbox manifest | kubectl apply -f -)"),
        ("apply", "show what would change in the cluster, ask, then create or update the toolbox"),
    ):
        m = tsub.add_parser(name, help=helptext)
        m.add_argument("--toolbox-namespace", default=tb.DEFAULT_NAMESPACE, help="namespace of the toolbox")
        m.add_argument("--image", default=tb.DEFAULT_IMAGE, help="toolbox image (built from toolbox/Dockerfile)")
        m.add_argument("--node-selector", default=tb.DEFAULT_NODE_SELECTOR, metavar="KEY=VALUE")
        m.add_argument("--runtime-class", default="nvidia", help="RuntimeClass of the NVIDIA runtime ('' for none)")
        m.add_argument("--openshift", action="store_true", help="add the SecurityContextConstraints and oc steps")
        if name == "apply":
            m.add_argument("--yes", action="store_true", help="do not ask (the diff is still printed)")
            m.add_argument("--probe-timeout", type=float, default=20.0, metavar="SECONDS")
            cluster_args(m)
    s = tsub.add_parser("status", help="on which GPU nodes a usable node pod exists, and which tools it lacks")
    s.add_argument("--node-pod-selector", help="a label selector for your own node pods, tried first")
    s.add_argument("--snapshot", metavar="DIR", help="check a snapshot instead of the live cluster")
    s.add_argument("--demo", action="store_true", help="check the bundled demo snapshot")
    s.add_argument("--probe-timeout", type=float, default=20.0, metavar="SECONDS")
    cluster_args(s)


def run(args: argparse.Namespace, open_cluster: Callable[[argparse.Namespace], tuple[Any, str | None]]) -> int:
    from llmd_triage import toolbox as tb
    from llmd_triage.errors import UsageError

    if args.toolbox_command == "status":
        return _status(args, open_cluster)
    try:
        text = tb.manifest(
            namespace=args.toolbox_namespace,
            image=args.image,
            node_selector=args.node_selector,
            runtime_class=args.runtime_class or None,
            openshift=args.openshift,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.toolbox_command == "manifest":
        sys.stdout.write(text)
        return Exit.OK
    return _apply(args, text, open_cluster)


def _status(args: argparse.Namespace, open_cluster: Callable[..., Any]) -> int:
    from llmd_triage import toolbox as tb
    from llmd_triage.engine.toolbox_status import search_order, toolbox_status

    cluster, _ = open_cluster(args)
    rows = asyncio.run(toolbox_status(cluster, list(tb.TOOLS), args.node_pod_selector))
    print("node pods are tried in this order: " + " > ".join(search_order(args.node_pod_selector)))
    width = max([len(r.node) for r in rows] + [4])
    for r in rows:
        if r.pod is None:
            print(f"{r.node:{width}}  NO NODE POD   {r.error}")
        elif r.error:
            print(f"{r.node:{width}}  {r.pod} ({r.source})  {r.error}")
        else:
            lacks = ", ".join(f"{t} ({tb.TOOLS[t]})" for t in r.missing) or "nothing"
            print(f"{r.node:{width}}  {r.pod} ({r.source})  lacks: {lacks}")
    if not rows:
        print("no GPU nodes (no node has nvidia.com/gpu capacity)")
    ready = all(r.usable and not r.missing for r in rows)
    if not ready:
        print(f"deploy the toolbox: llmd-triage toolbox manifest | kubectl apply -f -   (image: {tb.DEFAULT_IMAGE})")
    return Exit.OK if ready else Exit.FINDINGS


def _apply(args: argparse.Namespace, text: str, open_cluster: Callable[..., Any]) -> int:
    """A change to the cluster, so: the diff against what is there, a question, then create or replace."""
    import yaml

    from llmd_triage.cluster.base import ClusterError, ClusterWriter

    cluster, _ = open_cluster(args)
    if not isinstance(cluster, ClusterWriter) or not hasattr(cluster, "apply_object"):
        print("llmd-triage: toolbox apply needs a live cluster", file=sys.stderr)
        return Exit.USAGE
    docs = [d for d in yaml.safe_load_all(text) if d]

    async def current(doc: dict[str, Any]) -> dict[str, Any] | None:
        meta = doc["metadata"]
        try:
            return await cluster.read_fresh(doc["apiVersion"], doc["kind"], meta["name"], meta.get("namespace"))
        except ClusterError as exc:
            if exc.kind in ("not_found",):
                return None
            raise

    async def diff_all() -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
        return [(d, await current(d)) for d in docs]

    pairs = asyncio.run(diff_all())
    changes = 0
    for doc, live in pairs:
        title = f"{doc['kind']}/{doc['metadata']['name']}"
        if live is None:
            print(f"+ create {title}")
            changes += 1
            continue
        theirs = yaml.safe_dump(_comparable(live, doc), sort_keys=True).splitlines()
        ours = yaml.safe_dump(_comparable(doc, doc), sort_keys=True).splitlines()
        delta = list(difflib.unified_diff(theirs, ours, f"cluster {title}", f"new {title}", lineterm=""))
        if delta:
            changes += 1
            print("\n".join(delta))
        else:
            print(f"= {title} unchanged")
    if not changes:
        print("the toolbox is up to date")
        return Exit.OK
    if not args.yes:
        if not sys.stdin.isatty():
            print("llmd-triage: not applied: confirm on a terminal or pass --yes", file=sys.stderr)
            return Exit.USAGE
        answer = input(f"apply {changes} change(s) to the cluster? type 'yes': ").strip()
        if answer != "yes":
            print("not applied")
            return Exit.OK

    async def apply_all() -> None:
        for doc, live in pairs:
            await cluster.apply_object(doc, exists=live is not None)

    asyncio.run(apply_all())
    print(f"applied; watch it with: kubectl -n {args.toolbox_namespace} rollout status ds/llmd-triage-toolbox")
    return Exit.OK


def _comparable(obj: dict[str, Any], shape: dict[str, Any]) -> Any:
    """Only the fields the manifest sets: the server adds status, defaults and metadata we did not write."""
    if isinstance(shape, dict) and isinstance(obj, dict):
        return {k: _comparable(obj.get(k), v) for k, v in shape.items() if k != "status"}
    if isinstance(shape, list) and isinstance(obj, list):
        return [_comparable(o, s) for o, s in zip(obj, shape, strict=False)] + obj[len(shape) :]
    return obj
