#!/usr/bin/env bash
# A real Slurm test on one machine: installs Slurm and MUNGE from Debian's packages, starts
# munged, slurmctld and slurmd as a one-node cluster on localhost, submits the quickstart as
# 4 array tasks plus a dependent merge job, and checks that the merged report is byte-identical
# to a local run. Then it deletes one shard's cells, checks that `merge` refuses and names the
# missing cells, re-submits that shard's index alone, and checks the report again.
#
# Needs root (it installs packages and writes /etc/slurm). Run from anywhere:
#   bash scripts/slurm-local-test.sh
# .ci/run calls it when RADBENCH_SLURM_TEST=1.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/radbench-slurm.XXXXXX)
echo "slurm-local-test: work folder $work"

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

# MUNGE: a key readable by the munge user only, then the daemon (it refuses to run as root).
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null ||
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge && chown munge:munge /run/munge /var/log/munge /var/lib/munge
pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
munge -n | unmunge >/dev/null

# Slurm: one node with this machine's CPUs, state and logs in the work folder.
host=$(hostname -s)
cpus=$(nproc)
state="$work/slurm"
mkdir -p "$state/state" "$state/spool" /etc/slurm
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=radbench-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$state/state
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
pkill -x slurmctld 2>/dev/null || true
pkill -x slurmd 2>/dev/null || true
sleep 1
slurmctld -i
slurmd
cleanup() {
  pkill -x slurmd 2>/dev/null || true
  pkill -x slurmctld 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 60); do
  [ "$(sinfo -h -o %t 2>/dev/null | head -1)" = "idle" ] && break
  sleep 1
done
sinfo

cd "$root"
# RADBENCH_BIN: an already built radbench (any profile); otherwise build the release binary.
if [ -n "${RADBENCH_BIN:-}" ]; then
  radbench=$(cd "$(dirname "$RADBENCH_BIN")" && pwd)/$(basename "$RADBENCH_BIN")
else
  cargo build --release --locked --quiet
  radbench="$root/target/release/radbench"
fi
experiment="$root/experiments/quickstart.toml"

# Reference: the same experiment on this machine, no cluster.
"$radbench" run "$experiment" --quiet --out "$work/local" --cache "$work/local-cache" > "$work/local.out"
local_report=$(sed -n 's/^report: //p' "$work/local.out")

wait_for_jobs() {
  for _ in $(seq 600); do
    [ -z "$(squeue -h 2>/dev/null)" ] && return 0
    sleep 1
  done
  echo "slurm-local-test: jobs did not finish in 10 minutes" >&2
  squeue >&2
  return 1
}

"$radbench" plan "$experiment" --shards 4 --cache "$work/cache" --out "$work/cluster"
RADBENCH="$radbench" bash "$work/cache/submit.sh"
wait_for_jobs
cat "$work/cache/logs/merge.out"
cluster_report="$work/cluster/quickstart/$(basename "$local_report")"
diff -r -x run.json "$local_report" "$cluster_report"
echo "slurm-local-test: merged report is byte-identical to the local run"

# A lost shard: delete shard 2's cells, merge must refuse and name them, re-submit index 2.
python3 - "$work/cache" <<'PY'
import json, os, sys, glob
cache = sys.argv[1]
plan = json.load(open(os.path.join(cache, "plan.json")))
lost = [c["cell"] for c in plan["cells"] if c["shard"] == 2]
for key in lost:
    for path in glob.glob(os.path.join(cache, "cells", "*", key + ".json")):
        os.remove(path)
print("deleted", len(lost), "cells of shard 2")
PY
if "$radbench" merge "$work/cache" 2> "$work/merge-err.txt"; then
  echo "slurm-local-test: merge with missing cells should fail" >&2
  exit 1
fi
grep -q "missing from the cache" "$work/merge-err.txt"
cat "$work/merge-err.txt"
RADBENCH="$radbench" sbatch --wait --array=2 "$work/cache/array.sbatch"
"$radbench" merge "$work/cache" > /dev/null
diff -r -x run.json "$local_report" "$cluster_report"
echo "slurm-local-test: after re-submitting shard 2 the report is byte-identical again"
echo "slurm-local-test: PASS"
