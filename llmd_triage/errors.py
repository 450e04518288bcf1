"""One error family. Every error that points into a file carries file:line:col and the node id,
because the person reading it has to find the spot in an editor, not in a traceback."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Location:
    """A 1-based position in a source file; line 0 means "the file as a whole"."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.col or 1}"
        return self.file


@dataclass(frozen=True)
class Finding:
    """One problem in a tree or case file, printed like a compiler diagnostic."""

    location: Location
    rule: str
    message: str
    node: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        where = f"node '{self.node}': " if self.node else ""
        return f"{self.location}: {self.rule}: {where}{self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.location.file,
            "line": self.location.line,
            "col": self.location.col,
            "rule": self.rule,
            "node": self.node,
            "severity": self.severity,
            "message": self.message,
        }


class TriageError(Exception):
    """Base of every error this tool raises on purpose; the CLI prints it as one line."""

    exit_code: int = 2


@dataclass
class TreeError(TriageError):
    """A tree or case file that cannot be loaded; carries every finding, not just the first."""

    findings: list[Finding] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(f) for f in self.findings)


class UsageError(TriageError):
    """The user asked for something that does not make sense (unknown tree, bad target...)."""


class SnapshotError(TriageError):
    """A snapshot directory that is missing or malformed."""
