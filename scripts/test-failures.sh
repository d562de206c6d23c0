#!/usr/bin/env bash
# After a failed molecule scenario: print what its verify step's pytest said about the
# failures, so they are the last lines of the log (molecule's destroy output comes after
# the verify report, and a CI log is often read from its end).
# Usage: scripts/test-failures.sh SCENARIO
set -uo pipefail
report=".cache/test-reports/$1.txt"
if [ ! -f "$report" ]; then
  echo "== molecule scenario $1 failed before its tests ran (no $report): see its output above"
  exit 0
fi
echo "== molecule scenario $1: the failures in its test report ($report; whole report above)"
# Each failure's header, the assertion lines and where they were raised, from pytest's
# FAILURES/ERRORS sections, then the one-line summary of each failed test.
awk '/^=+ [A-Za-z0-9 ]+ =+$/ { keep = / (FAILURES|ERRORS) / ; next } keep' "$report" \
  | grep -E '^(_{3,} .* _{3,}|E  |[^ ].*:[0-9]+: (in |[A-Za-z]*(Error|Exception|Failed)))' | tail -n 40
grep -E '^(FAILED|ERROR) |^=+ .*(passed|failed|error).* in [0-9.]+s' "$report"
