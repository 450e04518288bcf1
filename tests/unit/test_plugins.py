"""Where SREs already are: the krew manifest is a valid krew Plugin, the k9s plugin entries pass only
arguments the CLI accepts, and `kubectl llmd-triage` reaches the tool."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from llmd_triage import __version__
from llmd_triage.cli.main import _parser

ROOT = Path(__file__).resolve().parents[2]
KREW = ROOT / "plugins" / "krew" / "llmd-triage.yaml"
K9S = ROOT / "plugins" / "k9s" / "plugins.yaml"


def test_krew_manifest_is_a_valid_plugin() -> None:
    m = yaml.safe_load(KREW.read_text())
    assert m["apiVersion"] == "krew.googlecode.com/v1alpha2" and m["kind"] == "Plugin"
    assert m["metadata"]["name"] == KREW.stem == "llmd-triage"  # krew: the file is named after the plugin
    spec = m["spec"]
    assert spec["version"] == f"v{__version__}" and re.fullmatch(r"v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", spec["version"])
    assert spec["shortDescription"] and len(spec["shortDescription"]) <= 50
    assert spec["homepage"].startswith("https://")
    assert spec["platforms"]
    for p in spec["platforms"]:
        sel = p["selector"]
        assert sel.get("matchLabels") or sel.get("matchExpressions")
        for e in sel.get("matchExpressions", []):
            assert e["key"] in ("os", "arch") and e["operator"] in ("In", "NotIn") and e["values"]
        assert p["uri"].startswith("https://") and spec["version"] in p["uri"]
        assert re.fullmatch(r"[0-9a-f]{64}", p["sha256"])
        # kubectl finds `kubectl llmd-triage` as the file kubectl-llmd_triage (dashes become underscores)
        assert p["bin"] == "kubectl-llmd_triage"
        assert any(f["from"] == p["bin"] for f in p["files"]) and all(f["to"] for f in p["files"])
    assert set(m) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(spec) <= {"version", "homepage", "shortDescription", "description", "caveats", "platforms"}


def test_the_console_script_krew_and_k9s_call_is_installed() -> None:
    scripts = (ROOT / "pyproject.toml").read_text()
    assert 'kubectl-llmd_triage = "llmd_triage.cli.main:main"' in scripts


K9S_VARS = {"$CONTEXT": "prod-gpu", "$NAMESPACE": "llm-d", "$NAME": "vllm-decode-0"}


def _plugins() -> dict[str, dict[str, object]]:
    doc = yaml.safe_load(K9S.read_text())
    assert set(doc) == {"plugins"}
    return doc["plugins"]


def test_k9s_plugins_cover_pods_and_nodes() -> None:
    plugins = _plugins()
    scopes = set()
    for name, p in plugins.items():
        assert {"shortCut", "description", "scopes", "command", "args"} <= set(p), name
        assert set(p) <= {"shortCut", "description", "scopes", "command", "args", "background", "confirm"}
        assert p["command"] == "kubectl" and p["background"] is False  # the TUI needs the terminal
        scopes |= set(p["scopes"])  # type: ignore[arg-type]
    assert scopes == {"pods", "nodes"}


@pytest.mark.parametrize("name", ["llmd-triage-pod", "llmd-triage-node"])
def test_k9s_plugin_args_are_accepted_by_the_cli(name: str) -> None:
    p = _plugins()[name]
    args = [str(a) for a in p["args"]]  # type: ignore[union-attr]
    assert args[0] == "llmd-triage"  # `kubectl llmd-triage ...`
    for var, value in K9S_VARS.items():
        args = [a.replace(var, value) for a in args]
    assert not [a for a in args if "$" in a]
    ns = _parser().parse_args(args[1:])
    assert ns.command == "tui" and ns.context == "prod-gpu"
    kind = "pod" if "pods" in p["scopes"] else "node"  # type: ignore[operator]
    assert ns.target == f"{kind}/vllm-decode-0"
    assert ns.namespace == ("llm-d" if kind == "pod" else None)


def test_kubectl_runs_the_plugin() -> None:
    kubectl = shutil.which("kubectl")
    script = Path(sys.executable).parent / "kubectl-llmd_triage"
    if kubectl is None or not script.exists():
        pytest.skip("needs kubectl and the installed kubectl-llmd_triage script")
    env = {**os.environ, "PATH": f"{script.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    out = subprocess.run([kubectl, "llmd-triage", "--version"], capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == f"llmd-triage {__version__}"
