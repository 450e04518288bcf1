"""Redaction applied to everything the tool writes: secrets must never leave it.

One entry point, `redact`, used by every writer (the report dict that Markdown, JSON, HTML and JUnit
render, capture's snapshot files, progress lines on stderr). Three nets:

- values under names that look secret: Kubernetes env entries (`{name: HF_TOKEN, value: ...}`) whose
  name contains TOKEN, SECRET, PASSWORD, KEY or CREDENTIAL or starts with AWS_, and mapping keys that
  look secret;
- `NAME=value` / `NAME: value` in text, for the same names (env dumps, logs, YAML);
- value shapes that are secret wherever they appear: bearer tokens, JWTs, AWS access key ids, HF and
  GitHub tokens, PEM private key blocks (also when cut short, or split over a list of lines),
  kubeconfig credential fields.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "<redacted>"
#: mapping keys whose values are secret wherever they appear (kubeconfig users, JSON config)
_SECRET_KEY = re.compile(r"(TOKEN|SECRET|PASSW(OR)?D|API_?KEY|PRIVATE_?KEY|CREDENTIAL|^AWS_|_KEY$|^KEY$)", re.I)
#: environment variable names whose values are secret: *TOKEN*, *SECRET*, *PASSWORD*, *KEY*, AWS_*
_SECRET_ENV = re.compile(r"(TOKEN|SECRET|PASSW(OR)?D|KEY|CREDENTIAL|^AWS_)", re.I)

_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")
_PEM_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")
#: a secret-looking name followed by = or :, as in env dumps, logs and YAML. TOKEN, SECRET, PASSWORD and
#: CREDENTIAL in any case; KEY in upper case (env style: AWS_SECRET_ACCESS_KEY, API_KEY) or as a word part
#: (client-key, api_key, accessKey), so that a plain `key: nvidia.com/gpu` (a toleration) stays readable.
_NAME = (
    r"(?:[A-Za-z0-9_.-]*(?i:TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)[A-Za-z0-9_.-]*"
    r"|[A-Za-z0-9_.-]*KEY[A-Z0-9_]*|[A-Za-z0-9_.]*(?:[-_]key|[a-z]Key)\b[A-Za-z0-9_]*"
    r"|AWS_[A-Z0-9_]+)"
)


def _keep(n: int) -> Any:
    """A replacement that keeps the first `n` groups (the name, the separator) and masks the rest."""
    return lambda m: "".join(m.group(i) or "" for i in range(1, n + 1)) + MASK


_PATTERNS: list[tuple[re.Pattern[str], Any]] = [
    # PEM private keys: a whole block, or a block cut short (evidence excerpts, output caps)
    (re.compile(_PEM_BEGIN.pattern + r".*?(?:" + _PEM_END.pattern + r"|\Z)", re.S), MASK),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), _keep(1)),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), MASK),  # JWT
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b"), MASK),  # AWS access key ids
    (re.compile(r"\bhf_[A-Za-z0-9]{20,}\b"), MASK),  # Hugging Face
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"), MASK),  # GitHub
    # kubeconfig credentials, in YAML or JSON
    (
        re.compile(
            r"(?i)((?:client-key-data|client-certificate-data|id-token|refresh-token|token|password)[\"']?)"
            r"(\s*:\s*[\"']?)(?!<redacted>)[^\s\"',}]{8,}"
        ),
        _keep(2),
    ),
    # an env entry written out as text (a Python repr or JSON of a container, e.g. a deciding value):
    # 'name': 'HF_TOKEN', 'value': '...'
    (
        re.compile(
            r"""(['"]name['"]\s*:\s*['"][A-Za-z0-9_.-]*(?i:TOKEN|SECRET|PASSW(?:OR)?D|KEY|CREDENTIAL)[A-Za-z0-9_.-]*"""
            r"""['"]\s*,\s*['"]value['"]\s*:\s*)(['"]?)(?!<redacted>)[^'"]*"""
        ),
        _keep(2),
    ),
    (
        re.compile(
            r"""(['"]name['"]\s*:\s*['"]AWS_[A-Za-z0-9_]*['"]\s*,\s*['"]value['"]\s*:\s*)(['"]?)(?!<redacted>)[^'"]*"""
        ),
        _keep(2),
    ),
    # NAME=value, NAME: value, "NAME": "value"
    (re.compile(r"(\b" + _NAME + r"[\"']?\s*[=:]\s*)([\"']?)(?!<redacted>)[^\s\"',;}]+"), _keep(2)),
]


def redact_text(text: str) -> str:
    for pat, repl in _PATTERNS:
        text = pat.sub(repl, text)
    return text


def redact_lines(lines: list[str]) -> list[str]:
    """Redact a list of lines (evidence), also masking a PEM key whose lines are separate items."""
    out: list[str] = []
    in_key = False
    for line in lines:
        if in_key:
            if _PEM_END.search(line):
                in_key = False
                line = _PEM_END.split(line, maxsplit=1)[-1]
                out.append(redact_text(line) if line.strip() else MASK)
            else:
                out.append(MASK)
            continue
        if _PEM_BEGIN.search(line) and not _PEM_END.search(line):
            in_key = True
        out.append(redact_text(line))
    return out


def is_secret_env(name: str) -> bool:
    return bool(_SECRET_ENV.search(name))


def redact(value: Any, key: str | None = None) -> Any:
    """Deep-copy `value` with secrets masked."""
    if isinstance(value, dict):
        # Kubernetes env entries: {name: HF_TOKEN, value: ...}
        name = value.get("name")
        if isinstance(name, str) and "value" in value and _SECRET_ENV.search(name):
            return {k: (MASK if k == "value" else redact(v, k)) for k, v in value.items()}
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        if value and all(isinstance(v, str) for v in value) and not (key and _SECRET_KEY.search(key)):
            return redact_lines(value)
        return [redact(v, key) for v in value]
    if isinstance(value, str):
        if key and _SECRET_KEY.search(key) and value:
            return MASK
        return redact_text(value)
    return value
