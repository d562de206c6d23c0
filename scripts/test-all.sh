#!/usr/bin/env bash
# `make test` after its setup: the two molecule scenarios in the foreground, one after the
# other, while lint and the AWS layer (CPU only: no Docker, no fixed port) run beside them at
# the lowest CPU priority, on the cores the scenarios leave idle (the e2e verify step leaves
# ~40 %). The scenarios keep their CPU, so the e2e tests' measurements under load are not the
# AWS layer's. The background's output is kept in .cache/test-reports/aws-layer.log and
# printed once everything is done; every failed part is named in the last lines of the log.
set -uo pipefail
cd "$(dirname "$0")/.."
make=${MAKE:-make}
reports=.cache/test-reports
layer_log=$reports/aws-layer.log
mkdir -p "$reports"
rm -f "$layer_log"
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
sh -c 'if [ -n "$1" ]; then echo $$ > "$1/cgroup.procs"; fi; shift; exec nice -n 19 "$@"' sh "$cgroup" \
  "$make" --no-print-directory lint test-aws > "$layer_log" 2>&1 &
layer_pid=$!
trap 'trap - INT TERM; kill 0' INT TERM

failed_scenario=
for scenario in default e2e; do
  target=test-host
  [ "$scenario" = e2e ] && target=test-e2e
  if ! "$make" --no-print-directory "$target"; then
    failed_scenario=$scenario
    break
  fi
done

echo "== waiting for make lint test-aws (running beside the scenarios at the lowest CPU priority)"
layer=0
wait "$layer_pid" || layer=$?
[ -z "$cgroup" ] || rmdir "$cgroup" 2>/dev/null || true
echo "== make lint test-aws, as it ran beside the scenarios ($layer_log):"
cat "$layer_log"

status=0
if [ "$layer" -ne 0 ]; then
  status=1
  echo "== make test: lint or test-aws failed (output just above); the failed tests:"
  grep -E '^(FAILED|ERROR) |^=+ .*(passed|failed|error).* in [0-9.]+s' "$layer_log" \
    || echo "   no pytest summary: lint failed, or pytest did not finish"
fi
if [ -n "$failed_scenario" ]; then
  status=1
  bash scripts/test-failures.sh "$failed_scenario"
fi
[ "$status" -eq 0 ] && echo "== make test: lint, test-aws, test-host and test-e2e passed"
exit "$status"
