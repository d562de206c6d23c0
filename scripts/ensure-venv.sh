#!/usr/bin/env bash
# Create or refresh .venv from requirements-dev.txt (no-op when up to date).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
venv=$top/.venv
stamp=$venv/.requirements.sha256
want=$(sha256sum "$top/requirements-dev.txt" | cut -d' ' -f1)
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && exit 0

python=${PYTHON:-python3}
if ! "$python" -m venv --help >/dev/null 2>&1 || ! "$python" -c 'import ensurepip' 2>/dev/null; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  else
    echo "[ensure-venv] ERROR: $python cannot create virtual environments; install python3-venv." >&2
    exit 1
  fi
fi
echo "[ensure-venv] installing the pinned tooling into .venv" >&2
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
# A package the pins replaced with one installing the same module (passlib -> libpass) goes
# first, or its files would stay mixed with its successor's.
"$venv/bin/pip" uninstall -q -y passlib 2>/dev/null || true
"$venv/bin/pip" install -q -r "$top/requirements-dev.txt"
echo "$want" > "$stamp"
