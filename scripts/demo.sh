#!/usr/bin/env bash
# `make demo`: the production site.yml on the local stand-ins, in timed phases. Prints the
# wall time of each phase at the end (and keeps it in .cache/demo-phases.txt for the
# benchmark): a first run on a fresh machine spends most of its time in the phases marked
# "downloads" (PyPI, Debian's archive), a rerun only in the converge. The venv holds only what
# the playbooks need (requirements.txt; `make test` adds the test tooling).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH="$top/.venv/bin:$PATH" ANSIBLE_CONFIG="$top/ansible.cfg"
# Local mode talks to moto, never to AWS: dummy credentials for the emulator.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
mkdir -p .cache
phases=.cache/demo-phases.part
: > "$phases"
phase() {
  local name=$1 started=$SECONDS
  shift
  printf '[demo] == %s\n' "$name" >&2
  "$@" || return
  printf '%-42s %5d s\n' "$name" $((SECONDS - started)) >> "$phases"
}
total=$SECONDS
# Two lanes at once, as neither needs the other: the controller's venv (PyPI) beside the
# Docker engine and the images (Debian's archive). The venv lane's output goes to a log,
# printed if it fails.
venv_log=.cache/demo-venv.log
printf '[demo] == python venv + collections, beside Docker and the images (log: %s)\n' "$venv_log" >&2
phase "python venv + collections (downloads)" bash -c 'bash scripts/ensure-venv.sh runtime && .venv/bin/ansible-galaxy collection install -r requirements.yml >/dev/null' \
  >"$venv_log" 2>&1 &
venv_lane=$!
# A background lane ignores Ctrl-C (bash without job control): stop it with the demo.
stop_tree() { local child; for child in $(pgrep -P "$1"); do stop_tree "$child"; done; kill "$1" 2>/dev/null || true; }
trap 'stop_tree "$venv_lane"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
lane_status=0
{ phase "docker engine (installs when missing)" bash scripts/ensure-docker.sh &&
  phase "images (mmdebstrap, apt; cached)" bash scripts/build-images.sh demo; } || lane_status=1
venv_status=0
wait "$venv_lane" || venv_status=$?
trap - EXIT INT TERM
if [ "$venv_status" -ne 0 ]; then
  cat "$venv_log" >&2
  printf '[demo] ERROR: the Python venv could not be set up (see above)\n' >&2
  exit 1
fi
[ "$lane_status" -eq 0 ] || { printf '[demo] ERROR: Docker or the images failed (see above)\n' >&2; exit 1; }
printf '%-42s %5d s\n' "  both lanes above, side by side" $((SECONDS - total)) >> "$phases"
phase "stand-ins up (moto, PostgreSQL)" bash scripts/local-stack.sh up
phase "site.yml (pip downloads on a first run)" ansible-playbook -i inventories/local site.yml "$@"
{
  echo "make demo, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
  cat "$phases"
  printf '%-42s %5d s\n' "total" $((SECONDS - total))
} | tee .cache/demo-phases.txt >&2
# The first run on this machine (nothing cached yet) is kept apart for the benchmark.
[ -e .cache/demo-phases-first.txt ] || cp .cache/demo-phases.txt .cache/demo-phases-first.txt
