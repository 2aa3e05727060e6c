#!/usr/bin/env bash
# Stops the Slurm lab of scripts/lab/slurm-up.sh: slurmd(s), slurmctld, then munged, each by its
# pid file. Safe to run twice, or when nothing runs. The lab's folder (configs, state, logs) stays;
# SUANLI_SLURM_LAB_WIPE=1 removes it too.
set -uo pipefail

LAB=${SUANLI_SLURM_LAB:-/tmp/suanli-slurm-lab}

# Stopped daemons can stay as zombies here (nothing reaps them): not a zombie = still running.
alive() {
  [ -r "/proc/$1/stat" ] && ! awk '{exit ($3 == "Z") ? 0 : 1}' "/proc/$1/stat"
}

stop() {  # stop NAME PIDFILE
  local pid
  pid=$(cat "$2" 2>/dev/null) || return 0
  if [ -n "$pid" ] && alive "$pid"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
      kill -9 "$pid" 2>/dev/null || true
      echo "killed $1 (pid $pid) after 10 s"
    else
      echo "stopped $1 (pid $pid)"
    fi
  fi
  rm -f "$2"
}

for pidfile in "$LAB"/slurmd-*.pid; do
  [ -e "$pidfile" ] && stop "$(basename "$pidfile" .pid)" "$pidfile"
done
stop slurmctld "$LAB/slurmctld.pid"
stop munged /run/munge/munged.pid
if [ "${SUANLI_SLURM_LAB_WIPE:-0}" = 1 ]; then
  rm -rf "$LAB" && echo "removed $LAB"
fi
echo "slurm lab stopped"
