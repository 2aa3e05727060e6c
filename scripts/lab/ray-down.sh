#!/usr/bin/env bash
# Stops the Ray head that ray-up.sh started: by its pid, then any process of this lab left over
# (found by the SUANLI_RAY_LAB mark ray-up.sh puts in their environment, or the lab's temp dir on
# their command line), such as jobs' drivers, which Ray starts in sessions of their own. Safe to
# run twice.
# RAY_LAB_STOP_ALL=1 adds `ray stop --force`, which stops EVERY Ray on this machine.
set -uo pipefail
LAB=${RAY_LAB_DIR:-/tmp/suanli-ray-lab}
WAIT=${RAY_LAB_WAIT_STOP:-20}

lab_pids() {  # processes of this lab: its mark in their environment, or its temp dir in their command line
  local pid
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    [ "$pid" = "$$" ] && continue
    if tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -qxF -- "SUANLI_RAY_LAB=$LAB" \
      || tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$LAB/tmp"; then
      # zombies (PID 1 may not reap here) hold nothing: skip them
      [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] || echo "$pid"
    fi
  done
}

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

pid=$(cat "$LAB/ray.pid" 2>/dev/null || true)
if alive "$pid"; then
  echo "stopping the Ray lab (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true  # `ray start --block` stops the head's processes
  for _ in $(seq $((WAIT * 4))); do
    alive "$pid" || break
    sleep 0.25
  done
fi
left=$(lab_pids)
if [ -n "$left" ]; then
  echo "stopping what is left of the Ray lab: $(echo $left)"
  kill -TERM $left 2>/dev/null || true
  sleep 2
  left=$(lab_pids)
  [ -z "$left" ] || kill -KILL $left 2>/dev/null || true
fi
if [ "${RAY_LAB_STOP_ALL:-0}" = 1 ] && command -v ray >/dev/null 2>&1; then
  ray stop --force >/dev/null 2>&1 || true
fi
rm -f "$LAB/ray.pid"
echo "Ray lab stopped"
