"""Redaction applied to everything a report prints: secrets must never leave the tool.

Two nets: values under names that look secret (env vars, keys in data), and value shapes that are
secret wherever they appear (bearer tokens, JWTs, AWS keys, PEM blocks, HF tokens).
"""

from __future__ import annotations

import re
from typing import Any

MASK = "<redacted>"
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSW(OR)?D|API_?KEY|PRIVATE_?KEY|CREDENTIAL|^AWS_|_KEY$|^KEY$)", re.I)
_PATTERNS = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWT
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    re.compile(r"\bhf_[A-Za-z0-9]{20,}\b"),
    re.compile(
        r"(?i)\b((?:[A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|PRIVATE_KEY)[A-Z0-9_]*)\s*[=:]\s*)(\"?)[^\s\"',;]+"
    ),
    re.compile(r"(?i)(client-key-data|client-certificate-data|certificate-authority-data|token)(\s*:\s*)\S{16,}"),
]


def redact_text(text: str) -> str:
    for pat in _PATTERNS:
        if pat.groups >= 2:
            text = pat.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
        elif pat.groups == 1:
            text = pat.sub(lambda m: f"{m.group(1)}{MASK}", text)
        else:
            text = pat.sub(MASK, text)
    return text


def redact(value: Any, key: str | None = None) -> Any:
    """Deep-copy `value` with secrets masked."""
    if isinstance(value, dict):
        # Kubernetes env entries: {name: HF_TOKEN, value: ...}
        name = value.get("name")
        if isinstance(name, str) and "value" in value and _SECRET_NAME.search(name):
            return {k: (MASK if k == "value" else redact(v, k)) for k, v in value.items()}
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if isinstance(value, str):
        if key and _SECRET_NAME.search(key) and value:
            return MASK
        return redact_text(value)
    return value
