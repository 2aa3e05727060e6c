#!/usr/bin/env bash
# Starts a throwaway Slurm 22.05 lab on this machine for Suanli's Slurm tests and benchmarks:
# munged, slurmctld and two slurmd (one per node name, both on this host) with 4 fake GPUs each.
# No slurmdbd: the executor does not need sacct (see docs/connect-slurm.md).
#
#   bash scripts/lab/slurm-up.sh          # idempotent: a running lab is left as it is
#   export SLURM_CONF=/tmp/suanli-slurm-lab/slurm.conf   # then sinfo, squeue, sbatch work
#   bash scripts/lab/slurm-down.sh
#
# Env: SUANLI_SLURM_LAB (default /tmp/suanli-slurm-lab), SUANLI_SLURM_NODES (1 or 2, default 2).
# Needs root (apt-get, mknod, daemons run as root). See scripts/lab/README.md.
set -euo pipefail

LAB=${SUANLI_SLURM_LAB:-/tmp/suanli-slurm-lab}
NODES=${SUANLI_SLURM_NODES:-2}
HOST=$(hostname -s)
export SLURM_CONF=$LAB/slurm.conf
start=$(date +%s%N)
say() { printf '[slurm-lab %5.1fs] %s\n' "$(( ($(date +%s%N) - start) / 100000000 ))e-1" "$*"; }

# Tools output "stopped" daemons as zombies here (nothing reaps them), so `kill -0` is no proof
# of life: a process is alive when /proc/PID/stat says it is not a zombie.
alive() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] && ! awk '{exit ($3 == "Z") ? 0 : 1}' "/proc/$pid/stat"
}

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
  say "installing slurm-wlm and munge (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends slurm-wlm munge >/dev/null 2>&1 || {
    apt-get update >/dev/null && apt-get install -y --no-install-recommends slurm-wlm munge >/dev/null
  }
fi

mkdir -p "$LAB"/{state,log,jobs}
node_names=("$HOST")
[ "$NODES" = 2 ] && node_names+=("$HOST-2")

if alive "$LAB/slurmctld.pid" && sinfo -h -o %t 2>/dev/null | grep -q idle; then
  say "already running in $LAB"
else
  # Fake GPUs: character devices (clones of /dev/null) that gres.conf can name with File=.
  for i in $(seq 0 $((4 * NODES - 1))); do [ -e "$LAB/gpu$i" ] || mknod "$LAB/gpu$i" c 1 3; done
  nodes_conf=""
  gres_conf=""
  port=6818
  for n in "${!node_names[@]}"; do
    name=${node_names[$n]}
    nodes_conf+="NodeName=$name NodeHostname=$HOST NodeAddr=127.0.0.1 Port=$port CPUs=2 RealMemory=8000 Gres=gpu:4 State=UNKNOWN"$'\n'
    gres_conf+="NodeName=$name Name=gpu File=$LAB/gpu[$((4 * n))-$((4 * n + 3))]"$'\n'
    mkdir -p "$LAB/spool/$name"
    port=$((port + 1))
  done
  cat >"$LAB/slurm.conf" <<CONF
# Written by scripts/lab/slurm-up.sh: a one-host Slurm lab for Suanli; not for production.
ClusterName=suanli-lab
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=6817
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SlurmdParameters=config_overrides
DefMemPerCPU=256
MaxJobCount=20000
MinJobAge=300
KillWait=5
ReturnToService=2
MailProg=/bin/true
StateSaveLocation=$LAB/state
SlurmdSpoolDir=$LAB/spool/%n
SlurmctldPidFile=$LAB/slurmctld.pid
SlurmdPidFile=$LAB/slurmd-%n.pid
SlurmctldLogFile=$LAB/log/slurmctld.log
SlurmdLogFile=$LAB/log/slurmd-%n.log
GresTypes=gpu
$nodes_conf
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  printf '%s' "$gres_conf" >"$LAB/gres.conf"

  mkdir -p /run/munge && chown munge:munge /run/munge
  if alive /run/munge/munged.pid; then
    say "munged already running"
  else
    [ -s /etc/munge/munge.key ] || runuser -u munge -- /usr/sbin/mungekey --create >/dev/null 2>&1 || true
    runuser -u munge -- /usr/sbin/munged
    say "munged started"
  fi
  if ! alive "$LAB/slurmctld.pid"; then
    slurmctld
    say "slurmctld started"
  fi
  for name in "${node_names[@]}"; do
    alive "$LAB/slurmd-$name.pid" || slurmd -N "$name"
  done
  say "slurmd started for ${node_names[*]}"
  for _ in $(seq 600); do
    [ "$(sinfo -h -N -o %t 2>/dev/null | grep -c idle)" -ge "${#node_names[@]}" ] && break
    sleep 0.1
  done
fi

if [ "$(sinfo -h -N -o %t 2>/dev/null | grep -c idle)" -lt "${#node_names[@]}" ]; then
  say "the nodes did not become idle; see $LAB/log/"
  sinfo -N -l || true
  exit 1
fi
say "ready: export SLURM_CONF=$SLURM_CONF"
sinfo -N -o '%N %P %t %c %m %G'
for f in /run/munge/munged.pid "$LAB"/slurmctld.pid "$LAB"/slurmd-*.pid; do
  alive "$f" && echo "  $(basename "$f" .pid) pid $(cat "$f")"
done
