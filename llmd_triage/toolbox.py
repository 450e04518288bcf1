"""The node toolbox: a DaemonSet whose pod on each GPU node can run the node-level diagnostics.

The manifest is text with comments, because the operator applies it (`kubectl apply -f -`) and should be able to
read why each privilege is there. Least privilege that still works: no privileged mode, two capabilities, read-only
host mounts, no API token.
"""

from __future__ import annotations

import re

DEFAULT_NAMESPACE = "llmd-triage"
DEFAULT_IMAGE = "ghcr.io/llm-d/llmd-triage-toolbox:latest"
DEFAULT_NODE_SELECTOR = "nvidia.com/gpu.present=true"
NAME = "llmd-triage-toolbox"
#: the label node_exec looks for (after a configured selector, before the GPU operator's pods)
LABEL = ("app.kubernetes.io/name", NAME)
#: what `toolbox status` checks for on each node pod, and what carries it
TOOLS: dict[str, str] = {
    "nvidia-smi": "the NVIDIA driver (mounted by the NVIDIA container runtime)",
    "nvtop": "nvtop",
    "dmesg": "util-linux",
    "lspci": "pciutils",
    "ibstat": "infiniband-diags",
    "ibv_devinfo": "ibverbs-utils",
    "rdma": "iproute2",
    "findmnt": "util-linux",
}

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _selector(spec: str) -> tuple[str, str]:
    key, sep, value = spec.partition("=")
    if not sep or not key:
        raise ValueError(f"node selector {spec!r}: use KEY=VALUE")
    return key.strip(), value.strip()


def manifest(
    *,
    namespace: str = DEFAULT_NAMESPACE,
    image: str = DEFAULT_IMAGE,
    node_selector: str = DEFAULT_NODE_SELECTOR,
    runtime_class: str | None = "nvidia",
    openshift: bool = False,
) -> str:
    """The toolbox as multi-document YAML; with `openshift`, its SecurityContextConstraints and the `oc` steps."""
    if not _NAME_RE.match(namespace):
        raise ValueError(f"namespace {namespace!r} is not a valid Kubernetes name")
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$", image):
        raise ValueError(f"image {image!r} is not an image reference")
    key, value = _selector(node_selector)
    runtime = f"      runtimeClassName: {runtime_class}\n" if runtime_class else ""
    head = (
        "# llmd-triage node toolbox: one pod per GPU node that can run nvidia-smi, nvtop, dmesg, lspci, ibstat,\n"
        "# ibv_devinfo, rdma and findmnt against the host, for llmd-triage's node-level probes and its nvtop key.\n"
        "# It changes nothing on the node: every host path is mounted read-only and it has no API credentials.\n"
    )
    if openshift:
        head += (
            "# OpenShift:\n"
            "#   oc apply -f toolbox.yaml\n"
            f"#   oc adm policy add-scc-to-user {NAME} -z {NAME} -n {namespace}   (as the RoleBinding below)\n"
            f"#   oc -n {namespace} rollout status ds/{NAME}\n"
        )
    else:
        head += f"# Apply: kubectl apply -f toolbox.yaml; then: kubectl -n {namespace} rollout status ds/{NAME}\n"
    docs = [
        f"""apiVersion: v1
kind: Namespace
metadata:
  name: {namespace}
  labels:
    app.kubernetes.io/part-of: llmd-triage
    # the pod needs hostPID, hostNetwork and host mounts: the namespace must admit the privileged profile
    pod-security.kubernetes.io/enforce: privileged
""",
        f"""apiVersion: v1
kind: ServiceAccount
metadata:
  name: {NAME}
  namespace: {namespace}
# the toolbox never talks to the API server: no token is mounted
automountServiceAccountToken: false
""",
        f"""apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {NAME}
  namespace: {namespace}
  labels:
    app.kubernetes.io/name: {NAME}
    app.kubernetes.io/part-of: llmd-triage
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: {NAME}
  updateStrategy:
    type: RollingUpdate
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {NAME}
        app.kubernetes.io/part-of: llmd-triage
    spec:
      serviceAccountName: {NAME}
      automountServiceAccountToken: false
      nodeSelector:
        {key}: "{value}"
      tolerations:
        # GPU nodes are usually tainted so only GPU workloads land there; a node cordoned after an Xid still
        # runs DaemonSet pods, which is when the toolbox is needed most
        - key: nvidia.com/gpu
          operator: Exists
          effect: NoSchedule
        - key: node.kubernetes.io/unschedulable
          operator: Exists
          effect: NoSchedule
      # the NVIDIA container runtime mounts the driver's nvidia-smi and NVML and, with
      # NVIDIA_VISIBLE_DEVICES=all below, every GPU, without requesting (and so taking) an nvidia.com/gpu
{runtime}      # nvidia-smi and nvtop name the processes on each GPU by host PID
      hostPID: true
      # rdma link and ip link show the host's RDMA ports and RoCE netdevs only from the host network namespace
      hostNetwork: true
      dnsPolicy: ClusterFirstWithHostNet
      terminationGracePeriodSeconds: 1
      containers:
        - name: toolbox
          image: {image}
          imagePullPolicy: IfNotPresent
          # idle until llmd-triage (or a person) runs a command with kubectl exec
          command: ["sleep", "infinity"]
          env:
            - name: NVIDIA_VISIBLE_DEVICES
              value: all
            # utility: nvidia-smi and NVML (nvtop); nothing else of the driver
            - name: NVIDIA_DRIVER_CAPABILITIES
              value: utility
          securityContext:
            # not privileged: root for reading /sys and /dev/kmsg, and exactly two capabilities
            runAsUser: 0
            privileged: false
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
              # SYSLOG: dmesg reads the kernel ring buffer (kernel.dmesg_restrict=1 on most distributions)
              # SYS_ADMIN: the kernel returns a PCI device's extended config space (ACS, AER, link state that
              # `lspci -vvv` shows) only to CAP_SYS_ADMIN; without it lspci prints the first 64 bytes only
              add: ["SYSLOG", "SYS_ADMIN"]
          resources:
            requests:
              cpu: 10m
              memory: 32Mi
            limits:
              memory: 256Mi
          volumeMounts:
            # all read-only: the toolbox observes, it never writes to the host
            - name: dev
              mountPath: /dev
              readOnly: true
            - name: sys
              mountPath: /sys
              readOnly: true
            - name: host-proc
              mountPath: /host/proc
              readOnly: true
            - name: journal
              mountPath: /var/log/journal
              readOnly: true
            - name: run-journal
              mountPath: /run/log/journal
              readOnly: true
            - name: tmp
              mountPath: /tmp
      volumes:
        # /dev: /dev/kmsg for dmesg, /dev/infiniband for ibv_devinfo, /dev/nvidia* for nvtop
        - name: dev
          hostPath:
            path: /dev
        # /sys: PCI topology, /sys/class/infiniband port state, IOMMU groups
        - name: sys
          hostPath:
            path: /sys
        - name: host-proc
          hostPath:
            path: /proc
        # the persistent and the volatile journal, for journalctl -k on nodes without a ring buffer history
        - name: journal
          hostPath:
            path: /var/log/journal
            type: DirectoryOrCreate
        - name: run-journal
          hostPath:
            path: /run/log/journal
            type: DirectoryOrCreate
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
""",
    ]
    if openshift:
        docs += [
            f"""# OpenShift admits hostPID, hostNetwork, hostPath and added capabilities only through an SCC that allows
# them; this one allows exactly what the DaemonSet asks for (narrower than the built-in `privileged` SCC)
apiVersion: security.openshift.io/v1
kind: SecurityContextConstraints
metadata:
  name: {NAME}
allowHostPID: true
allowHostNetwork: true
allowHostPorts: false
allowHostIPC: false
allowHostDirVolumePlugin: true
allowPrivilegedContainer: false
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
allowedCapabilities: ["SYSLOG", "SYS_ADMIN"]
requiredDropCapabilities: []
defaultAddCapabilities: []
runAsUser:
  type: RunAsAny
seLinuxContext:
  type: MustRunAs
fsGroup:
  type: RunAsAny
supplementalGroups:
  type: RunAsAny
volumes: ["hostPath", "emptyDir"]
users: []
groups: []
""",
            f"""apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {NAME}-scc
rules:
  - apiGroups: ["security.openshift.io"]
    resources: ["securitycontextconstraints"]
    resourceNames: ["{NAME}"]
    verbs: ["use"]
""",
            f"""apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {NAME}-scc
  namespace: {namespace}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {NAME}-scc
subjects:
  - kind: ServiceAccount
    name: {NAME}
    namespace: {namespace}
""",
        ]
    return head + "---\n" + "---\n".join(docs)
