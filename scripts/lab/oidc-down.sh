#!/usr/bin/env bash
# Stops the OpenID provider of scripts/lab/oidc-up.sh by its pid file (SIGTERM, SIGKILL after
# 10 s). Safe to run twice, or when nothing runs. The lab's folder (npm install, keys, log) stays,
# so the next start is quick; OIDC_LAB_WIPE=1 removes it too.
set -uo pipefail
LAB=${OIDC_LAB_DIR:-/tmp/suanli-oidc-lab}

# Stopped processes can stay as zombies here (nothing reaps them): not a zombie = still running.
alive() {
  [ -r "/proc/$1/stat" ] && ! awk '{exit ($3 == "Z") ? 0 : 1}' "/proc/$1/stat"
}

pid=$(cat "$LAB/provider.pid" 2>/dev/null || true)
if [ -n "$pid" ] && alive "$pid"; then
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then
    kill -9 "$pid" 2>/dev/null || true
    echo "killed the OIDC provider (pid $pid) after 10 s"
  else
    echo "stopped the OIDC provider (pid $pid)"
  fi
fi
rm -f "$LAB/provider.pid"
if [ "${OIDC_LAB_WIPE:-0}" = 1 ]; then
  rm -rf "$LAB" && echo "removed $LAB"
fi
echo "OIDC lab stopped"
