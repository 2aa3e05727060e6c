#!/usr/bin/env bash
# Starts a local Ray head for the Ray executor's tests: loopback only, 2 CPUs, 4 declared GPUs,
# a modest object store. Prints the Jobs API address once it answers. Stop it with ray-down.sh.
#
#   RAY_LAB_DIR   lab folder: pid file, logs, Ray's temp dir   (default /tmp/suanli-ray-lab; keep it
#                 short: Ray's socket paths under it must stay under 108 bytes)
#   RAY_LAB_PORT  dashboard / Jobs API port on 127.0.0.1        (default 8265; a second lab on
#                 another port moves its other fixed ports by the same offset)
#   RAY_LAB_GCS_PORT  the head's GCS port                        (default 6380, apart from Ray's 6379)
#   RAY_LAB_WAIT  seconds to wait for the Jobs API              (default 90)
set -euo pipefail
LAB=${RAY_LAB_DIR:-/tmp/suanli-ray-lab}
PORT=${RAY_LAB_PORT:-8265}
GCS_PORT=${RAY_LAB_GCS_PORT:-6380}
WAIT=${RAY_LAB_WAIT:-90}
ADDRESS="http://127.0.0.1:$PORT"
PYTHON=${PYTHON:-python}

answers() { "$PYTHON" - "$ADDRESS" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1] + "/api/version", timeout=2) as r:
        assert r.status == 200
    # the Jobs API answers before the head's node has registered: wait for it too
    with urllib.request.urlopen(sys.argv[1] + "/api/v0/nodes", timeout=5) as r:
        sys.exit(0 if b'"ALIVE"' in r.read() else 1)
except Exception:
    sys.exit(1)
PY
}

mkdir -p "$LAB"
if [ -s "$LAB/ray.pid" ] && kill -0 "$(cat "$LAB/ray.pid")" 2>/dev/null && answers; then
  echo "Ray lab already running (pid $(cat "$LAB/ray.pid")): $ADDRESS"
  exit 0
fi

if ! command -v ray >/dev/null 2>&1 || ! "$PYTHON" -c "import ray.job_submission" 2>/dev/null; then
  echo "installing ray (the project's 'ray' extra)"
  root=$(cd "$(dirname "$0")/../.." && pwd)
  "$PYTHON" -m pip install --quiet --disable-pip-version-check -e "$root[ray]" 2>/dev/null \
    && "$PYTHON" -c "import ray.job_submission" 2>/dev/null \
    || "$PYTHON" -m pip install --quiet --disable-pip-version-check 'ray[default]>=2.60,<3'
fi

# RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 keeps every Ray port on loopback; without it Ray binds the
# machine's external address. --block keeps `ray start` in the foreground as the parent of the
# head's processes, so one pid stops them all.
MOVED_PORTS=()
if [ "$PORT" != 8265 ]; then  # a second lab: move Ray's other fixed ports out of the first one's way
  MOVED_PORTS=(--ray-client-server-port=$((23000 + PORT - 8265)) --dashboard-agent-listen-port=$((52365 + PORT - 8265)))
fi
echo "starting a Ray head in $LAB (log: $LAB/ray.log)"
# SUANLI_RAY_LAB marks every process of the lab, jobs' drivers included (they outlive a stopped
# head in their own sessions): ray-down.sh finds them by it.
SUANLI_RAY_LAB="$LAB" RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 nohup ray start --head --block \
  --node-ip-address=127.0.0.1 --port="$GCS_PORT" \
  --num-cpus=2 --num-gpus=4 --object-store-memory=300000000 \
  --dashboard-host=127.0.0.1 --dashboard-port="$PORT" \
  "${MOVED_PORTS[@]}" \
  --temp-dir="$LAB/tmp" --disable-usage-stats \
  >"$LAB/ray.log" 2>&1 </dev/null &
echo $! >"$LAB/ray.pid"

for _ in $(seq "$WAIT"); do
  if answers; then
    echo "Ray lab running (pid $(cat "$LAB/ray.pid")): $ADDRESS"
    exit 0
  fi
  if ! kill -0 "$(cat "$LAB/ray.pid")" 2>/dev/null; then
    echo "ray start exited; its log:" >&2
    tail -n 30 "$LAB/ray.log" >&2
    exit 1
  fi
  sleep 1
done
echo "the Jobs API at $ADDRESS did not answer in $WAIT s; see $LAB/ray.log" >&2
exit 1
