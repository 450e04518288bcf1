"""`llmd-triage` entry point. Imports stay inside commands so `--version` and `--help` are fast."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmd_triage import __version__
from llmd_triage.cli.exit_codes import Exit

EPILOG = """output (run, scan):
  -o markdown|json|html|junit   print the report on stdout in that format (default: markdown)
  -o FILE                       write it to FILE atomically; format from .md .json .html .xml (JUnit) or --format

exit codes:
  0    no finding at or above --fail-on (lint: clean)
  1    a finding at or above --fail-on (lint: an error; preflight: a permission denied)
  2    usage or configuration error (bad flag, unknown tree or target, unreadable kubeconfig)
  3    cluster unreachable or unauthorized
  4    timeout
  130  interrupted (Ctrl-C, SIGTERM): the walks finished so far are still written, marked interrupted"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="llmd-triage",
        description="Walk from a symptom to a fix on GPU clusters running llm-d.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"llmd-triage {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="walk trees over one target (pod, node, workload or namespace) and write a triage report",
        description="Walk trees over one target and write a report; no terminal needed. A workload target "
        "(deploy/, sts/, ds/, lws/) walks the pod trees on each of its pods (a LeaderWorkerSet: leader and "
        "workers); ns/NAME is the scan of that namespace.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--snapshot", metavar="DIR", help="replay a snapshot directory instead of a live cluster")
    run.add_argument("--demo", action="store_true", help="use the bundled demo snapshot")
    run.add_argument("--tree", default="all", help="tree id, a tree file, or 'all' (default)")
    run.add_argument(
        "--target",
        help="KIND/NAME: pod/NAME, node/NAME, deploy/NAME, sts/NAME, ds/NAME, lws/NAME or ns/NAME "
        "(default with --demo: the demo's crash-looping pod)",
    )
    _cluster_args(run)
    run.add_argument("--no-preflight", action="store_true", help="skip the access review before walking")
    run.add_argument("--trees", metavar="DIR", help="folder of tree files (default: the bundled trees)")
    _report_args(run)

    sc = sub.add_parser(
        "scan",
        help="find llm-d pods and GPU nodes, walk every tree whose entry condition matches",
        description="Find the targets of an llm-d install (vLLM pods by llm-d labels, owners and containers, "
        "LeaderWorkerSet groups, prefill/decode roles, GPU nodes by nvidia.com/gpu capacity) and walk each "
        "tree whose entry condition matches them; no terminal needed.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sc.add_argument("--snapshot", metavar="DIR", help="replay a snapshot instead of a live cluster")
    sc.add_argument("--demo", action="store_true", help="use the bundled demo snapshot")
    sc.add_argument("--tree", default="all", help="tree id, a tree file, or 'all' (default)")
    sc.add_argument("-A", "--all-namespaces", action="store_true", help="scan every namespace")
    sc.add_argument("-l", "--selector", help="label selector for pods, as in kubectl")
    sc.add_argument("--trees", metavar="DIR", help="folder of tree files (default: the bundled trees)")
    sc.add_argument("--no-preflight", action="store_true", help=argparse.SUPPRESS)
    _report_args(sc)
    _cluster_args(sc)

    rb = sub.add_parser(
        "rbac",
        help="print the least-privilege ServiceAccount, roles and bindings the chosen trees need (YAML)",
        description="Print the ServiceAccount, ClusterRole/Role and bindings that let `scan` and `run` walk "
        "the chosen trees in the cluster and nothing more, computed from the permissions each probe declares. "
        "Read-only verbs, plus create on pods/exec for the probes that run diagnostics in pods.",
    )
    rb.add_argument("--tree", default="all", help="tree id, a tree file, or 'all' (default)")
    rb.add_argument("--trees", metavar="DIR", help="folder of tree files (default: the bundled trees)")
    rb.add_argument(
        "-n",
        "--namespace",
        help="namespace of the workloads: namespaced reads go into a Role there (default: a ClusterRole for all)",
    )
    rb.add_argument(
        "--service-account", default="llmd-triage", metavar="NAME", help="ServiceAccount name (default: llmd-triage)"
    )
    rb.add_argument(
        "--sa-namespace",
        metavar="NS",
        help="namespace the ServiceAccount lives in (default: --namespace, else llmd-triage)",
    )
    rb.add_argument(
        "--workloads",
        action="store_true",
        help="also allow `run --target deploy/|sts/|ds/|lws/NAME` to read those workloads",
    )
    rb.add_argument(
        "--with-debug-pods",
        nargs="?",
        const="default",
        metavar="NS",
        help="also allow --allow-debug-pods: create, exec into and delete pods in NS (default: default); the pods "
        "are privileged, so the namespace must admit them",
    )
    rb.add_argument(
        "--with-remediation",
        action="store_true",
        help="also grant the writes of confirmed remediations: patch nodes (cordon), create pods/eviction "
        "(drain), delete pods",
    )

    lint = sub.add_parser("lint", help="check tree files: schema, graph, conditions, probes, tests")
    lint.add_argument("paths", nargs="*", help="tree files or folders (default: the bundled trees)")
    lint.add_argument("--output", choices=["text", "json"], default="text")
    lint.add_argument("--no-tests", action="store_true", help="skip the test-coverage rules")
    lint.add_argument(
        "--actions", action="store_true", help="also list every remediation action the trees offer (what they change)"
    )

    graph = sub.add_parser("graph", help="draw a tree as Mermaid or Graphviz dot")
    graph.add_argument("tree", help="tree id or file")
    graph.add_argument("--format", choices=["mermaid", "dot"], default="mermaid")
    graph.add_argument("--trees", metavar="DIR")

    test = sub.add_parser("test", help="run tree test cases and show expected vs taken paths")
    test.add_argument("paths", nargs="*", help="case files or folders (default: the bundled trees/tests)")
    test.add_argument("--trees", metavar="DIR", help="folder of tree files (default: the bundled trees)")
    test.add_argument("-q", "--quiet", action="store_true", help="print failures only")

    pre = sub.add_parser("preflight", help="check, before walking, which permissions the trees need and have")
    pre.add_argument("--tree", default="all", help="tree id, a tree file, or 'all' (default)")
    pre.add_argument("--target", default="pod/-", help="KIND/NAME the trees would walk (default: any pod)")
    pre.add_argument("--trees", metavar="DIR", help="folder of tree files (default: the bundled trees)")
    pre.add_argument("--probe-timeout", type=float, default=20.0, metavar="SECONDS")
    _cluster_args(pre)

    cap = sub.add_parser("capture", help="record what the trees read about a target as a snapshot (redacted)")
    cap.add_argument("--tree", default="all", help="tree id, a tree file, or 'all' (default)")
    cap.add_argument("--target", required=True, help="KIND/NAME")
    cap.add_argument("-o", "--output", required=True, metavar="DIR|FILE.tar.gz", help="where to write the snapshot")
    cap.add_argument("--snapshot", metavar="DIR", help="capture from a snapshot instead of a live cluster")
    cap.add_argument("--trees", metavar="DIR", help="folder of tree files (default: the bundled trees)")
    cap.add_argument("--probe-timeout", type=float, default=20.0, metavar="SECONDS")
    cap.add_argument("--deadline", type=float, default=120.0, metavar="SECONDS", help="per walk")
    _cluster_args(cap)

    sub.add_parser("probes", help="list the probe kinds with their parameters")

    from llmd_triage.cli import toolbox_cmd

    toolbox_cmd.add_parser(sub, _cluster_args)

    tui = sub.add_parser(
        "tui", help="open the full-screen on-call app (also what `llmd-triage` alone does in a terminal)"
    )
    tui.add_argument("--snapshot", metavar="DIR", help="replay a snapshot instead of a live cluster")
    tui.add_argument("--demo", action="store_true", help="use the bundled demo snapshot")
    tui.add_argument("--target", help="KIND/NAME to open straight on (pod/NAME, node/NAME); else the start screen")
    tui.add_argument("--tree", help="tree id to walk on --target (default: pick one)")
    tui.add_argument("--trees", metavar="DIR", help="folder of tree files (default: the bundled trees)")
    tui.add_argument(
        "--grafana-url",
        default=os.environ.get("LLMD_TRIAGE_GRAFANA_URL"),
        help="Grafana base URL, to link fixes to the llm-d dashboards (default: $LLMD_TRIAGE_GRAFANA_URL)",
    )
    tui.add_argument(
        "--audit-log",
        metavar="FILE",
        help="JSONL file for remediation actions (default: llmd-triage/audit.jsonl in the user state dir)",
    )
    tui.add_argument("--probe-timeout", type=float, default=20.0, metavar="SECONDS")
    tui.add_argument("--deadline", type=float, default=120.0, metavar="SECONDS", help="per walk")
    _cluster_args(tui)
    return p


def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-o",
        "--output",
        metavar="FORMAT|FILE",
        help="a format to print on stdout (markdown, json, html, junit), or a FILE to write atomically, its "
        "format from the extension (.md, .json, .html, .xml = JUnit) unless --format says (default: markdown "
        "on stdout)",
    )
    p.add_argument("--format", choices=["markdown", "json", "html", "junit"], help="report format (see -o)")
    p.add_argument(
        "--fail-on",
        choices=["critical", "high", "medium", "low", "info"],
        default="info",
        help="exit 1 when a finding is at or above this severity; JUnit marks those failed (default: info, any "
        "finding)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or notes on stderr (errors only)")
    p.add_argument("--probe-timeout", type=float, default=20.0, metavar="SECONDS")
    p.add_argument("--deadline", type=float, default=120.0, metavar="SECONDS", help="per walk")
    from llmd_triage.cli import remediate

    remediate.add_arguments(p)


def _cluster_args(p: argparse.ArgumentParser) -> None:
    """kubectl's flags, meaning what they mean in kubectl."""
    p.add_argument("-n", "--namespace", help="namespace of the target (default: the context's)")
    p.add_argument("--kubeconfig", help="kubeconfig file(s) (default: $KUBECONFIG, then ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context to use (default: the current one)")
    p.add_argument(
        "--allow-debug-pods",
        action="store_true",
        help="allow creating (and deleting) a privileged debug pod on a node that has no pod able to run "
        "node-level diagnostics: a change to the cluster, off by default",
    )
    p.add_argument(
        "--debug-namespace",
        metavar="NS",
        help="namespace for debug pods (default: --namespace, else default); `rbac --with-debug-pods NS` grants it",
    )
    p.add_argument("--debug-image", default="ghcr.io/llm-d/llmd-triage-toolbox:latest", help="image of debug pods")
    p.add_argument(
        "--prometheus-url",
        default=os.environ.get("LLMD_TRIAGE_PROMETHEUS_URL"),
        help="Prometheus to query, e.g. http://prometheus-k8s.monitoring:9090 (default: $LLMD_TRIAGE_PROMETHEUS_URL)",
    )
    p.add_argument(
        "--prometheus-token-file",
        default=os.environ.get("LLMD_TRIAGE_PROMETHEUS_TOKEN_FILE"),
        help="file holding a bearer token for Prometheus (read on every query; tokens rotate)",
    )
    p.add_argument(
        "--allow-exec",
        action="append",
        default=[],
        metavar="'CMD [ARG...]'",
        help="let trees exec this command prefix although it is outside the read-only allowlist (repeatable; also "
        "LLMD_TRIAGE_ALLOW_EXEC, ';'-separated); only for trees you have read",
    )
    p.add_argument("--prometheus-ca-file", help="CA bundle to verify Prometheus's TLS certificate")
    p.add_argument("--prometheus-insecure", action="store_true", help="do not verify Prometheus's TLS certificate")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in ([], ["--debug"]) and sys.stdin.isatty() and sys.stdout.isatty():
        argv.append("tui")  # `llmd-triage` alone in a terminal opens the TUI; in a pipe or cron it prints help
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return Exit.OK
    from llmd_triage.errors import TriageError
    from llmd_triage.probes.allowlist import CURRENT, ExecPolicy

    policy = CURRENT.set(ExecPolicy.from_env(getattr(args, "allow_exec", None) or []))
    try:
        return int(COMMANDS[args.command](args))
    except TriageError as exc:
        print(f"llmd-triage: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("llmd-triage: interrupted", file=sys.stderr)
        return Exit.INTERRUPTED
    except BrokenPipeError:
        return Exit.OK
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"llmd-triage: internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)",
            file=sys.stderr,
        )
        return Exit.USAGE
    finally:
        CURRENT.reset(policy)


def _trees_root(args: argparse.Namespace) -> Path:
    from llmd_triage.resources import trees_dir

    return Path(args.trees) if getattr(args, "trees", None) else trees_dir()


def load_tree_set(root: Path) -> dict[str, Any]:
    """Every tree in a folder, by id; a broken tree stops the run with its findings."""
    from llmd_triage.errors import TreeError
    from llmd_triage.tree.loader import discover_tree_files, load_tree

    trees: dict[str, Any] = {}
    findings = []
    for f in discover_tree_files([root]):
        try:
            t = load_tree(f)
            trees[t.id] = t
        except TreeError as exc:
            findings.extend(exc.findings)
    if findings:
        raise TreeError(findings)
    return trees


def _select_trees(spec: str, root: Path) -> list[Any]:
    from llmd_triage.errors import UsageError
    from llmd_triage.tree.loader import load_tree

    if spec.endswith((".yaml", ".yml")) or os.sep in spec:
        return [load_tree(spec)]
    trees = load_tree_set(root)
    if spec == "all":
        return list(trees.values())
    if spec not in trees:
        raise UsageError(f"no tree with id '{spec}'; known: {', '.join(sorted(trees))}")
    return [trees[spec]]


NAMESPACE_KINDS = ("ns", "namespace", "namespaces")


def cmd_run(args: argparse.Namespace) -> int:
    from llmd_triage.cli.output import resolve_output
    from llmd_triage.cluster.base import parse_target
    from llmd_triage.errors import UsageError

    spec = resolve_output(args.output, args.format)
    trees_all = _select_trees(args.tree, _trees_root(args))
    cluster, default_target = open_cluster(args)
    target_text = args.target or default_target
    if not target_text:
        raise UsageError("--target KIND/NAME is required (e.g. --target pod/vllm-decode-0)")
    kind, _, name = target_text.partition("/")
    if kind.strip().lower() in NAMESPACE_KINDS:
        if not name.strip() or "/" in name:
            raise UsageError(f"target {target_text!r} is not ns/NAME")
        return _scan(args, spec, cluster, trees_all, namespace=name.strip(), selector=None, command="run")
    try:
        target = parse_target(target_text, args.namespace or cluster.default_namespace)
    except ValueError as exc:
        raise UsageError(f"{exc}, or ns/NAME") from None
    pod_level = target.kind == "workload"
    kinds = {"pod", "workload"} if pod_level else {target.kind}
    trees = [t for t in trees_all if kinds & set(t.applies_to)]
    if not trees:
        raise UsageError(f"no tree applies to a {target.kind} target")
    scope = {"command": "run", "cluster": cluster.name, "namespace": target.namespace, "target": target_text}
    scope["trees"] = [t.id for t in trees]

    async def go(progress: Any, collected: list[Any]) -> None:
        from llmd_triage.engine.walk import walk

        targets = [target]
        if pod_level:
            from llmd_triage.engine.targets import workload_pods

            pods = [t for t, _ in await workload_pods(cluster, target)]
            targets = [target, *pods]
            progress.note(f"{target_text}: {len(pods)} pod(s): {', '.join(p.name for p in pods)}")
        jobs = [(t, tg) for tg in targets for t in trees if tg.kind in t.applies_to]
        forbidden: dict[str, str] = {}
        if not _is_snapshot(cluster) and not args.no_preflight:
            from llmd_triage.engine.preflight import forbidden_probes, preflight

            forbidden = forbidden_probes(await preflight(trees, targets[-1], cluster))
        progress.start(len(jobs))
        sem = asyncio.Semaphore(8)

        async def one(tree: Any, tg: Any) -> None:
            async with sem:
                w = await walk(
                    tree, tg, cluster, forbidden=forbidden, probe_timeout=args.probe_timeout, deadline=args.deadline
                )
            collected.append(w)
            progress.walk_done(w)

        await asyncio.gather(*(one(t, tg) for t, tg in jobs))

    return _walk_and_report(args, spec, scope, go, unreachable_exit=True, cluster=cluster)


def _is_snapshot(cluster: Any) -> bool:
    from llmd_triage.cluster.snapshot import SnapshotCluster

    return isinstance(cluster, SnapshotCluster)


def _walk_and_report(
    args: argparse.Namespace,
    spec: Any,
    scope: dict[str, Any],
    go: Any,
    *,
    unreachable_exit: bool = False,
    cluster: Any = None,
) -> int:
    """Run the walks (`go(progress, collected)`), then write the report of what finished, interrupted or not.

    Ctrl-C and SIGTERM stop the walks; the walks finished so far are still written, marked interrupted,
    and the exit code is 130. A cluster that cannot be reached at all is exit 3 (4 when it timed out).
    """
    import contextlib
    import signal

    from llmd_triage.cli.output import emit, render
    from llmd_triage.cli.progress import Progress
    from llmd_triage.cluster.base import ClusterError
    from llmd_triage.errors import TriageError
    from llmd_triage.tree.model import severity_rank

    progress = Progress(quiet=args.quiet)
    collected: list[Any] = []
    interrupted = False

    async def guarded() -> None:
        # SIGTERM (a CronJob's pod being stopped) cancels the walks like Ctrl-C does; asyncio.run handles SIGINT
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        # not in the main thread, or no signals here: Ctrl-C only
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            if task is not None:
                loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            await go(progress, collected)
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGTERM)

    try:
        asyncio.run(guarded())
    except (KeyboardInterrupt, asyncio.CancelledError):
        interrupted = True
    except ClusterError as exc:
        err = TriageError(f"{exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
        err.exit_code = {"not_found": Exit.USAGE, "timeout": Exit.TIMEOUT}.get(exc.kind, Exit.CLUSTER)
        raise err from None
    finally:
        progress.close()
    if interrupted:
        progress.note(f"interrupted: writing the {len(collected)} walk(s) finished so far")
    elif unreachable_exit:
        unreachable = [
            w.steps[0].error
            for w in collected
            if w.steps and w.steps[0].error and w.steps[0].error["kind"] in ("unavailable", "unauthorized")
        ]
        if unreachable and len(unreachable) == len(collected):
            err = unreachable[0]
            print(f"llmd-triage: {err['message']} ({err['hint']})", file=sys.stderr)
            return Exit.CLUSTER
    emit(spec, render(spec.format, collected, interrupted=interrupted, scope=scope, fail_on=args.fail_on))
    if spec.path is not None:
        progress.note(f"wrote {spec.path} ({spec.format})")
    if interrupted:
        return Exit.INTERRUPTED
    if getattr(args, "apply_remediation", False) and cluster is not None:
        from llmd_triage.cli.remediate import apply_findings

        apply_findings(args, cluster, collected, lambda line: print(line, file=sys.stderr))
    bar = severity_rank(args.fail_on)
    hit = any(w.leaf and w.leaf.is_finding and severity_rank(w.leaf.severity) >= bar for w in collected)
    return Exit.FINDINGS if hit else Exit.OK


def _live_cluster(args: argparse.Namespace) -> Any:
    from llmd_triage.cluster.base import ClusterError
    from llmd_triage.cluster.live import DebugPods, KubeContext, LiveCluster
    from llmd_triage.errors import TriageError, UsageError

    debug_ns = getattr(args, "debug_namespace", None) or args.namespace or "default"
    debug = DebugPods(image=args.debug_image, namespace=debug_ns) if args.allow_debug_pods else None
    prometheus = None
    if args.prometheus_url:
        from llmd_triage.cluster.prometheus import PrometheusClient

        try:
            prometheus = PrometheusClient(
                args.prometheus_url,
                bearer_token_file=args.prometheus_token_file,
                ca_file=args.prometheus_ca_file,
                verify_tls=not args.prometheus_insecure,
            )
        except ValueError as exc:
            raise UsageError(f"--prometheus-url: {exc}") from None
    try:
        return LiveCluster(
            KubeContext(args.kubeconfig, args.context, args.namespace),
            timeout=args.probe_timeout,
            debug_pods=debug,
            prometheus=prometheus,
        )
    except ClusterError as exc:
        err = TriageError(f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
        # an unreadable kubeconfig or missing context is a configuration error; the rest is the cluster's
        err.exit_code = Exit.USAGE if exc.kind == "error" else Exit.CLUSTER
        raise err from None


def cmd_preflight(args: argparse.Namespace) -> int:
    from llmd_triage.cluster.base import parse_target
    from llmd_triage.engine.preflight import preflight
    from llmd_triage.errors import UsageError

    cluster = _live_cluster(args)
    try:
        target = parse_target(args.target, args.namespace or cluster.default_namespace)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    trees = [t for t in _select_trees(args.tree, _trees_root(args)) if target.kind in t.applies_to]
    checks = asyncio.run(preflight(trees, target, cluster))
    print(f"context {cluster.name}, namespace {target.namespace or '-'}, {len(trees)} tree(s)")
    rows = [("ALLOWED", "VERB", "RESOURCE", "USED BY", "CHECK BY HAND")]
    for c in sorted(checks, key=lambda c: (c.allowed is not False, c.permission.resource, c.permission.verb)):
        p = c.permission
        res = p.resource + (f"/{p.subresource}" if p.subresource else "") + (f".{p.group}" if p.group else "")
        state = {True: "yes", False: "NO", None: "?"}[c.allowed]
        rows.append((state, p.verb, res, ", ".join(c.probes), p.can_i))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(x.ljust(w) for x, w in zip(r[:4], widths, strict=True)) + "  " + r[4])
    if any(p == "node.exec" for c in checks for p in c.probes):
        asyncio.run(_print_node_pods(cluster, target))
    if all(c.allowed is None for c in checks) and checks:
        err = checks[0].error or "no answer"
        print(f"llmd-triage: access reviews failed: {err}", file=sys.stderr)
        return Exit.CLUSTER
    return Exit.FINDINGS if any(c.allowed is False for c in checks) else Exit.OK


async def _print_node_pods(cluster: Any, target: Any) -> None:
    """Where node-level commands would run: the search order, and what each GPU node (or the pod's node) has."""
    from llmd_triage.cluster.base import ClusterError
    from llmd_triage.engine.toolbox_status import search_order
    from llmd_triage.probes.node_exec import find_node_pods

    print(
        "node pods, tried in this order: " + " > ".join(search_order(os.environ.get("LLMD_TRIAGE_NODE_POD_SELECTOR")))
    )
    try:
        if target.kind == "node":
            nodes = [target.name]
        elif target.kind == "pod" and target.name != "-":
            nodes = [
                ((await cluster.get("v1", "Pod", target.name, target.namespace)).get("spec") or {}).get("nodeName")
            ]
        else:
            from llmd_triage.engine.scan import is_gpu_node

            nodes = [n["metadata"]["name"] for n in await cluster.list("v1", "Node") if is_gpu_node(n)]
    except ClusterError as exc:
        print(f"  (cannot tell which nodes: {exc.message})")
        return
    for node in [n for n in nodes if n]:
        try:
            found = await find_node_pods(cluster, node)
            pods = ", ".join(f"{p['metadata']['namespace']}/{p['metadata']['name']} ({what})" for p, _, what in found)
            print(f"  {node}: {pods}")
        except ClusterError as exc:
            print(f"  {node}: none ({exc.hint or exc.message})")


def cmd_capture(args: argparse.Namespace) -> int:
    from llmd_triage.cluster.base import parse_target
    from llmd_triage.cluster.capture import RecordingCluster, write_snapshot
    from llmd_triage.engine.walk import walk
    from llmd_triage.errors import UsageError

    inner, _default_target = open_cluster(args)
    try:
        target = parse_target(args.target, args.namespace)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    trees = [t for t in _select_trees(args.tree, _trees_root(args)) if target.kind in t.applies_to]
    if not trees:
        raise UsageError(f"no tree applies to a {target.kind} target")
    rec = RecordingCluster(inner)

    async def go() -> list[Any]:
        return [await walk(t, target, rec, probe_timeout=args.probe_timeout, deadline=args.deadline) for t in trees]

    walks = asyncio.run(go())
    dest = write_snapshot(
        rec.data,
        args.output,
        context=inner.name,
        default_target=target.ref,
        notes=f"captured by llmd-triage for trees: {', '.join(t.id for t in trees)}",
    )
    d = rec.data
    print(
        f"wrote {dest}: {len(d.objects)} objects, {len(d.logs)} logs, {len(d.execs)} exec outputs, "
        f"{len(d.errors)} recorded failures, from {len(walks)} walk(s)",
        file=sys.stderr,
    )
    return Exit.OK


def cmd_scan(args: argparse.Namespace) -> int:
    from llmd_triage.cli.output import resolve_output

    spec = resolve_output(args.output, args.format)
    trees = _select_trees(args.tree, _trees_root(args))
    cluster, _default_target = open_cluster(args)
    namespace = None if args.all_namespaces else (args.namespace or cluster.default_namespace)
    return _scan(args, spec, cluster, trees, namespace=namespace, selector=args.selector, command="scan")


def _scan(
    args: argparse.Namespace,
    spec: Any,
    cluster: Any,
    trees: list[Any],
    *,
    namespace: str | None,
    selector: str | None,
    command: str,
) -> int:
    scope: dict[str, Any] = {
        "command": command,
        "cluster": cluster.name,
        "namespace": namespace,
        "selector": selector,
        "trees": [t.id for t in trees],
    }

    async def go(progress: Any, collected: list[Any]) -> None:
        from llmd_triage.engine.scan import scan

        def planned(result: Any, jobs: int) -> None:
            scope["targets_found"] = result.targets
            scope["skipped"] = list(result.skipped)
            progress.note(f"scanned {result.targets} target(s), walking {jobs} tree(s)")
            for note in result.skipped:
                progress.note(f"skipped: {note}")
            progress.start(jobs)

        def finished(w: Any) -> None:
            collected.append(w)
            progress.walk_done(w)

        await scan(
            trees,
            cluster,
            namespace=namespace,
            label_selector=selector,
            on_walk=finished,
            on_plan=planned,
            probe_timeout=args.probe_timeout,
            deadline=args.deadline,
        )

    return _walk_and_report(args, spec, scope, go, cluster=cluster)


def cmd_rbac(args: argparse.Namespace) -> int:
    from llmd_triage.engine.rbac import plan_rbac, render_rbac

    trees = _select_trees(args.tree, _trees_root(args))
    plan = plan_rbac(
        trees,
        namespace=args.namespace,
        workloads=args.workloads,
        remediation=args.with_remediation,
        debug_pods=args.with_debug_pods,
    )
    for where in plan.unplanned:
        print(f"llmd-triage: {where} reads a kind known only during the walk; grant it by hand", file=sys.stderr)
    sys.stdout.write(
        render_rbac(
            plan,
            trees=[t.id for t in trees],
            service_account=args.service_account,
            sa_namespace=args.sa_namespace or args.namespace or "llmd-triage",
            version=__version__,
            remediation=args.with_remediation,
        )
    )
    return Exit.OK


def cmd_lint(args: argparse.Namespace) -> int:
    import json

    from llmd_triage.errors import TreeError
    from llmd_triage.probes.registry import default_registry
    from llmd_triage.resources import trees_dir
    from llmd_triage.testing.cases import case_leaves, discover_cases
    from llmd_triage.tree.lint import LintContext, lint_tree
    from llmd_triage.tree.loader import discover_tree_files, load_tree

    paths = [Path(p) for p in args.paths] or [trees_dir()]
    for p in paths:
        if not p.exists():
            print(f"llmd-triage: {p}: no such file or folder", file=sys.stderr)
            return Exit.USAGE
    files = discover_tree_files(paths)
    findings = []
    trees = []
    for f in files:
        try:
            trees.append(load_tree(f))
        except TreeError as exc:
            findings.extend(exc.findings)
    leaves = None
    if not args.no_tests:
        case_dirs = {f.parent / "tests" for f in files if (f.parent / "tests").is_dir()}
        leaves = case_leaves(discover_cases(sorted(case_dirs))) if case_dirs else {}
    ctx = LintContext(default_registry(), leaves, {t.id for t in trees})
    for t in trees:
        findings.extend(lint_tree(t, ctx))
    errors = [f for f in findings if f.severity == "error"]
    actions = _actions_of(trees) if args.actions else None
    if args.output == "json":
        doc: dict[str, Any] = {"files": [str(f) for f in files], "findings": [f.as_dict() for f in findings]}
        if actions is not None:
            doc["actions"] = actions
        print(json.dumps(doc, indent=2))
    else:
        for f in findings:
            print(f if f.severity == "error" else f"{f} [warning]")
        for a in actions or []:
            flag = "DANGEROUS " if a["dangerous"] else ""
            print(f"{a['file']}:{a['line']}: action: {a['tree']}/{a['leaf']}: {flag}{a['kind']} {a['target']}")
        sys.stdout.flush()  # findings before the summary on a shared terminal
        print(
            f"{len(files)} tree file(s), {len(errors)} error(s), {len(findings) - len(errors)} warning(s)",
            file=sys.stderr,
        )
    return Exit.FINDINGS if errors else Exit.OK


def _actions_of(trees: list[Any]) -> list[dict[str, Any]]:
    """Every action a tree set offers, with where it is declared: what these trees could change, for review."""
    from llmd_triage.engine.actions import DANGEROUS
    from llmd_triage.tree.loader import node_location
    from llmd_triage.tree.model import Leaf

    out = []
    for t in sorted(trees, key=lambda t: t.id):
        for leaf in (n for n in t.nodes.values() if isinstance(n, Leaf)):
            for i, a in enumerate(leaf.actions):
                loc = node_location(t, leaf.id, "actions", i)
                out.append(
                    {
                        "tree": t.id,
                        "leaf": leaf.id,
                        "kind": a.kind,
                        "target": a.target.source,
                        "dangerous": a.kind in DANGEROUS,
                        "file": loc.file,
                        "line": loc.line,
                    }
                )
    return out


def cmd_graph(args: argparse.Namespace) -> int:
    from llmd_triage.tree.graph import to_dot, to_mermaid

    tree = _select_trees(args.tree, _trees_root(args))[0]
    sys.stdout.write(to_mermaid(tree) if args.format == "mermaid" else to_dot(tree))
    return Exit.OK


def cmd_test(args: argparse.Namespace) -> int:
    from llmd_triage.errors import TreeError
    from llmd_triage.testing.cases import discover_cases, load_case, run_case

    root = _trees_root(args)
    trees = load_tree_set(root)
    files = discover_cases(args.paths or [root / "tests"])
    if not files:
        print("llmd-triage: no test cases found", file=sys.stderr)
        return Exit.USAGE

    async def go() -> tuple[int, int]:
        passed = failed = 0
        for f in files:
            try:
                case = load_case(f)
            except TreeError as exc:
                print(f"FAIL {exc}")
                failed += 1
                continue
            res = await run_case(case, trees)
            if res.passed:
                passed += 1
                if not args.quiet:
                    print(res.report())
            else:
                failed += 1
                print(res.report())
        return passed, failed

    passed, failed = asyncio.run(go())
    print(f"{passed} passed, {failed} failed")
    return Exit.FINDINGS if failed else Exit.OK


def open_cluster(args: argparse.Namespace) -> tuple[Any, str | None]:
    """The cluster the flags name (a snapshot, the demo, or the live one) and its default target, if any."""
    from llmd_triage.cluster.snapshot import SnapshotCluster
    from llmd_triage.resources import demo_snapshot

    snapshot = getattr(args, "snapshot", None) or (str(demo_snapshot()) if getattr(args, "demo", False) else None)
    if snapshot is not None:
        cluster = SnapshotCluster.from_path(snapshot)
        return cluster, cluster.data.manifest.get("default_target")
    return _live_cluster(args), None


def cmd_tui(args: argparse.Namespace) -> int:
    from llmd_triage.tui.app import run_tui

    return run_tui(args, open_cluster=open_cluster, load_trees=lambda: load_tree_set(_trees_root(args)))


def cmd_probes(args: argparse.Namespace) -> int:
    from llmd_triage.probes.registry import default_registry

    reg = default_registry()
    for name in reg.names():
        probe = reg.probes[name]
        params = ", ".join(sorted(probe.params_schema.get("properties", {})))
        print(f"{name}\n    {probe.description}\n    params: {params or '-'}")
    return Exit.OK


COMMANDS = {
    "capture": cmd_capture,
    "preflight": cmd_preflight,
    "rbac": cmd_rbac,
    "run": cmd_run,
    "scan": cmd_scan,
    "lint": cmd_lint,
    "graph": cmd_graph,
    "test": cmd_test,
    "probes": cmd_probes,
    "tui": cmd_tui,
    "toolbox": lambda args: __import__("llmd_triage.cli.toolbox_cmd", fromlist=["run"]).run(args, open_cluster),
}


if __name__ == "__main__":
    raise SystemExit(main())
