#!/usr/bin/env bash
# Create or refresh .venv (no-op when up to date):
#   ensure-venv.sh          requirements-dev.txt: the playbooks' needs and the test tooling
#   ensure-venv.sh runtime  requirements.txt only: what the playbooks need (`make demo`);
#                           a venv that holds the test tooling holds these too
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
venv=$top/.venv
mode=${1:-dev}
case $mode in
  runtime) files=(requirements.txt) ;;
  dev) files=(requirements.txt requirements-dev.txt) ;;
  *) echo "[ensure-venv] ERROR: unknown set '$mode' (runtime or dev)" >&2; exit 2 ;;
esac
want() { (cd "$top" && cat "$@") | sha256sum | cut -d' ' -f1; }
stamp=$venv/.requirements-$mode.sha256
wanted=$(want "${files[@]}")
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && exit 0

python=${PYTHON:-python3}
if ! "$python" -m venv --help >/dev/null 2>&1 || ! "$python" -c 'import ensurepip' 2>/dev/null; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    bash "$top/scripts/apt-install.sh" python3-venv
  else
    echo "[ensure-venv] ERROR: $python cannot create virtual environments; install python3-venv." >&2
    exit 1
  fi
fi
echo "[ensure-venv] installing the pinned ${files[-1]} into .venv" >&2
# Checked by its pip: a venv interrupted while being created has a python but no pip.
[ -x "$venv/bin/pip" ] || "$python" -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
# A package the pins replaced with one installing the same module (passlib -> libpass) goes
# first, or its files would stay mixed with its successor's.
"$venv/bin/pip" uninstall -q -y passlib 2>/dev/null || true
"$venv/bin/pip" install -q -r "$top/${files[-1]}"
echo "$wanted" > "$stamp"
# The test tooling's venv holds the playbooks' needs too: `make demo` has nothing to add.
[ "$mode" = runtime ] || want requirements.txt > "$venv/.requirements-runtime.sha256"
