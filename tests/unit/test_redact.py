"""Redaction: every secret shape the tool can meet is masked, and ordinary text stays readable."""

from __future__ import annotations

import pytest

from llmd_triage.redact import MASK, redact, redact_lines, redact_text

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAsecretbody\nmoresecretbody==\n-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    "text,secret",
    [
        ("HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz", "hf_abcdefghijklmnopqrstuvwxyz"),
        ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"),
        ("AWS_SESSION_NAME=ops-bot-session-42", "ops-bot-session-42"),
        ("export DB_PASSWORD='hunter2hunter2'", "hunter2hunter2"),
        ("MY_API_KEY: abc123def456", "abc123def456"),
        ("curl -H 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123'", "abcdefghijklmnopqrstuvwxyz0123"),
        (f"auth ok for {JWT} in 3ms", JWT),
        ("found AKIAIOSFODNN7EXAMPLE in the env", "AKIAIOSFODNN7EXAMPLE"),
        ('{"token": "abcdefghijklmnop1234"}', "abcdefghijklmnop1234"),
        (
            "    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo=",
            "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo=",
        ),
        ("    token: kubeconfig-token-0123456789", "kubeconfig-token-0123456789"),
        (f"before\n{PEM}\nafter", "secretbody"),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAAS cut short by an output cap", "MIIEvQIBADAN"),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
        ("[{'env': [{'name': 'DB_PASSWORD', 'value': 'plainpass99'}], 'image': 'x'}]", "plainpass99"),
        ('{"name": "AWS_REGION_SECRETISH", "value": "s3cr3tvalue"}', "s3cr3tvalue"),
        ("{'name': 'AWS_DEFAULT_PROFILE', 'value': 'prod-admin-profile'}", "prod-admin-profile"),
        ("{'name': 'S3_KEY', 'value': 'cut short by a clip…", "cut short"),
    ],
)
def test_secret_shapes_are_masked(text: str, secret: str) -> None:
    out = redact_text(text)
    assert secret not in out and MASK in out


@pytest.mark.parametrize(
    "text",
    [
        "key: nvidia.com/gpu",  # a toleration
        "NCCL_P2P_DISABLE=1",
        "[{'name': 'NCCL_IB_HCA', 'value': 'mlx5_0,mlx5_3'}]",
        "lastState.terminated.reason: OOMKilled",
        "Xid 79 (0000:a1:00): GPU has fallen off the bus.",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    ],
)
def test_ordinary_text_stays(text: str) -> None:
    assert redact_text(text) == text


def test_a_pem_key_split_over_evidence_lines_is_masked_line_by_line() -> None:
    lines = [
        "total 8",
        "-----BEGIN EC PRIVATE KEY-----",
        "MHcCAQEEIBody",
        "AwEHoUQDQgAE",
        "-----END EC PRIVATE KEY-----",
        "ok",
    ]
    assert redact_lines(lines) == ["total 8", MASK, MASK, MASK, MASK, "ok"]
    # and when the excerpt ends before the END line
    assert redact_lines(lines[:3]) == ["total 8", MASK, MASK]


def test_env_entries_by_name_and_secret_keys() -> None:
    pod = {
        "env": [
            {"name": "HF_TOKEN", "value": "plain-looking-value"},
            {"name": "AWS_REGION", "value": "us-east-1"},
            {"name": "S3_ACCESS_KEY_ID", "value": "x"},
            {"name": "DB_PASSWORD", "value": "y"},
            {"name": "NCCL_IB_HCA", "value": "mlx5_0"},
        ],
        "token": "z",
    }
    out = redact(pod)
    assert [e["value"] for e in out["env"]] == [MASK, MASK, MASK, MASK, "mlx5_0"]
    assert out["token"] == MASK
    assert pod["env"][0]["value"] == "plain-looking-value"  # a copy: the input is untouched
