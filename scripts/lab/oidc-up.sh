#!/usr/bin/env bash
# Starts a local OpenID provider for Suanli's single sign-on tests: the `oidc-provider` npm
# package, pinned, installed under the lab folder (never in the repository), run with the
# configuration of scripts/lab/oidc/provider.mjs on 127.0.0.1. Prints the issuer once its
# discovery document answers. Idempotent: a running lab is left as it is. Stop it with
# oidc-down.sh.
#
#   OIDC_LAB_DIR            lab folder: npm install, signing keys, pid file, log   (default /tmp/suanli-oidc-lab)
#   OIDC_LAB_PORT           port on 127.0.0.1; the issuer is http://127.0.0.1:PORT  (default 9400)
#   OIDC_LAB_CLIENT_SECRET  the secret of the client `suanli`                       (default suanli-lab-secret)
#   OIDC_LAB_PASSWORD       every lab user's password                               (default lab-password)
#   OIDC_LAB_REDIRECT_URIS  more redirect URIs for `suanli`, space-separated (loopback ones need none)
#   OIDC_LAB_WAIT           seconds to wait for the provider to answer               (default 30)
#
# Needs Node.js 18 or later with npm, and the npm registry (or npm's cache) the first time.
set -euo pipefail
# oidc-provider 8.8.1: the newest release whose runtime check accepts Node 20 (an LTS from 18 on);
# 9.x asks for Node 22. The package declares no `engines`; this is the line it documents.
VERSION=8.8.1
LAB=${OIDC_LAB_DIR:-/tmp/suanli-oidc-lab}
PORT=${OIDC_LAB_PORT:-9400}
WAIT=${OIDC_LAB_WAIT:-30}
ISSUER="http://127.0.0.1:$PORT"
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python

answers() {  # the discovery document answers, naming this issuer
  "$PYTHON" - "$ISSUER" <<'PY'
import json, sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1] + "/.well-known/openid-configuration", timeout=2) as r:
        sys.exit(0 if json.load(r).get("issuer") == sys.argv[1] else 1)
except Exception:
    sys.exit(1)
PY
}

# Stopped processes can stay as zombies here (nothing reaps them): not a zombie = still running.
alive() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] && ! awk '{exit ($3 == "Z") ? 0 : 1}' "/proc/$pid/stat"
}

mkdir -p "$LAB"
if alive "$LAB/provider.pid" && answers; then
  echo "OIDC lab already running (pid $(cat "$LAB/provider.pid")): issuer $ISSUER"
  exit 0
fi
if answers; then
  echo "something else answers as the issuer $ISSUER (not this lab's pid file in $LAB); stop it, or set OIDC_LAB_PORT" >&2
  exit 1
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "the OIDC lab needs Node.js 18 or later with npm (e.g. apt-get install nodejs npm); not found on PATH" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "the OIDC lab needs Node.js 18 or later; this is $(node --version)" >&2
  exit 1
fi

installed=$(node -p "require('$LAB/npm/node_modules/oidc-provider/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$VERSION" ]; then
  echo "installing oidc-provider@$VERSION into $LAB/npm (log: $LAB/npm-install.log)"
  mkdir -p "$LAB/npm"
  printf '{"name": "suanli-oidc-lab", "private": true}\n' >"$LAB/npm/package.json"
  if ! npm install --prefix "$LAB/npm" --no-audit --no-fund --save-exact --omit=dev \
    "oidc-provider@$VERSION" >"$LAB/npm-install.log" 2>&1; then
    echo "npm could not install oidc-provider@$VERSION (no registry or cache?); its log:" >&2
    tail -n 20 "$LAB/npm-install.log" >&2
    exit 1
  fi
fi
# The provider's program runs next to the package it imports (ES modules resolve from there).
cp "$HERE/oidc/provider.mjs" "$LAB/npm/provider.mjs"

echo "starting the OIDC provider in $LAB (log: $LAB/provider.log)"
OIDC_LAB_PORT="$PORT" OIDC_LAB_KEYS="$LAB/jwks.json" nohup node "$LAB/npm/provider.mjs" \
  >"$LAB/provider.log" 2>&1 </dev/null &
echo $! >"$LAB/provider.pid"

for _ in $(seq $((WAIT * 4))); do
  if answers; then
    echo "OIDC lab running (pid $(cat "$LAB/provider.pid")): issuer $ISSUER"
    echo "  client suanli, secret ${OIDC_LAB_CLIENT_SECRET:-suanli-lab-secret}; users alice, bob, carol, mallory, ghost" \
      "(password ${OIDC_LAB_PASSWORD:-lab-password}); scope suanli brings the claim suanli_roles"
    exit 0
  fi
  if ! alive "$LAB/provider.pid"; then
    echo "the OIDC provider exited; its log:" >&2
    tail -n 30 "$LAB/provider.log" >&2
    rm -f "$LAB/provider.pid"
    exit 1
  fi
  sleep 0.25
done
echo "the OIDC provider at $ISSUER did not answer in $WAIT s; see $LAB/provider.log" >&2
exit 1
