#!/usr/bin/env bash
# `make test` after its setup: the two molecule scenarios in the foreground, one after the
# other, while lint and the AWS layer (CPU only: no Docker, no fixed port) run beside them at
# the lowest CPU priority (nice 19) on the cores the scenarios leave idle. The scenarios keep
# their CPU: containers and nice-0 processes outweigh a nice-19 one ~70 to 1, so the e2e tests'
# measurements under load are not the AWS layer's. The background's output is kept in
# .cache/test-reports/aws-layer.log and printed once everything is done; every failed part is
# named in the last lines of the log.
set -uo pipefail
cd "$(dirname "$0")/.."
make=${MAKE:-make}
reports=.cache/test-reports
layer_log=$reports/aws-layer.log
mkdir -p "$reports"
rm -f "$layer_log"
# In a session of its own whose scheduler autogroup gets nice 19 too: with autogroups (on here,
# and Linux's default on many machines) a nice value weighs only inside its session, and
# Ansible's workers each start a session of their own. Measured here, two busy loops at nice 19
# beside two others: 35 % of the CPU with the nice value alone, 2 % with the autogroup's too.
setsid -w sh -c 'echo 19 > /proc/self/autogroup 2>/dev/null; exec nice -n 19 "$@"' sh \
  "$make" --no-print-directory lint test-aws > "$layer_log" 2>&1 &
layer_pid=$!
trap 'trap - INT TERM; kill -- -"$layer_pid" 2>/dev/null; kill 0' INT TERM

failed_scenario=
for scenario in default e2e; do
  target=test-host
  [ "$scenario" = e2e ] && target=test-e2e
  if ! "$make" --no-print-directory "$target"; then
    failed_scenario=$scenario
    break
  fi
done

echo "== waiting for make lint test-aws (running beside the scenarios at nice 19)"
layer=0
wait "$layer_pid" || layer=$?
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
