#!/usr/bin/env bash
# apt-get install the named packages (as root), one apt at a time among the project's scripts:
# `make demo` runs ensure-venv.sh and ensure-docker.sh side by side, and both may install.
set -euo pipefail
exec flock -w 600 /run/lock/mlflow-ansible-apt.lock bash -c \
  'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null' _ "$@"
