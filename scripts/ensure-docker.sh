#!/usr/bin/env bash
# Make sure a Docker engine answers, and that the image builder's tools exist.
# - engine answers: nothing to do;
# - otherwise, as root on Debian/Ubuntu: install docker.io (and mmdebstrap),
#   start the engine (systemd when it runs, else dockerd in the background);
# - otherwise: fail with what to do, before anything was changed.
set -euo pipefail
log() { printf '[ensure-docker] %s\n' "$*" >&2; }
die() { printf '[ensure-docker] ERROR: %s\n' "$*" >&2; exit 1; }

need_pkgs=()
command -v mmdebstrap >/dev/null 2>&1 || need_pkgs+=(mmdebstrap)
if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
fi

if [ "${#need_pkgs[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "missing: ${need_pkgs[*]}. Install them (Debian/Ubuntu: sudo apt-get install ${need_pkgs[*]}) or run this as root on Debian/Ubuntu."
  fi
  log "installing ${need_pkgs[*]}"
  bash "$(dirname "$0")/apt-install.sh" "${need_pkgs[@]}" || die "apt-get could not install ${need_pkgs[*]}"
fi

docker info >/dev/null 2>&1 && exit 0

[ "$(id -u)" -eq 0 ] || die "no Docker engine answers and starting one needs root (or add yourself to the docker group and start docker)."
log "starting the Docker engine"
if [ -d /run/systemd/system ] && systemctl start docker >/dev/null 2>&1; then
  :
else
  nohup dockerd >/var/log/dockerd.log 2>&1 &
fi
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && { log "Docker engine is up"; exit 0; }
  sleep 1
done
die "the Docker engine did not answer within 60 s (see /var/log/dockerd.log or journalctl -u docker)."
