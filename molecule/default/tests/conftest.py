"""Shared fixtures: the servers under test, their published ports, the test secrets."""

import json
import os
import pathlib
import time

import pytest
import requests
import testinfra
import yaml

HERE = pathlib.Path(__file__).resolve().parent
VARS_FILE = pathlib.Path(os.environ.get("MLFLOW_MOLECULE_VARS", HERE.parent / "inventory" / "group_vars" / "all.yml"))
# [[container, https port, http port], ...] from verify.yml; the defaults match molecule.yml.
TARGETS = json.loads(
    os.environ.get(
        "MLFLOW_MOLECULE_TARGETS",
        '[["mlflow-molecule-debian12", 9443, 9080], ["mlflow-molecule-debian13", 9444, 9081]]',
    )
)


class Target:
    """One server container and how the controller reaches it."""

    def __init__(self, name, https_port, http_port, tmp_dir):
        self.name = name
        self.https_port = int(https_port)
        self.http_port = int(http_port)
        self.host = testinfra.get_host(f"docker://{name}")
        # Each platform has its own database and database roles (inventory/host_vars/).
        self.platform = name.rsplit("-", 1)[1]  # debian12, debian13
        self.db_name = f"mlflow_{self.platform}"
        self.db_role_prefix = f"mlflow{self.platform.removeprefix('debian')}"
        self.base_url = f"https://127.0.0.1:{self.https_port}"
        self.cert_path = tmp_dir / f"{name}.crt"
        self.cert_path.write_bytes(self.host.file("/etc/nginx/tls/mlflow.crt").content)

    def __repr__(self):
        return self.name

    def wait_healthy(self, timeout=240):
        """Wait until /health answers 200 through nginx."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                resp = requests.get(f"{self.base_url}/health", verify=str(self.cert_path), timeout=5)
                if resp.status_code == 200:
                    return
                last = resp.status_code
            except requests.RequestException as exc:  # still booting
                last = exc
            time.sleep(2)
        raise AssertionError(f"{self.name}: /health did not answer 200 within {timeout}s (last: {last})")


@pytest.fixture(scope="session")
def test_vars():
    return yaml.safe_load(VARS_FILE.read_text())


@pytest.fixture(scope="session", params=TARGETS, ids=[t[0] for t in TARGETS])
def target(request, tmp_path_factory):
    name, https_port, http_port = request.param
    return Target(name, https_port, http_port, tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def users(test_vars):
    return [(u["name"], u["password"]) for u in test_vars["molecule_auth_users"]]
