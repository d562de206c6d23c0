#!/usr/bin/env bash
# `make test` after its setup. The e2e scenario runs in the foreground. Beside it, one after
# the other: lint and the AWS layer (CPU only: no Docker, no fixed port) at the lowest CPU
# priority, on the cores the e2e scenario leaves idle, then the default scenario at normal
# priority, on the cores its verify step leaves idle once the AWS layer is done (~40 %). The
# e2e tests' measurements under load are not the AWS layer's: that one only takes idle CPU.
# The background's output is kept in .cache/test-reports/ (aws-layer.log, default.log) and
# printed once everything is done; every failed part is named in the last lines of the log.
set -uo pipefail
cd "$(dirname "$0")/.."
make=${MAKE:-make}
reports=.cache/test-reports
layer_log=$reports/aws-layer.log
host_log=$reports/default.log
mkdir -p "$reports"
rm -f "$layer_log" "$host_log" "$reports/aws-layer.status" "$reports/default.status"
# A nice value alone does not hold Ansible back: each of its workers starts a session of its
# own (os.setsid), and where the kernel groups processes by session (autogroups: on here) a
# nice value weighs only inside its session. A CPU cgroup holds every descendant whatever its
# session: the background runs in one of the lowest weight (cgroup v1 cpu.shares 2, idle
# class where the kernel has cpu.idle; cgroup v2 cpu.weight 1) when this user can make one
# (root), else at nice 19 alone. Measured here, two busy loops beside two others, each in a
# session of its own: 35 % of the CPU at nice 19, 3 % in the cgroup.
cgroup=
if [ -d /sys/fs/cgroup/cpu ] && [ -w /sys/fs/cgroup/cpu ]; then
  cgroup=/sys/fs/cgroup/cpu/mlflow-ansible-tests-$$
  mkdir "$cgroup" && echo 2 > "$cgroup/cpu.shares" && { [ ! -f "$cgroup/cpu.idle" ] || echo 1 > "$cgroup/cpu.idle"; } || cgroup=
elif [ -w /sys/fs/cgroup/cgroup.procs ] && grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
  cgroup=/sys/fs/cgroup/mlflow-ansible-tests-$$
  mkdir "$cgroup" && echo 1 > "$cgroup/cpu.weight" || cgroup=
fi
if [ -z "$cgroup" ]; then
  echo "== no CPU cgroup can be made here (not root?): lint and test-aws run at nice 19 only" >&2
fi
(
  sh -c 'if [ -n "$1" ]; then echo $$ > "$1/cgroup.procs"; fi; shift; exec nice -n 19 "$@"' sh "$cgroup" \
    "$make" --no-print-directory lint test-aws > "$layer_log" 2>&1
  echo $? > "$reports/aws-layer.status"
  "$make" --no-print-directory test-host > "$host_log" 2>&1
  echo $? > "$reports/default.status"
) &
background_pid=$!
trap 'trap - INT TERM; kill 0' INT TERM

e2e=0
"$make" --no-print-directory test-e2e || e2e=$?

echo "== waiting for lint, test-aws and test-host (running beside the e2e scenario)"
wait "$background_pid"
[ -z "$cgroup" ] || rmdir "$cgroup" 2>/dev/null || true
layer=$(cat "$reports/aws-layer.status" 2>/dev/null || echo 1)
host=$(cat "$reports/default.status" 2>/dev/null || echo 1)
echo "== make test-host (molecule test -s default), as it ran beside the e2e scenario ($host_log):"
cat "$host_log"
echo "== make lint test-aws, as it ran beside the scenarios at the lowest CPU priority ($layer_log):"
cat "$layer_log"

status=0
if [ "$layer" -ne 0 ]; then
  status=1
  echo "== make test: lint or test-aws failed (output just above); the failed tests:"
  grep -E '^(FAILED|ERROR) |^=+ .*(passed|failed|error).* in [0-9.]+s' "$layer_log" \
    || echo "   no pytest summary: lint failed, or pytest did not finish"
fi
if [ "$host" -ne 0 ]; then
  status=1
  bash scripts/test-failures.sh default
fi
if [ "$e2e" -ne 0 ]; then
  status=1
  bash scripts/test-failures.sh e2e
fi
[ "$status" -eq 0 ] && echo "== make test: lint, test-aws, test-host and test-e2e passed"
exit "$status"
