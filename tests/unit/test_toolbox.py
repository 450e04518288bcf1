"""The toolbox manifest: golden output for Kubernetes and OpenShift, valid against the Kubernetes schemas."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from llmd_triage.toolbox import manifest

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


@pytest.mark.parametrize(("name", "openshift"), [("toolbox.yaml", False), ("toolbox-openshift.yaml", True)])
def test_manifest_matches_its_golden_file(name: str, openshift: bool) -> None:
    text = manifest(openshift=openshift)
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"rerun with UPDATE_GOLDEN=1 after a deliberate change, then review {path}"


@pytest.mark.parametrize("openshift", [False, True])
def test_manifest_validates_against_the_kubernetes_openapi_schemas(openshift: bool) -> None:
    import kubernetes_validate  # the Kubernetes OpenAPI schemas, as kubeconform uses them

    docs = [d for d in yaml.safe_load_all(manifest(openshift=openshift)) if d]
    checked = 0
    for doc in docs:
        if doc["apiVersion"].startswith("security.openshift.io"):
            assert doc["kind"] == "SecurityContextConstraints" and doc["allowedCapabilities"] == ["SYSLOG", "SYS_ADMIN"]
            continue
        kubernetes_validate.validate(doc, "1.33.0", strict=True)
        checked += 1
    assert checked == (5 if openshift else 3)  # Namespace, ServiceAccount, DaemonSet (+ ClusterRole, RoleBinding)


def test_least_privilege() -> None:
    docs = {d["kind"]: d for d in yaml.safe_load_all(manifest()) if d}
    pod = docs["DaemonSet"]["spec"]["template"]["spec"]
    sc = pod["containers"][0]["securityContext"]
    assert sc["privileged"] is False and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["SYSLOG", "SYS_ADMIN"]}
    assert all(m.get("readOnly") for m in pod["containers"][0]["volumeMounts"] if m["name"] != "tmp")
    assert "nvidia.com/gpu" not in str(pod["containers"][0].get("resources"))  # sees GPUs without taking one
    assert docs["ServiceAccount"]["automountServiceAccountToken"] is False
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}


def test_options_and_bad_input() -> None:
    text = manifest(namespace="ops", image="registry.local/tb:1", node_selector="gpu=yes", runtime_class=None)
    ds = next(d for d in yaml.safe_load_all(text) if d and d["kind"] == "DaemonSet")
    assert ds["metadata"]["namespace"] == "ops" and ds["spec"]["template"]["spec"]["nodeSelector"] == {"gpu": "yes"}
    assert "runtimeClassName" not in ds["spec"]["template"]["spec"]
    for bad in ({"namespace": "Bad_NS"}, {"image": "x; rm -rf /"}, {"node_selector": "novalue"}):
        with pytest.raises(ValueError):
            manifest(**bad)  # type: ignore[arg-type]
