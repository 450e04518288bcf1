"""The scale benchmark: a whole-cluster scan of synthetic llm-d installs, against the kubectl way.

    .venv/bin/python bench/scan.py [--sizes 100,300,1000,3000] [--latency 0.02] [--no-baseline]

For each size, `bench/synth.py` writes an llm-d install of that many 8-GPU nodes with six injected
faults and many healthy look-alikes; the loopback API server (tests/integration/apiserver.py) serves
it over HTTPS with `--latency` seconds added to every request. Two runs read it, each a subprocess
timed from start to exit, its peak RSS taken from wait4 and its requests counted in the server's journal:

- llmd-triage: `llmd-triage scan --kubeconfig KC -A -o json` through the real Kubernetes client;
  its findings are compared with the injected ones (bench/synth.py's injected.json);
- the runbook: `bench/baseline.sh`, the kubectl commands of the trees' own steps in a shell loop
  (inventory, logs and describe of restarted pods, dmesg / nvidia-smi / ibstat / topo per GPU
  node), with the kubectl on PATH; bench/runbook.py greps its output.

Then one Markdown table, and the startup times: `--version`, `--help` (fresh interpreters, as in
bench/startup.py) and the TUI's first frame (bench/tui.py, when it exists). Not a test: it asserts
nothing; tests/integration/test_bench_smoke.py runs it once at 10 nodes for correctness only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import runbook  # noqa: E402
import synth  # noqa: E402

from llmd_triage.cluster.snapshot import load_snapshot  # noqa: E402
from tests.integration.apiserver import FakeApiServer  # noqa: E402


@dataclass
class Run:
    name: str
    wall_s: float = 0.0
    requests: int = 0
    by_verb: dict[str, int] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    found: int = 0
    faults: int = 0
    false: int = 0
    false_targets: list[str] = field(default_factory=list)
    returncode: int = 0
    note: str = ""


@dataclass
class SizeResult:
    nodes: int
    pods: int
    triage: Run
    runbook: Run | None


def _timed(argv: list[str], env: dict[str, str], stdout: Any, stderr: Any) -> tuple[int, float, float]:
    """(exit code, wall seconds, peak RSS MB of the process tree) of one subprocess."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=stdout, stderr=stderr, cwd=ROOT)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, wall, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def _count(journal: list[Any], start: int, dump: Path | None = None) -> tuple[int, dict[str, int]]:
    entries = journal[start:]
    if dump is not None:
        with open(dump, "w", encoding="utf-8") as f:
            for e in entries:
                query = "&".join(f"{k}={v}" for k, vs in e.query.items() for v in vs if k != "command")
                f.write(f"{e.verb}\t{e.status}\t{e.ms:.0f}\t{e.method} {e.path}{'?' + query if query else ''}\n")
    return len(entries), dict(Counter(e.verb for e in entries))


def triage_exe() -> list[str]:
    exe = Path(sys.executable).parent / "llmd-triage"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "llmd_triage.cli.main"]


#: kubectl speaks WebSocket for exec from 1.30 on (KEP-4006); before, SPDY, which the loopback server does not
WEBSOCKET_EXEC = (1, 30)


def kubectl_version(kubectl: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [kubectl, "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
        v = json.loads(out)["clientVersion"]
        return int(v["major"]), int(re.sub(r"\D.*", "", v["minor"]))
    except (OSError, ValueError, KeyError, subprocess.TimeoutExpired):
        return None


def kubectl_path(install: bool) -> str | None:
    """kubectl from PATH; when missing (and `install`), Debian's kubernetes-client is installed first."""
    found = shutil.which("kubectl")
    if found or not install:
        return found
    if shutil.which("apt-get"):
        print("bench: kubectl missing, installing Debian's kubernetes-client", file=sys.stderr)
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        subprocess.run([*sudo, "apt-get", "update", "-q"], capture_output=True, check=False)
        subprocess.run(
            [*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", "kubernetes-client"],
            capture_output=True,
            check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    return shutil.which("kubectl")


def score_triage(report: dict[str, Any], manifest: dict[str, Any]) -> tuple[int, int, list[str]]:
    """(faults whose every expected finding was reported, findings no fault expects, those findings)."""
    got = {(f["tree"], f"{f['target']['kind']}/{f['target']['name']}", f["leaf"]) for f in report["findings"]}
    expected: set[tuple[str, str, str]] = set()
    found = 0
    for fault in manifest["faults"]:
        want = {(e["tree"], e["target"], e["leaf"]) for e in fault["expect"]}
        expected |= want
        found += want <= got
    false = sorted(f"{t} {g} {leaf}" for t, g, leaf in got - expected)
    return found, len(false), false


def run_size(
    nodes: int,
    *,
    latency: float = 0.02,
    baseline: bool = True,
    kubectl: str | None = None,
    workdir: Path | None = None,
    seed: int = 8,
    log: Any = None,
) -> SizeResult:
    """Generate, serve and measure one size; the work directory is removed unless given."""
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    own = workdir is None
    work = Path(workdir or tempfile.mkdtemp(prefix=f"llmd-bench-{nodes}-"))
    try:
        snap = work / "snapshot"
        t0 = time.perf_counter()
        manifest = synth.generate(nodes, snap, seed).as_dict()
        log(f"[{nodes} nodes] generated {manifest['pods']} pods in {time.perf_counter() - t0:.1f}s")
        data = load_snapshot(snap)
        home = work / "home"
        home.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "LLMD_TRIAGE_"))}
        env["HOME"] = str(home)
        with FakeApiServer(data, latency=latency) as server:
            kc = server.write_kubeconfig(work / "kubeconfig")
            env["KUBECONFIG"] = str(kc)

            triage = Run("llmd-triage", faults=len(manifest["faults"]))
            start = len(server.journal)
            with open(work / "triage.json", "wb") as out, open(work / "triage.err", "wb") as err:
                argv = [*triage_exe(), "scan", "--kubeconfig", str(kc), "-A", "-o", "json"]
                triage.returncode, triage.wall_s, triage.peak_rss_mb = _timed(argv, env, out, err)
            triage.requests, triage.by_verb = _count(server.journal, start, None if own else work / "triage.journal")
            try:
                report = json.loads((work / "triage.json").read_text())
                triage.found, triage.false, triage.false_targets = score_triage(report, manifest)
            except ValueError:
                triage.note = "no JSON report: " + (work / "triage.err").read_text()[-300:]
            log(
                f"[{nodes} nodes] llmd-triage: {triage.wall_s:.2f}s, {triage.requests} requests, "
                f"{triage.found}/{triage.faults} found, {triage.false} false, exit {triage.returncode}"
            )

            book: Run | None = None
            if baseline:
                book = Run("kubectl runbook", faults=len(manifest["faults"]))
                version = kubectl_version(kubectl) if kubectl else None
                if kubectl is None:
                    book.note = "kubectl not found"
                elif version is not None and version < WEBSOCKET_EXEC:
                    book.note = (
                        f"kubectl {version[0]}.{version[1]} execs over SPDY; the loopback server speaks WebSocket "
                        "(kubectl 1.30 or later)"
                    )
                else:
                    env_k = dict(env, KUBECTL=kubectl, PATH=f"{Path(kubectl).parent}:{env.get('PATH', '')}")
                    out_dir = work / "runbook"
                    start = len(server.journal)
                    with open(work / "runbook.log", "wb") as err:
                        argv = ["bash", str(BENCH / "baseline.sh"), str(out_dir)]
                        book.returncode, book.wall_s, book.peak_rss_mb = _timed(argv, env_k, err, err)
                    book.requests, book.by_verb = _count(
                        server.journal, start, None if own else work / "runbook.journal"
                    )
                    book.found, book.false, book.false_targets = runbook.score(out_dir, manifest)
                    log(
                        f"[{nodes} nodes] runbook: {book.wall_s:.1f}s, {book.requests} requests, "
                        f"{book.found}/{book.faults} flagged, {book.false} false"
                    )
        return SizeResult(nodes, manifest["pods"], triage, book)
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# startup


def _median_ms(argv: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def startup(runs: int) -> list[tuple[str, str, str]]:
    """(what, measured, target) rows: --version, --help, the TUI's first frame."""
    py = [sys.executable, "-m", "llmd_triage.cli.main"]
    rows = [
        ("`llmd-triage --version`", f"{_median_ms([*py, '--version'], runs):.0f} ms", "≤ 150 ms"),
        ("`llmd-triage --help`", f"{_median_ms([*py, '--help'], runs):.0f} ms", "≤ 150 ms"),
    ]
    tui = BENCH / "tui.py"
    if tui.exists():
        res = subprocess.run(
            [sys.executable, str(tui), "--first-frame", "--runs", str(runs)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        m = re.search(r"median\s+([\d.]+)\s*ms", res.stdout)
        lines = (res.stdout or res.stderr).strip().splitlines()
        shown = f"{float(m.group(1)):.0f} ms" if m else (lines[-1] if lines else f"no output (exit {res.returncode})")
        rows.append(("TUI first frame (`tui --demo`, 80x24)", shown, "≤ 0.7 s"))
    else:
        rows.append(("TUI first frame", "n/a (bench/tui.py not present)", "≤ 0.7 s"))
    return rows


# --------------------------------------------------------------------------------------------
# the table


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.0f}×" if b > 0 and a / b >= 10 else f"{a / b:.1f}×" if b > 0 else "-"


def _lists(r: Run) -> int:
    return r.by_verb.get("list", 0)


def _execlogs(r: Run) -> int:
    return r.by_verb.get("exec", 0) + r.by_verb.get("logs", 0)


def table(results: list[SizeResult], latency: float) -> str:
    head = (
        "| nodes | pods | run | wall s | API requests | of which LIST | exec + logs | peak RSS MB "
        "| injected faults found | false findings |\n"
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    rows = []
    for res in results:
        t = res.triage
        rows.append(
            f"| {res.nodes:,} | {res.pods:,} | llmd-triage | {t.wall_s:.2f} | {t.requests:,} | {_lists(t)} "
            f"| {_execlogs(t):,} | {t.peak_rss_mb:.0f} | {t.found}/{t.faults} | {t.false} |"
        )
        b = res.runbook
        if b is not None and not b.note:
            rows.append(
                f"| {res.nodes:,} | {res.pods:,} | kubectl runbook | {b.wall_s:.1f} | {b.requests:,} | {_lists(b)} "
                f"| {_execlogs(b):,} | {b.peak_rss_mb:.0f} | {b.found}/{b.faults} flagged | {b.false} |"
            )
            rows.append(
                f"| {res.nodes:,} | {res.pods:,} | runbook ÷ llmd-triage | {_ratio(b.wall_s, t.wall_s)} "
                f"| {_ratio(b.requests, t.requests)} | | | {_ratio(b.peak_rss_mb, t.peak_rss_mb)} | | |"
            )
        elif b is not None:
            rows.append(f"| {res.nodes:,} | {res.pods:,} | kubectl runbook | {b.note} | | | | | | |")
    notes = [f"\nLoopback API server at {latency * 1000:g} ms per request."]
    if len(results) >= 2:
        a, z = results[0], results[-1]
        notes.append(
            f"llmd-triage wall time from {a.nodes:,} to {z.nodes:,} nodes ({z.nodes / a.nodes:.0f}× the nodes): "
            f"{z.triage.wall_s / a.triage.wall_s:.1f}× the time."
        )
    for res in results:
        for run in (res.triage, res.runbook):
            if run is not None and run.false_targets and run.name == "llmd-triage":
                notes.append(f"false findings at {res.nodes:,} nodes: {', '.join(run.false_targets)}")
            if run is not None and run.note and run.name == "llmd-triage":
                notes.append(f"{run.name} at {res.nodes:,} nodes: {run.note}")
    return head + "\n".join(rows) + "\n" + "\n".join(notes) + "\n"


def startup_table(rows: list[tuple[str, str, str]]) -> str:
    out = "| startup | median | target |\n|---|---:|---|\n"
    return out + "".join(f"| {a} | {b} | {c} |\n" for a, b, c in rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,300,1000,3000", help="GPU node counts, comma-separated")
    ap.add_argument("--latency", type=float, default=0.02, help="seconds added to every API request")
    ap.add_argument("--no-baseline", action="store_true", help="skip the kubectl runbook runs")
    ap.add_argument("--no-install", action="store_true", help="do not apt-get install kubernetes-client")
    ap.add_argument("--startup-runs", type=int, default=7)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--keep", metavar="DIR", help="keep each size's snapshot and outputs under DIR/NODES")
    ap.add_argument("--json", metavar="FILE", help="also write the raw results as JSON")
    ap.add_argument("--replay", metavar="FILE", help="print the tables of a --json file again; run nothing")
    args = ap.parse_args(argv)
    if args.replay:
        saved = json.loads(Path(args.replay).read_text())
        results = [
            SizeResult(
                s["nodes"],
                s["pods"],
                Run(**s["llmd_triage"]),
                Run(**s["runbook"]) if s["runbook"] else None,
            )
            for s in saved["sizes"]
        ]
        print(table(results, saved["latency_s"]))
        print(startup_table([tuple(r) for r in saved["startup"]]))  # type: ignore[misc]
        return 0
    sizes = [int(s.replace("_", "").replace(",", "")) for s in args.sizes.split(",") if s.strip()]
    kubectl = None if args.no_baseline else kubectl_path(install=not args.no_install)
    results = []
    for n in sizes:
        work = Path(args.keep) / str(n) if args.keep else None
        if work is not None:
            work.mkdir(parents=True, exist_ok=True)
        results.append(
            run_size(
                n, latency=args.latency, baseline=not args.no_baseline, kubectl=kubectl, workdir=work, seed=args.seed
            )
        )
    rows = startup(args.startup_runs)
    print(table(results, args.latency))
    print(startup_table(rows))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "latency_s": args.latency,
                    "sizes": [
                        {
                            "nodes": r.nodes,
                            "pods": r.pods,
                            "llmd_triage": r.triage.__dict__,
                            "runbook": r.runbook.__dict__ if r.runbook else None,
                        }
                        for r in results
                    ],
                    "startup": rows,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
