#!/usr/bin/env bash
# The runbook way, for the scale benchmark (bench/scan.py): the kubectl commands the trees' own steps
# tell an SRE to run, in a shell loop, one after the other, saved to files to read afterwards.
#
#   KUBECONFIG=... bench/baseline.sh OUTDIR
#
# 1. the inventory: kubectl get nodes / pods -A / events -A, as JSON;
# 2. every pod whose container restarted: kubectl logs --previous and kubectl describe pod;
# 3. every GPU node, in the GPU operator's driver pod on it: the Xid kernel log (dmesg -T), the GPUs'
#    state (nvidia-smi -q -x, under `timeout` as the gpu-xid tree runs it), the InfiniBand ports
#    (ibstat) and the GPU topology (nvidia-smi topo -m).
# Picking the restarted pods and the driver pods out of the JSON is the only scripting (python3, stdlib).
# What a grep over OUTDIR would flag is bench/runbook.py's job, not this script's.
set -uo pipefail

out=${1:?usage: baseline.sh OUTDIR}
KUBECTL=${KUBECTL:-kubectl}
mkdir -p "$out/previous" "$out/describe" "$out/node"

k() { "$KUBECTL" --request-timeout=30s "$@"; }

k get nodes -o json >"$out/nodes.json"
k get pods -A -o json >"$out/pods.json"
k get events -A -o json >"$out/events.json"

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
pods = json.load(open(f"{out}/pods.json"))["items"]
nodes = json.load(open(f"{out}/nodes.json"))["items"]
gpu_nodes = {
    n["metadata"]["name"] for n in nodes
    if int(str((n.get("status") or {}).get("capacity", {}).get("nvidia.com/gpu", "0")) or 0) > 0
}
with open(f"{out}/restarted.txt", "w") as f:
    for p in pods:
        for s in (p.get("status") or {}).get("containerStatuses") or []:
            if s.get("restartCount", 0) > 0:
                f.write(f"{p['metadata']['namespace']} {p['metadata']['name']} {s['name']}\n")
with open(f"{out}/drivers.txt", "w") as f:
    for p in pods:
        node = (p.get("spec") or {}).get("nodeName")
        if (p["metadata"].get("labels") or {}).get("app") == "nvidia-driver-daemonset" and node in gpu_nodes:
            f.write(f"{node} {p['metadata']['namespace']} {p['metadata']['name']} nvidia-driver-ctr\n")
PY

while read -r ns pod c; do
  k logs -n "$ns" "$pod" -c "$c" --previous >"$out/previous/$ns.$pod.$c.log" 2>&1
  k describe pod -n "$ns" "$pod" >"$out/describe/$ns.$pod.txt" 2>&1
done <"$out/restarted.txt"

while read -r node ns pod c; do
  k exec -n "$ns" "$pod" -c "$c" -- dmesg -T >"$out/node/$node.dmesg" 2>&1
  k exec -n "$ns" "$pod" -c "$c" -- timeout 15 nvidia-smi -q -x >"$out/node/$node.nvidia-smi.xml" 2>&1
  k exec -n "$ns" "$pod" -c "$c" -- ibstat >"$out/node/$node.ibstat" 2>&1
  k exec -n "$ns" "$pod" -c "$c" -- nvidia-smi topo -m >"$out/node/$node.topo" 2>&1
done <"$out/drivers.txt"
exit 0
