"""Service restarts and reboots: the server comes back by itself and keeps its data path working.

Runs last (file name): it restarts services and containers.
"""

import subprocess
import time

import requests

from mlflow_client import roundtrip

API = "/api/2.0/mlflow/experiments/search?max_results=1"


def test_requests_keep_succeeding_while_one_instance_restarts(target, users):
    """nginx passes requests to the other instance while mlflow.service restarts."""
    proc = target.host.backend.run("systemctl restart --no-block mlflow")
    assert proc.rc == 0
    failures, statuses = [], set()
    deadline = time.monotonic() + 30
    count = 0
    while time.monotonic() < deadline and count < 300:
        count += 1
        resp = requests.get(f"{target.base_url}{API}", auth=users[0], verify=str(target.cert_path), timeout=10)
        statuses.add(resp.status_code)
        if resp.status_code != 200:
            failures.append(resp.status_code)
        # Stop once the restarted instance serves again.
        if count > 20 and target.host.run("curl -fsS -m 2 http://127.0.0.1:5000/health").rc == 0:
            break
        time.sleep(0.05)
    assert not failures, f"{len(failures)} of {count} requests failed during the restart: {sorted(statuses)}"


def test_client_works_after_systemctl_restart(target, users, test_vars, tmp_path):
    target.host.check_output("systemctl restart mlflow")
    target.wait_healthy()
    for port in (5000, 5001):
        target.host.check_output(f"curl -fsS --retry 60 --retry-delay 2 --retry-connrefused http://127.0.0.1:{port}/health")
    roundtrip(target, *users[0], test_vars, tmp_path, "service-restart")


def test_client_works_after_container_restart(target, users, test_vars, tmp_path):
    subprocess.run(["docker", "restart", target.name], check=True, capture_output=True, timeout=120)
    target.wait_healthy()
    for port in (5000, 5001):
        target.host.check_output(f"curl -fsS --retry 60 --retry-delay 2 --retry-connrefused http://127.0.0.1:{port}/health")
    assert "Status: active" in target.host.check_output("ufw status")
    roundtrip(target, *users[0], test_vars, tmp_path, "reboot")
