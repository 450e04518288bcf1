"""Prometheus data as plain values: the text exposition format and the HTTP API's `data` object.

`prom_text` reads what a pod's /metrics serves (DCGM exporter, vLLM, EPP): the Prometheus text
format 0.0.4 and OpenMetrics 1.0 (HELP/TYPE/UNIT lines, escaped label values, optional timestamps,
NaN/±Inf, histograms and summaries, exemplars, `# EOF`). `vector_summary` turns an API answer
(vector, matrix, scalar or string) into series plus count/max/min/sum that conditions can compare.

Values are floats; NaN becomes None (a condition cannot compare NaN); ±Inf stay floats. Neither
function raises on bad input: what could not be read goes into `errors`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from llmd_triage.parsers import parser

#: at most this many problems are listed in `errors`; the rest are counted
MAX_ERRORS = 50
#: vector_summary keeps this many series (count/max/min/sum cover all of them)
MAX_SERIES = 1000

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
# one label (bare or quoted name), or a bare quoted metric name (UTF-8 names, Prometheus 3),
# followed by `,` or the closing `}`
_LABEL = re.compile(
    r'\s*(?:([a-zA-Z_][a-zA-Z0-9_]*)|"((?:[^"\\]|\\.)*)")\s*(?:=\s*"((?:[^"\\]|\\.)*)")?\s*(,\s*\}|,|\})'
)
_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "\\": "\\", '"': '"'}
_TYPES = frozenset(
    {"counter", "gauge", "histogram", "summary", "untyped", "unknown", "gaugehistogram", "stateset", "info"}
)


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), text)


def to_float(text: Any) -> float | None:
    """A Prometheus value as a float: "NaN" (and anything unreadable) is None, "+Inf" is inf."""
    try:
        value = float(text)
    except (TypeError, ValueError, OverflowError):
        return None
    return None if math.isnan(value) else value


def _read_value(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"value {text[:40]!r} is not a number") from None
    return None if math.isnan(value) else value


class _Errors:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.dropped = 0

    def add(self, line_no: int, reason: str, line: str) -> None:
        if len(self.items) < MAX_ERRORS:
            shown = line if len(line) <= 200 else line[:200] + "…"
            self.items.append(f"line {line_no}: {reason}: {shown}")
        else:
            self.dropped += 1

    def result(self) -> list[str]:
        return self.items + ([f"… and {self.dropped} more problems"] if self.dropped else [])


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines without building one list of the whole text (a 20 MB exposition stays streamed)."""
    start, n, size = 0, 0, len(text)
    while start < size:
        end = text.find("\n", start)
        if end < 0:
            end = size
        n += 1
        yield n, text[start:end].rstrip("\r")
        start = end + 1


def _parse_labels(line: str, pos: int) -> tuple[str | None, dict[str, str], int]:
    """Parse from just after `{`; returns (quoted metric name or None, labels, position after `}`)."""
    labels: dict[str, str] = {}
    name: str | None = None
    rest = line[pos:].lstrip()
    if rest.startswith("}"):
        return None, labels, line.index("}", pos) + 1
    while True:
        m = _LABEL.match(line, pos)
        if m is None:
            raise ValueError("bad label set")
        bare, quoted, value = m.group(1), m.group(2), m.group(3)
        if value is None:
            if quoted is None or name is not None or labels:
                raise ValueError("label without a value")
            name = _unescape(quoted)
        else:
            key = bare if bare is not None else _unescape(quoted or "")
            labels[key] = _unescape(value)
        pos = m.end()
        if m.group(4) != ",":
            return name, labels, pos


def _parse_sample(line: str) -> dict[str, Any]:
    m = _NAME.match(line)
    name: str | None = None
    pos = 0
    if m:
        name, pos = m.group(0), m.end()
    labels: dict[str, str] = {}
    if pos < len(line) and line[pos] == "{":
        quoted, labels, pos = _parse_labels(line, pos + 1)
        if quoted is not None:
            if name is not None:
                raise ValueError("two metric names")
            name = quoted
    if not name:
        raise ValueError("no metric name")
    rest = line[pos:]
    if rest and rest[0] not in " \t":
        raise ValueError("no space before the value")
    # an OpenMetrics exemplar follows ` # `; it is not part of the sample
    hash_at = rest.find("#")
    if hash_at >= 0:
        rest = rest[:hash_at]
    fields = rest.split()
    if not fields or len(fields) > 2:
        raise ValueError("expected a value and an optional timestamp")
    value = _read_value(fields[0])
    timestamp: int | float | None = None
    if len(fields) == 2:
        try:
            timestamp = int(fields[1])
        except ValueError:
            timestamp = float(fields[1])
            if not math.isfinite(timestamp):
                raise ValueError("timestamp is not a finite number") from None
    return {"name": name, "labels": labels, "value": value, "timestamp": timestamp}


def _family(families: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    fam = families.get(name)
    if fam is None:
        fam = families[name] = {"type": None, "help": None}
    return fam


@parser("prom_text")
def parse_prom_text(text: str) -> dict[str, Any]:
    """Text exposition → {families: {name: {type, help[, unit]}}, samples: [{name, labels, value, timestamp}], errors}.

    `timestamp` is None unless the line carries one (milliseconds in the Prometheus format, seconds
    in OpenMetrics, kept as written). Histogram and summary samples keep their full names
    (`*_bucket` with `le`, `*_sum`, `*_count`); their family is the base name.
    """
    families: dict[str, dict[str, Any]] = {}
    samples: list[dict[str, Any]] = []
    errors = _Errors()
    if not isinstance(text, str):
        return {"families": families, "samples": samples, "errors": [f"expected text, got {type(text).__name__}"]}
    for n, raw in _lines(text):
        line = raw.strip()
        if not line:
            continue
        if line[0] == "#":
            parts = line[1:].split(None, 2)
            if not parts or parts[0] not in ("HELP", "TYPE", "UNIT"):
                continue  # a comment, or `# EOF`
            if len(parts) < 2 or not _NAME.fullmatch(parts[1].strip('"')):
                errors.add(n, f"# {parts[0]} without a metric name", raw)
                continue
            fam = _family(families, parts[1].strip('"'))
            arg = parts[2] if len(parts) > 2 else ""
            if parts[0] == "HELP":
                fam["help"] = _unescape(arg)
            elif parts[0] == "UNIT":
                fam["unit"] = arg.strip()
            else:
                kind = arg.strip().lower()
                if kind in _TYPES:
                    fam["type"] = kind
                else:
                    errors.add(n, f"unknown metric type {arg.strip()!r}", raw)
            continue
        try:
            samples.append(_parse_sample(line))
        except (ValueError, IndexError, OverflowError) as exc:
            errors.add(n, str(exc) or type(exc).__name__, raw)
    return {"families": families, "samples": samples, "errors": errors.result()}


def series(data: Any, name: str, **label_filters: str) -> list[dict[str, Any]]:
    """Samples of `name` whose labels equal every filter, from prom_text's result (or a samples list).

    `series(d, "DCGM_FI_DEV_XID_ERRORS", gpu="0")`; a filter value None means "the label is absent".
    Never raises: anything that is not parsed data gives [].
    """
    samples = data.get("samples") if isinstance(data, dict) else data
    if not isinstance(samples, list):
        return []
    out = []
    for s in samples:
        if not isinstance(s, dict) or s.get("name") != name:
            continue
        labels = s.get("labels") if isinstance(s.get("labels"), dict) else {}
        if all(labels.get(k) == v for k, v in label_filters.items()):
            out.append(s)
    return out


def _is_pair(pair: Any) -> bool:
    return isinstance(pair, (list, tuple)) and len(pair) == 2


def _point(pair: Any) -> tuple[float | None, float | None]:
    """A [time, "value"] pair → (time, value); anything else → (None, None)."""
    if _is_pair(pair):
        return to_float(pair[0]), to_float(pair[1])
    return None, None


def vector_summary(api_data: Any) -> dict[str, Any]:
    """An API `data` object → {result_type, series, count, max, min, sum, truncated, errors}.

    Each series is {labels, value, time}; a matrix series adds `values` and `timestamps` (oldest
    first) and its `value` is the last one. `count` is the number of series; `max`/`min` are None
    when no series has a number; `sum` is 0.0 then. A scalar or string answer is one series with
    no labels (a string's text in `text`). A native histogram sample has value None and its
    raw data in `histogram`. Full answers from /api/v1/query ({status, data}) are unwrapped.
    """
    out: dict[str, Any] = {
        "result_type": None,
        "series": [],
        "count": 0,
        "max": None,
        "min": None,
        "sum": 0.0,
        "truncated": False,
        "errors": [],
    }
    errors: list[str] = out["errors"]
    if isinstance(api_data, dict) and "resultType" not in api_data and isinstance(api_data.get("data"), dict):
        api_data = api_data["data"]
    if not isinstance(api_data, dict):
        errors.append(f"expected the API's data object, got {type(api_data).__name__}")
        return out
    rtype = api_data.get("resultType")
    result = api_data.get("result")
    out["result_type"] = rtype if isinstance(rtype, str) else None
    all_series: list[dict[str, Any]] = []
    if rtype in ("scalar", "string"):
        if _is_pair(result):
            t = to_float(result[0])
            if rtype == "scalar":
                all_series.append({"labels": {}, "value": to_float(result[1]), "time": t})
            else:
                all_series.append({"labels": {}, "value": None, "time": t, "text": str(result[1])})
        else:
            errors.append(f"a {rtype} result is not a [time, value] pair")
    elif rtype in ("vector", "matrix"):
        if not isinstance(result, list):
            errors.append(f"a {rtype} result is not a list")
            result = []
        for i, item in enumerate(result):
            if not isinstance(item, dict):
                errors.append(f"result[{i}] is not an object")
                continue
            metric = item.get("metric")
            labels = {str(k): str(v) for k, v in metric.items()} if isinstance(metric, dict) else {}
            if rtype == "vector":
                entry: dict[str, Any] = {"labels": labels, "value": None, "time": None}
                if "value" in item:
                    if not _is_pair(item["value"]):
                        errors.append(f"result[{i}] value is not a [time, value] pair")
                    entry["time"], entry["value"] = _point(item["value"])
                elif "histogram" in item:
                    entry["time"] = _point(item.get("histogram"))[0]
                    entry["histogram"] = item["histogram"]
                else:
                    errors.append(f"result[{i}] has no value")
            else:
                raw = item.get("values")
                if not isinstance(raw, list):
                    raw = []
                    if "histograms" not in item:
                        errors.append(f"result[{i}] has no values")
                points = [_point(p) for p in raw]
                entry = {
                    "labels": labels,
                    "value": points[-1][1] if points else None,
                    "time": points[-1][0] if points else None,
                    "values": [v for _, v in points],
                    "timestamps": [t for t, _ in points],
                }
            all_series.append(entry)
    else:
        errors.append(f"unknown resultType {rtype!r}")
    numbers = [s["value"] for s in all_series if isinstance(s["value"], float)]
    out["count"] = len(all_series)
    if numbers:
        out["max"], out["min"] = max(numbers), min(numbers)
        try:
            total = math.fsum(numbers)
        except (ValueError, OverflowError):  # +Inf plus -Inf, or finite values summing past the float range
            total = sum(numbers)
        out["sum"] = None if math.isnan(total) else total
    out["series"] = all_series[:MAX_SERIES]
    out["truncated"] = len(all_series) > MAX_SERIES
    return out


def format_labels(labels: dict[str, str]) -> str:
    """`name{a="1",b="2"}` as PromQL writes a series (the name from `__name__`)."""
    name = labels.get("__name__", "")
    rest = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{rest}}}" if rest or not name else name


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
