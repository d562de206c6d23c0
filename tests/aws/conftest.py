"""Helpers for the AWS layer tests: run the real playbooks against moto, read back with boto3."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = REPO / ".venv" / "bin" / "ansible-playbook"
INVENTORY = REPO / "inventories" / "local"
REGION = "us-east-1"
STACK = "mlflow-local"  # stack_name of inventories/local
BUCKET = "mlflow-local-artifacts"

# Wall times of the runs worth reporting, printed at the end of the session.
WALL_TIMES: dict[str, float] = {}

_RECAP = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@dataclass
class Run:
    returncode: int
    output: str
    seconds: float

    @property
    def recap(self) -> dict[str, int]:
        match = _RECAP.findall(self.output)
        assert match, f"no PLAY RECAP for localhost in:\n{self.output[-3000:]}"
        ok, changed, unreachable, failed = (int(x) for x in match[-1])
        return {"ok": ok, "changed": changed, "unreachable": unreachable, "failed": failed}


@pytest.fixture(scope="session")
def aws(moto_endpoint):
    """boto3 clients bound to the emulator."""

    def client(service: str):
        return boto3.client(
            service,
            endpoint_url=moto_endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return client


@pytest.fixture(scope="session")
def reset_moto(moto_endpoint):
    """Forget every resource the emulator holds."""

    def reset():
        req = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10):
            pass

    return reset


@pytest.fixture(scope="session")
def playbook(moto_endpoint, tmp_path_factory):
    """Run a playbook of the project with the local inventory against the session's moto."""
    credentials = tmp_path_factory.mktemp("credentials")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        # Safety net: anything that escapes module_defaults still lands in the emulator.
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "MLFLOW_STACK_AWS_ENDPOINT": moto_endpoint,
        "ANSIBLE_DISPLAY_TRACEBACK": "error",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
    }
    env.pop("AWS_PROFILE", None)

    def run(name: str, extra_vars: dict | None = None, *args: str, inventory: Path | None = None) -> Run:
        variables = {"stack_credentials_dir": str(credentials), **(extra_vars or {})}
        cmd = [
            str(ANSIBLE_PLAYBOOK),
            "-i",
            str(inventory or INVENTORY),
            str(REPO / "playbooks" / name),
            "-e",
            json.dumps(variables),
            *args,
        ]
        start = time.monotonic()
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
        return Run(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start)

    return run


def pytest_terminal_summary(terminalreporter):
    if WALL_TIMES:
        terminalreporter.section("AWS layer wall times (moto)")
        for name, seconds in WALL_TIMES.items():
            terminalreporter.write_line(f"{name:<40} {seconds:6.1f} s")
