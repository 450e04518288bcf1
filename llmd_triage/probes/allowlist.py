"""Which commands an exec probe may run: read-only diagnostics only, with rules for their arguments.

Trees are shared like code, and an exec runs with the rights of a pod on a GPU node, so the default is a closed
list: a command that is not here, or an argument that writes or resets (`nvidia-smi -r`, `dmesg -c`, `rdma link
set`), is refused with the reason, by `lint` and again before the exec. An operator who trusts a tree can allow
more, by flag (`--allow-exec 'nvidia-smi -r'`) or the LLMD_TRIAGE_ALLOW_EXEC environment variable; what they
allow is a prefix of argv words, never a pattern.
"""

from __future__ import annotations

import contextvars
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

Check = Callable[[list[str]], str | None]

#: where `cat`, `ls`, `head` may look: kernel and device state, the shared-memory mount, NCCL's config
READABLE_ROOTS = ("/proc/", "/sys/", "/dev/shm", "/etc/nccl.conf")
_SAFE_WORD = re.compile(r"^[A-Za-z0-9_.,:=/@%+-]*$")


def _flags(allowed: Iterable[str], with_value: Iterable[str] = (), positional: bool = False) -> Check:
    """Every word must be an allowed flag (a `--flag=value` counts by its name), the value of a flag that takes
    one, or, with `positional`, a plain word (a device name, a path) that is not an option."""
    allowed_set, value_set = set(allowed), set(with_value)

    def check(args: list[str]) -> str | None:
        i = 0
        while i < len(args):
            a = args[i]
            name = a.split("=", 1)[0] if a.startswith("--") else a
            if name in value_set:
                if "=" not in a:
                    i += 1  # the next word is this flag's value
                    if i >= len(args):
                        return f"{a} needs a value"
                    if not _SAFE_WORD.match(args[i]):
                        return f"the value {args[i]!r} of {a} has characters a diagnostic never needs"
            elif name in allowed_set:
                pass
            elif a.startswith("-"):
                if len(a) > 2 and not a.startswith("--") and all(f"-{c}" in allowed_set for c in a[1:]):
                    pass  # combined short flags such as -la
                else:
                    return f"{a} is not a read-only option here"
            elif not positional:
                return f"{a!r} is not expected here"
            i += 1
        return None

    return check


def _paths(flag_check: Check) -> Check:
    """Flags as `flag_check` allows, and every other word a path under READABLE_ROOTS after normalising."""

    def check(args: list[str]) -> str | None:
        opts = [a for a in args if a.startswith("-")]
        problem = flag_check(opts)
        if problem:
            return problem
        paths = [a for a in args if not a.startswith("-")]
        if not paths:
            return "name the file or folder to read"
        for p in paths:
            norm = posixpath.normpath(p)
            if not p.startswith("/") or not any(norm == r.rstrip("/") or norm.startswith(r) for r in READABLE_ROOTS):
                return f"{p!r} is outside what diagnostics read ({', '.join(READABLE_ROOTS)})"
        return None

    return check


def _nvidia_smi(args: list[str]) -> str | None:
    if args[:1] == ["topo"]:
        rest = args[1:]
        if rest in (["-m"], ["--matrix"]):
            return None
        if len(rest) == 2 and rest[0] == "-p2p" and rest[1] in ("r", "w", "n", "a", "p"):
            return None
        return f"`nvidia-smi topo {' '.join(rest)}` is not a read-only form (use -m or -p2p r|w|n|a|p)"
    if args[:1] == ["nvlink"]:
        return _flags(["-s", "--status", "-c", "--capabilities", "-e", "--error-counters", "-R"], ["-i", "--id"])(
            args[1:]
        )
    if args[:1] in (["-r"], ["--gpu-reset"]):
        return "`nvidia-smi -r` resets a GPU: that is a remediation, not a probe"
    return _flags(
        ["-q", "--query", "-x", "--xml-format", "-L", "--list-gpus", "-u", "--unit"],
        ["-d", "--display", "-i", "--id", "--query-gpu", "--query-compute-apps", "--query-remapped-rows",
         "--query-retired-pages", "--format", "-f", "--filename"],
    )(args)  # fmt: skip


def _rdma(args: list[str]) -> str | None:
    opts = [a for a in args if a.startswith("-")]
    words = [a for a in args if not a.startswith("-")]
    if problem := _flags(["-j", "--json", "-d", "--details", "-p", "--pretty"])(opts):
        return problem
    if not words or words[0] not in ("link", "dev", "resource", "res", "system", "sys", "statistic", "stat"):
        return "rdma: only `rdma link|dev|resource|system|statistic [show ...]` reads"
    if len(words) > 1 and words[1] not in ("show", "list"):
        return f"`rdma {words[0]} {words[1]}` changes state; only `show` is a probe"
    return None


def _ip(args: list[str]) -> str | None:
    opts = [a for a in args if a.startswith("-")]
    words = [a for a in args if not a.startswith("-")]
    if problem := _flags(["-j", "-json", "-d", "-details", "-s", "-stats", "-br", "-brief", "-4", "-6"])(opts):
        return problem
    if not words or words[0] not in ("link", "addr", "address", "route", "neigh", "rule"):
        return "ip: only link/addr/route/neigh/rule show reads"
    if len(words) > 1 and words[1] not in ("show", "list", "dev"):
        return f"`ip {words[0]} {words[1]}` changes state; only `show` is a probe"
    return None


#: the read-only diagnostics, by command name
RULES: dict[str, Check] = {
    "nvidia-smi": _nvidia_smi,
    "dmesg": _flags(
        ["-T", "--ctime", "-k", "--kernel", "-x", "--decode", "-t", "--notime", "-L", "--color"],
        ["-l", "--level", "-f", "--facility", "--time-format"],
    ),
    "journalctl": _flags(
        ["-k", "--dmesg", "--no-pager", "-q", "--quiet", "-r", "--reverse", "--utc"],
        [
            "-b",
            "--boot",
            "-o",
            "--output",
            "--since",
            "--until",
            "-n",
            "--lines",
            "-g",
            "--grep",
            "-u",
            "--unit",
            "-p",
            "--priority",
        ],
    ),
    "ibstat": _flags(["-l", "--list_of_cas", "-p", "--port_list", "-s", "--short", "-v", "--verbose"], positional=True),
    "ibv_devinfo": _flags(["-v", "--verbose", "-l", "--list"], ["-d", "--ib-dev", "-i", "--ib-port"]),
    "ibv_devices": _flags([]),
    "ibdev2netdev": _flags(["-v"]),
    "rdma": _rdma,
    "ip": _ip,
    "lspci": _flags(
        ["-v", "-vv", "-vvv", "-nn", "-n", "-k", "-t", "-D", "-mm", "-m", "-x", "-xxx", "-b", "-PP", "-P"], ["-s", "-d"]
    ),
    "findmnt": _flags(
        ["-n", "--noheadings", "-J", "--json", "-l", "--list", "-a", "--all", "-D", "--df"],
        ["-o", "--output", "-T", "--target", "-t", "--types", "-S", "--source"],
    ),
    "df": _flags(["-h", "-H", "-T", "-P", "-k", "-i", "-l"], ["--output", "-t"], positional=True),
    "nproc": _flags([]),
    # `which TOOL...`: whether a node pod carries a tool (`llmd-triage toolbox status`)
    "which": _flags([], positional=True),
    "uname": _flags(["-a", "-r", "-m", "-s"]),
    "cat": _paths(_flags([])),
    "ls": _paths(_flags(["-l", "-a", "-d", "-h", "-1", "-R", "-L", "-n", "-t", "-r", "-A", "-i"])),
    "head": _paths(_flags([], ["-n", "-c"])),
    "tail": _paths(_flags([], ["-n", "-c"])),
    "stat": _paths(_flags(["-L", "-f"], ["-c", "--format"])),
}


def _timeout(args: list[str]) -> str | None:
    """`timeout N CMD ...`: a deadline around an allowed diagnostic (nvidia-smi can hang on a lost GPU)."""
    if len(args) < 2 or not re.fullmatch(r"\d+(\.\d+)?[smh]?", args[0]):
        return "timeout: use `timeout SECONDS COMMAND ...`"
    return check_argv(args[1:], ())


@dataclass(frozen=True)
class ExecPolicy:
    """The closed list plus what the operator allowed: argv prefixes such as ('nvidia-smi', '-r')."""

    allowed_prefixes: tuple[tuple[str, ...], ...] = field(default_factory=tuple)

    def check(self, argv: Sequence[str]) -> str | None:
        return check_argv(list(argv), self.allowed_prefixes)

    @classmethod
    def from_words(cls, entries: Iterable[str]) -> ExecPolicy:
        import shlex

        return cls(tuple(tuple(shlex.split(e)) for e in entries if e.strip()))

    @classmethod
    def from_env(cls, extra: Iterable[str] = ()) -> ExecPolicy:
        env = os.environ.get("LLMD_TRIAGE_ALLOW_EXEC", "")
        return cls.from_words([*env.split(";"), *extra])


def check_argv(argv: list[str], allowed_prefixes: Iterable[tuple[str, ...]] = ()) -> str | None:
    """None when argv may run; else why not, in a sentence that names the command."""
    if not argv:
        return "an empty command"
    for prefix in allowed_prefixes:
        if prefix and tuple(argv[: len(prefix)]) == prefix:
            return None
    for word in argv:
        if any(ord(c) < 32 for c in word):
            return f"{word!r} holds control characters"
    cmd = argv[0]
    if cmd == "timeout":
        return _timeout(argv[1:])
    if "/" in cmd:
        return f"{cmd!r}: name the command, not a path (the allowlist is by command name)"
    rule = RULES.get(cmd)
    if rule is None:
        return f"{cmd} is not a read-only diagnostic this tool knows (allowed: {', '.join(sorted(RULES))}, timeout)"
    problem = rule(argv[1:])
    return f"{cmd}: {problem}" if problem else None


#: the policy of the current run; the CLI and the TUI set it from --allow-exec / LLMD_TRIAGE_ALLOW_EXEC
CURRENT: contextvars.ContextVar[ExecPolicy | None] = contextvars.ContextVar("llmd_triage_exec_policy", default=None)
_STRICT = ExecPolicy()


def current_policy() -> ExecPolicy:
    return CURRENT.get() or _STRICT


def refusal_hint(argv: Sequence[str]) -> str:
    import shlex

    return (
        f"this tree runs `{shlex.join(argv)}`, which is not a read-only diagnostic; if you trust the tree, allow it "
        f"with --allow-exec {shlex.quote(shlex.join(argv[:2]))} (or LLMD_TRIAGE_ALLOW_EXEC)"
    )
