# Task runner. `make test` is the one command that tests everything from a fresh clone;
# `make demo` runs the real site.yml against the local stand-ins.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
BIN := $(CURDIR)/.venv/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR ?= false
# Local mode talks to moto, never to AWS: dummy credentials for the emulator.
LOCAL_AWS := AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1

.PHONY: help test setup venv collections docker images lint docs test-aws test-host test-e2e \
        test-live demo demo-down bench

help:
	@echo "make demo       run site.yml on the local stand-ins (emulated AWS + a systemd container)"
	@echo "make demo-down  remove the local stand-ins and the emulator state"
	@echo "make test       lint + every test (installs what it needs)"
	@echo "make bench      print rotation / rerun / latency figures on the local stack"
	@echo "make docs       regenerate docs/roles.md from the roles' argument specs"
	@echo "make test-live  the whole stack on a real, disposable AWS account (opt-in, costs money; README)"

venv:
	bash scripts/ensure-venv.sh

collections: venv
	ansible-galaxy collection install -r requirements.yml

docker:
	bash scripts/ensure-docker.sh

images: docker
	bash scripts/build-images.sh

setup: venv collections images

lint: venv
	yamllint --strict .
	python scripts/role-docs.py --check
	ansible-lint

# docs/roles.md is generated from roles/*/meta/argument_specs.yml; `make lint` fails when it is stale.
docs: venv
	python scripts/role-docs.py

test-aws: venv
	pytest -p no:cacheprovider -n 2 --dist loadgroup tests/tools tests/aws

# On failure, the scenario's failed tests are printed again at the end (scripts/test-failures.sh).
test-host: setup
	rm -f .cache/test-reports/default.txt
	molecule test -s default || { bash scripts/test-failures.sh default; exit 1; }

test-e2e: setup
	rm -f .cache/test-reports/e2e.txt
	molecule test -s e2e || { bash scripts/test-failures.sh e2e; exit 1; }

# Opt-in, never part of `make test`: creates real AWS resources (README, "Live test"). Without
# the variables it says so and succeeds; tests/live skips itself too when run directly.
test-live: venv
	@if [ -z "$${MLFLOW_LIVE_REGION:-}" ] || [ -z "$${MLFLOW_LIVE_STACK:-}" ] || [ -z "$${MLFLOW_LIVE_ADMIN_CIDR:-}" ]; then \
	  echo "test-live: skipped, nothing created. It runs the whole stack on a real AWS account: set"; \
	  echo "  MLFLOW_LIVE_REGION (e.g. eu-west-1), MLFLOW_LIVE_STACK (a new stack name, e.g. mlflow-live),"; \
	  echo "  MLFLOW_LIVE_ADMIN_CIDR (your public IP/32) and AWS credentials of a disposable account."; \
	else \
	  pytest -p no:cacheprovider -v -s -rs tests/live; \
	fi

# The README's test command; .ci/run calls exactly this. The e2e scenario runs in the
# foreground; beside it, lint and the AWS layer at the lowest CPU priority (a CPU cgroup of the
# lowest weight, nice 19 without root), then the default scenario (scripts/test-all.sh).
test: setup
	MAKE='$(MAKE)' bash scripts/test-all.sh

demo:
	bash scripts/demo.sh

demo-down:
	bash scripts/local-stack.sh down
	rm -rf .credentials/local

bench: demo
	$(LOCAL_AWS) python scripts/benchmark.py
