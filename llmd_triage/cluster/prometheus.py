"""Prometheus as a metrics source for probes: a live HTTP client, a recorded (snapshot) replay, and
a recorder that captures what a walk asked.

The client speaks the Prometheus HTTP API (/api/v1/query, /api/v1/query_range) over the standard
library's urllib, run in a worker thread so the event loop stays free; it adds no dependency. Every
failure is a ClusterError whose kind says what to check: `unavailable` (no answer, 5xx),
`timeout`, `unauthorized` (401), `forbidden` (403), `not_found` (404: not a Prometheus API at that
URL), `error` (400/422: Prometheus rejected the query; its own message is kept), `garbage` (an
answer that is not the API's JSON, e.g. a login page).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import ssl
import time as _time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Protocol

from llmd_triage.cluster.base import ClusterError

#: answers larger than this are refused (a query matching millions of series)
MAX_ANSWER_BYTES = 64 * 1024 * 1024
#: queries longer than this go as a POST form (Prometheus accepts both) so the URL stays short
MAX_GET_QUERY = 4000

TOKEN_HINT = "check the bearer token file (--prometheus-token-file): it may be missing, expired or for another cluster"


class MetricsSource(Protocol):
    async def query(self, expr: str, time: str | None = None) -> dict[str, Any]:
        """The `data` object of /api/v1/query: {resultType, result}."""
        ...

    async def query_range(self, expr: str, start: float | str, end: float | str, step: float | str) -> dict[str, Any]:
        """The `data` object of /api/v1/query_range: {resultType: matrix, result}."""
        ...


def _fmt_number(value: float | int | str) -> str:
    if isinstance(value, str):
        return value
    return f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


class PrometheusClient:
    """A read-only client for one Prometheus (or Thanos Querier, or anything serving its query API).

    `url` is the base, e.g. `http://prometheus-k8s.monitoring:9090` or
    `https://thanos-querier.openshift-monitoring:9091`; a path prefix (`--web.route-prefix`) is
    kept. The bearer token file is read on every call, so a rotated token is picked up. A URL that
    is not http(s) raises ValueError here, before any query.
    """

    def __init__(
        self,
        url: str,
        *,
        bearer_token_file: str | os.PathLike[str] | None = None,
        timeout: float = 10.0,
        verify_tls: bool = True,
        ca_file: str | os.PathLike[str] | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(url.strip())
        try:
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            port_ok = False
        if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
            raise ValueError(f"Prometheus URL {url!r} is not http(s)://HOST[:PORT][/PREFIX]")
        self.url = url.strip().rstrip("/")
        self.bearer_token_file = os.fspath(bearer_token_file) if bearer_token_file is not None else None
        self.timeout = float(timeout)
        self.verify_tls = verify_tls
        self.ca_file = os.fspath(ca_file) if ca_file is not None else None
        self._ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            try:
                self._ssl = ssl.create_default_context(cafile=self.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f"cannot load the CA file {self.ca_file}: {exc}") from None
            if not verify_tls:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE
        self.requests = 0

    def __repr__(self) -> str:
        return f"PrometheusClient({self.url!r})"

    async def query(self, expr: str, time: str | float | None = None) -> dict[str, Any]:
        params = [("query", expr)]
        if time is not None:
            params.append(("time", _fmt_number(time)))
        return await asyncio.to_thread(self._call, "/api/v1/query", params)

    async def query_range(self, expr: str, start: float | str, end: float | str, step: float | str) -> dict[str, Any]:
        params = [("query", expr), ("start", _fmt_number(start)), ("end", _fmt_number(end))]
        params.append(("step", _fmt_number(step)))
        return await asyncio.to_thread(self._call, "/api/v1/query_range", params)

    # ------------------------------------------------------------------ the blocking part
    def _token(self) -> str | None:
        if self.bearer_token_file is None:
            return None
        try:
            with open(self.bearer_token_file, encoding="utf-8") as fh:
                token = fh.read(1024 * 1024).strip()
        except OSError as exc:
            raise ClusterError(
                "error",
                f"cannot read the Prometheus bearer token file {self.bearer_token_file}: {exc.strerror or exc}",
                "check --prometheus-token-file names a readable file",
            ) from None
        except UnicodeDecodeError:
            raise ClusterError(
                "error",
                f"the Prometheus bearer token file {self.bearer_token_file} is not text",
                "check --prometheus-token-file names the token, not another file",
            ) from None
        if not token:
            raise ClusterError(
                "unauthorized",
                f"the Prometheus bearer token file {self.bearer_token_file} is empty",
                TOKEN_HINT,
            )
        return token

    def _call(self, path: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        what = f"Prometheus {self.url}"
        headers = {"Accept": "application/json", "User-Agent": "llmd-triage"}
        token = self._token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        encoded = urllib.parse.urlencode(params)
        if len(encoded) > MAX_GET_QUERY:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            req = urllib.request.Request(self.url + path, data=encoded.encode(), headers=headers, method="POST")
        else:
            req = urllib.request.Request(f"{self.url}{path}?{encoded}", headers=headers, method="GET")
        deadline = _time.monotonic() + self.timeout
        self.requests += 1
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self._ssl) as resp:
                body = _read_capped(resp, deadline)
                content_type = resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            try:
                body = _read_capped(exc, deadline)
            except (OSError, ClusterError):
                body = b""
            finally:
                exc.close()
            raise _http_error(what, exc.code, exc.reason, body) from None
        except urllib.error.URLError as exc:
            raise _network_error(what, exc.reason, self.timeout) from None
        except ClusterError:
            raise
        except TimeoutError:
            raise ClusterError("timeout", f"{what}: no answer within {self.timeout:g}s") from None
        except ssl.SSLError as exc:
            raise _network_error(what, exc, self.timeout) from None
        except (OSError, ValueError) as exc:  # reset, closed mid-answer, http.client oddities
            raise _network_error(what, exc, self.timeout) from None
        except Exception as exc:  # http.client.HTTPException (bad status line, incomplete read) and kin
            raise ClusterError("unavailable", f"{what}: the connection broke: {type(exc).__name__}: {exc}") from None
        return _decode(what, body, content_type)


def _read_capped(resp: Any, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        if _time.monotonic() > deadline:
            raise TimeoutError
        chunk = resp.read(256 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise ClusterError(
                "garbage",
                f"the Prometheus answer is larger than {MAX_ANSWER_BYTES // (1024 * 1024)} MiB",
                "narrow the query (aggregate with sum/max by, or add label matchers)",
            )
        chunks.append(chunk)


def _prom_error(body: bytes) -> tuple[str | None, str | None]:
    """(errorType, error) from Prometheus's JSON error answer, or (None, None)."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if isinstance(doc, dict) and doc.get("status") == "error":
        return str(doc.get("errorType") or "") or None, str(doc.get("error") or "") or None
    return None, None


def _snippet(body: bytes) -> str:
    text = body[:200].decode("utf-8", "replace").strip()
    return " ".join(text.split())


def _http_error(what: str, status: int, reason: str | None, body: bytes) -> ClusterError:
    etype, message = _prom_error(body)
    detail = message or _snippet(body) or (reason or "")
    if status == 401:
        return ClusterError("unauthorized", f"{what}: 401 Unauthorized: {detail}".rstrip(": "), TOKEN_HINT)
    if status == 403:
        return ClusterError(
            "forbidden",
            f"{what}: 403 Forbidden: {detail}".rstrip(": "),
            "the token is valid but may not query this Prometheus (e.g. it lacks the namespace or "
            "cluster-monitoring-view role behind an RBAC proxy)",
        )
    if status == 404:
        return ClusterError(
            "not_found",
            f"{what}: 404 at the query API: {detail}".rstrip(": "),
            "pass the Prometheus base URL (e.g. http://prometheus-k8s.monitoring:9090), "
            "with its route prefix if it has one",
        )
    if etype == "timeout" or status == 504:
        return ClusterError(
            "timeout",
            f"{what}: the query timed out: {detail}".rstrip(": "),
            "narrow the query or its range, or retry",
        )
    if etype in ("bad_data", "execution") or status in (400, 422):
        return ClusterError(
            "error",
            f"Prometheus rejected the query: {detail}",
            "fix the PromQL in the tree (try it in the Prometheus UI)",
        )
    if status >= 500:
        return ClusterError("unavailable", f"{what}: {status} {reason or ''}: {detail}".replace("  ", " ").rstrip(": "))
    return ClusterError("error", f"{what}: HTTP {status}: {detail}".rstrip(": "))


def _network_error(what: str, reason: Any, timeout: float) -> ClusterError:
    if isinstance(reason, TimeoutError):
        return ClusterError("timeout", f"{what}: no answer within {timeout:g}s")
    if isinstance(reason, ssl.SSLCertVerificationError):
        return ClusterError(
            "unavailable",
            f"{what}: TLS verification failed: {reason.verify_message or reason}",
            "pass the CA that signed its certificate (--prometheus-ca-file), "
            "or --prometheus-insecure to skip the check",
        )
    if isinstance(reason, socket.gaierror):
        return ClusterError(
            "unavailable", f"{what}: the host name does not resolve ({reason})", "check the URL's host name"
        )
    if isinstance(reason, ConnectionRefusedError):
        return ClusterError(
            "unavailable",
            f"{what}: connection refused",
            "check the URL and port; from outside the cluster, port-forward first "
            "(kubectl port-forward -n monitoring svc/prometheus-k8s 9090)",
        )
    text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    return ClusterError("unavailable", f"{what}: {text}", "check the URL and that Prometheus is reachable from here")


def _decode(what: str, body: bytes, content_type: str) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        hint = None
        if "html" in content_type.lower() or body.lstrip()[:1] == b"<":
            hint = "the URL answered with a web page (an auth proxy's login page?); use the query API's URL and a token"
        raise ClusterError("garbage", f"{what}: the answer is not JSON: {_snippet(body)!r}", hint) from None
    if not isinstance(doc, dict) or doc.get("status") != "success":
        status = doc.get("status") if isinstance(doc, dict) else None
        err = doc.get("error") if isinstance(doc, dict) else None
        message = f"{what}: the answer's status is {status!r}, not 'success'" + (f": {err}" if err else "")
        raise ClusterError("garbage", message)
    data = doc.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("resultType"), str) or "result" not in data:
        raise ClusterError("garbage", f"{what}: the answer has no data.resultType/result")
    return data


# ---------------------------------------------------------------------- replay and record
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`|\s+', re.S)
_WORD = re.compile(r"[A-Za-z0-9_:.]")


def normalize_query(expr: str) -> str:
    """PromQL with insignificant whitespace dropped and string literals untouched.

    `sum by (pod) (x{a="b  c"})` and `sum by(pod)(x{ a = "b  c" })` normalise the same; whitespace
    between two word characters (`x and y`) stays, as one space.
    """
    expr = expr.strip()

    def repl(m: re.Match[str]) -> str:
        token = m.group(0)
        if not token[0].isspace():
            return token  # a string literal
        before, after = expr[m.start() - 1 : m.start()], expr[m.end() : m.end() + 1]
        return " " if _WORD.match(before) and _WORD.match(after) else ""

    return _TOKEN.sub(repl, expr)


class RecordedPrometheus:
    """Answers queries from recorded results (a snapshot's prometheus.yaml).

    A record is {query, type: instant|range, result} or {query, type, error: {kind, message}}.
    Queries match with insignificant whitespace ignored (normalize_query); a range record answers
    any start/end/step. The first match answers; none fails with `not_captured`.
    """

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.url: str | None = None

    def _answer(self, expr: str, kind: str) -> dict[str, Any]:
        wanted = normalize_query(expr)
        for rec in self.records:
            if not isinstance(rec, dict) or not isinstance(rec.get("query"), str):
                continue
            if rec.get("type", "instant") != kind or normalize_query(rec["query"]) != wanted:
                continue
            if rec.get("error"):
                err = rec["error"] if isinstance(rec["error"], dict) else {"message": str(rec["error"])}
                raise ClusterError(err.get("kind", "error"), err.get("message", "recorded failure"))
            empty = "matrix" if kind == "range" else "vector"
            return rec.get("result") or {"resultType": empty, "result": []}
        what = "range query" if kind == "range" else "query"
        raise ClusterError("not_captured", f"this snapshot holds no answer to the {what} {expr!r}")

    async def query(self, expr: str, time: str | float | None = None) -> dict[str, Any]:
        return self._answer(expr, "instant")

    async def query_range(self, expr: str, start: float | str, end: float | str, step: float | str) -> dict[str, Any]:
        return self._answer(expr, "range")


class RecordingPrometheus:
    """Passes queries to `inner` and keeps every answer (or failure) as a prometheus.yaml record."""

    def __init__(self, inner: Any, records: list[dict[str, Any]] | None = None) -> None:
        self.inner = inner
        self.records: list[dict[str, Any]] = records if records is not None else []
        self.url = getattr(inner, "url", None)
        self.bearer_token_file = getattr(inner, "bearer_token_file", None)

    def _keep(self, rec: dict[str, Any]) -> None:
        if not any(r.get("query") == rec["query"] and r.get("type") == rec["type"] for r in self.records):
            self.records.append(rec)

    async def _run(self, kind: str, expr: str, call: Any) -> dict[str, Any]:
        try:
            data = await call
        except ClusterError as exc:
            self._keep({"query": expr, "type": kind, "error": {"kind": exc.kind, "message": exc.message}})
            raise
        self._keep({"query": expr, "type": kind, "result": data})
        return data

    async def query(self, expr: str, time: str | float | None = None) -> dict[str, Any]:
        return await self._run("instant", expr, self.inner.query(expr, time))

    async def query_range(self, expr: str, start: float | str, end: float | str, step: float | str) -> dict[str, Any]:
        return await self._run("range", expr, self.inner.query_range(expr, start, end, step))
