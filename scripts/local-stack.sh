#!/usr/bin/env bash
# The local stand-ins for AWS that `make demo` and the e2e tests run site.yml on:
#   mlflow-local-moto      moto (the AWS API), published on 127.0.0.1:${LOCAL_AWS_PORT:-5500}
#   mlflow-local-postgres  PostgreSQL answering for the RDS endpoint (reached by the server only)
# and the network they share. The EC2 instance's stand-in, mlflow-local-server (22 and 443
# published on 127.0.0.1:${LOCAL_SSH_PORT:-2222} and :${LOCAL_HTTPS_PORT:-8443}), is booted by
# site.yml itself (playbooks/standins.yml) once the emulator has launched the instance.
# Usage: local-stack.sh up | down | check
#   check: fail, before changing anything, when Docker is missing or a port is taken.
#   up:    check, then create what is missing (a rerun keeps containers and data).
#   down:  remove the containers, their volumes and the network (emulator state included).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
net=mlflow-local
# A fixed subnet, so the inventory can name the clients' source range (docker-proxy
# connects from the network's gateway) in the firewall and fail2ban settings.
subnet=${LOCAL_SUBNET:-172.30.77.0/24}
https_port=${LOCAL_HTTPS_PORT:-8443}
ssh_port=${LOCAL_SSH_PORT:-2222}
aws_port=${LOCAL_AWS_PORT:-5500}
log() { printf '[local-stack] %s\n' "$*" >&2; }
die() { printf '[local-stack] ERROR: %s\n' "$*" >&2; exit 1; }

exists() { docker container inspect "$1" >/dev/null 2>&1; }
running() { [ "$(docker container inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }

port_free_or_ours() {
  local port=$1 owner=$2
  # Ours when our container already publishes it.
  if exists "$owner" && docker port "$owner" 2>/dev/null | grep -q "127.0.0.1:$port\$"; then return 0; fi
  python3 - "$port" <<'PY' || return 1
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

check() {
  if ! docker info >/dev/null 2>&1; then
    bash "$top/scripts/ensure-docker.sh" \
      || die "Docker is needed for the local stack and could not be installed or started (see above)."
  fi
  port_free_or_ours "$https_port" mlflow-local-server \
    || die "port $https_port on 127.0.0.1 is taken by another program; free it or set LOCAL_HTTPS_PORT."
  port_free_or_ours "$ssh_port" mlflow-local-server \
    || die "port $ssh_port on 127.0.0.1 is taken by another program; free it or set LOCAL_SSH_PORT."
  port_free_or_ours "$aws_port" mlflow-local-moto \
    || die "port $aws_port on 127.0.0.1 is taken by another program; free it or set LOCAL_AWS_PORT (and MLFLOW_STACK_AWS_ENDPOINT)."
}

up() {
  check
  bash "$top/scripts/build-images.sh" demo
  docker network inspect "$net" >/dev/null 2>&1 || docker network create --subnet "$subnet" "$net" >/dev/null
  if ! exists mlflow-local-moto; then
    log "starting the AWS emulator on 127.0.0.1:$aws_port"
    docker run -d --name mlflow-local-moto --network "$net" -p "127.0.0.1:$aws_port:5000" \
      --restart unless-stopped mlflow-ansible/moto:5.2.5 >/dev/null
  fi
  if ! exists mlflow-local-postgres; then
    log "starting PostgreSQL 17 (the RDS stand-in)"
    # Only the stand-in's own superuser and rds_superuser exist at first; site.yml creates the
    # master user and the database with the stack's password, as RDS does
    # (roles/database_standin). Its TLS certificate names the container, as clients reach it.
    docker run -d --name mlflow-local-postgres --hostname mlflow-local-postgres --network "$net" \
      -v mlflow-local-pgdata:/var/lib/postgresql -e STANDIN_TLS_NAMES=mlflow-local-postgres \
      --restart unless-stopped mlflow-ansible/postgres:17 >/dev/null
  fi
  for c in mlflow-local-moto mlflow-local-postgres; do
    running "$c" || docker start "$c" >/dev/null
  done
  for _ in $(seq 1 60); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$aws_port/moto-api/" \
       && docker exec mlflow-local-postgres pg_isready -q -h 127.0.0.1; then
      log "stand-ins are up"; return 0
    fi
    sleep 1
  done
  die "the stand-ins did not come up within 60 s (docker logs mlflow-local-moto / mlflow-local-postgres / mlflow-local-server)."
}

down() {
  docker rm -f mlflow-local-server mlflow-local-postgres mlflow-local-moto >/dev/null 2>&1 || true
  docker volume rm mlflow-local-pgdata >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
  log "local stack removed"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  check) check ;;
  *) echo "usage: $0 up|down|check" >&2; exit 2 ;;
esac
