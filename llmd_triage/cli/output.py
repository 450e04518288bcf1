"""Where a report goes and in which format: `-o FORMAT` (stdout) or `-o FILE` (written atomically).

kubectl's habit is `-o FORMAT`; a CI job wants a file. `-o` takes either: a value that names a format
prints that format on stdout, anything else is a file whose format follows from its extension
(`.md`/`.markdown`, `.json`, `.html`/`.htm`, `.xml` for JUnit) unless `--format` says otherwise.
A file is written to a temporary file in the same folder and renamed over the target, so a reader (a
CI step, a log shipper) never sees half a report.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmd_triage.errors import UsageError
from llmd_triage.files import write_atomic

FORMATS = ("markdown", "json", "html", "junit")
_ALIASES = {"md": "markdown", "xml": "junit"}
_EXTENSIONS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".json": "json",
    ".html": "html",
    ".htm": "html",
    ".xml": "junit",
}


@dataclass(frozen=True)
class OutputSpec:
    format: str
    path: Path | None  # None: stdout

    @property
    def where(self) -> str:
        return str(self.path) if self.path else "stdout"


def resolve_output(output: str | None, fmt: str | None) -> OutputSpec:
    """Decide format and destination from `-o/--output` and `--format`; UsageError (exit 2) when they clash."""
    fmt = _ALIASES.get(fmt, fmt) if fmt else None
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} is not one of: {', '.join(FORMATS)}")
    if output is None or output == "-":
        return OutputSpec(fmt or "markdown", None)
    named = _ALIASES.get(output, output)
    if named in FORMATS:
        if fmt is not None and fmt != named:
            raise UsageError(f"-o {output} and --format {fmt} disagree; give one, or -o FILE with --format")
        return OutputSpec(named, None)
    path = Path(output)
    if fmt is None:
        fmt = _EXTENSIONS.get(path.suffix.lower())
        if fmt is None:
            raise UsageError(
                f"-o {output}: not a format ({', '.join(FORMATS)}) and the extension does not say one "
                "(.md, .json, .html, .xml); add --format"
            )
    if path.is_dir():
        raise UsageError(f"-o {output} is a folder; name a file")
    if not path.parent.is_dir():
        raise UsageError(f"-o {output}: folder {path.parent} does not exist")
    return OutputSpec(fmt, path)


def render(
    fmt: str,
    walks: Sequence[Any],
    *,
    interrupted: bool = False,
    scope: Mapping[str, Any] | None = None,
    fail_on: str | None = None,
) -> str:
    """The report in one format. Every format renders the same redacted report dict."""
    from llmd_triage.report.json_report import dump_json, report_dict

    data = report_dict(walks, interrupted=interrupted, scope=scope, fail_on=fail_on)
    if fmt == "json":
        return dump_json(data)
    if fmt == "html":
        from llmd_triage.report.html import render_html_report

        return render_html_report(data)
    if fmt == "junit":
        from llmd_triage.report.junit import render_junit_report

        return render_junit_report(data)
    from llmd_triage.report.markdown import render_markdown_report

    return render_markdown_report(data)


def emit(spec: OutputSpec, text: str) -> None:
    if spec.path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        try:
            write_atomic(spec.path, text)
        except OSError as exc:
            raise UsageError(f"cannot write {spec.path}: {exc.strerror or exc}") from None
