#!/usr/bin/env bash
# `make demo`: the production site.yml on the local stand-ins, in timed phases. Prints the
# wall time of each phase at the end (and keeps it in .cache/demo-phases.txt for the
# benchmark): a first run on a fresh machine spends most of its time in the phases marked
# "downloads" (PyPI, Debian's archive), a rerun only in the converge.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH="$top/.venv/bin:$PATH" ANSIBLE_CONFIG="$top/ansible.cfg"
# Local mode talks to moto, never to AWS: dummy credentials for the emulator.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
phases=()
phase() {
  local name=$1 started=$SECONDS
  shift
  printf '[demo] == %s\n' "$name" >&2
  "$@"
  phases+=("$(printf '%-42s %5d s' "$name" $((SECONDS - started)))")
}
total=$SECONDS
phase "python venv + collections (downloads)" bash -c 'bash scripts/ensure-venv.sh && .venv/bin/ansible-galaxy collection install -r requirements.yml >/dev/null'
phase "docker engine (installs when missing)" bash scripts/ensure-docker.sh
phase "images (debootstrap, apt; cached)" bash scripts/build-images.sh demo
phase "stand-ins up (moto, PostgreSQL)" bash scripts/local-stack.sh up
phase "site.yml (pip downloads on a first run)" ansible-playbook -i inventories/local site.yml "$@"
mkdir -p .cache
{
  echo "make demo, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
  printf '%s\n' "${phases[@]}"
  printf '%-42s %5d s\n' "total" $((SECONDS - total))
} | tee .cache/demo-phases.txt >&2
# The first run on this machine (nothing cached yet) is kept apart for the benchmark.
[ -e .cache/demo-phases-first.txt ] || cp .cache/demo-phases.txt .cache/demo-phases-first.txt
