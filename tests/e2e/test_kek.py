"""MLflow's KEK passphrase (README, "KEK passphrase"): a version or passphrase that cannot read
the secrets MLflow stores is refused before anything changes, and the README's rotation
(stop the instances, `mlflow crypto rotate-kek` prompted over SSH, new passphrase in the store)
keeps a gateway secret created through nginx readable with the new passphrase and version.
No converge applies the new KEK here (each costs minutes): the secret is deleted and the old
passphrase put back afterwards, which leaves the stack as it was."""
import json
import os
import secrets
import select
import subprocess
import time

import pytest

from conftest import (CREDENTIALS, KNOWN_HOSTS, SERVER, SSH_KEY, SSH_PORT, ansible_playbook, docker_exec, mlflow_client,
                      psql)

STORE = CREDENTIALS / "mlflow_kek_passphrase"
ENV_FILE = "/etc/mlflow/mlflow.env"
REFUSED = "cannot be read with the passphrase in the secrets store"
WAIT_FOR_HEALTH = """
import time, urllib.request
deadline = time.monotonic() + 180
for port in (5000, 5001):
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
"""

# What the gateway secrets are, read on the host with the units' environment file, or with
# the passphrase given on stdin and the version given as an argument.
READ_SECRETS = """
import json, os, sys
from mlflow.store.tracking.dbmodels.models import SqlGatewaySecret
from mlflow.tracking._tracking_service.utils import _get_store
from mlflow.utils.crypto import KEKManager, _decrypt_secret
kek = KEKManager(sys.stdin.readline().rstrip(), int(sys.argv[1])) if len(sys.argv) > 1 else KEKManager()
store = _get_store(os.environ["MLFLOW_BACKEND_STORE_URI"])
with store.ManagedSessionMaker() as s:
    print(json.dumps({r.secret_name: [r.kek_version, _decrypt_secret(r.encrypted_value, r.wrapped_dek, kek,
                                                                     r.secret_id, r.secret_name)]
                      for r in s.query(SqlGatewaySecret).all()}))
"""


def gateway(client_env, code):
    """MLflow's REST store as a user reaches it (the env file, through nginx)."""
    prelude = "from mlflow.tracking._tracking_service.utils import _get_store\ns = _get_store()\n"
    result = mlflow_client(client_env, "-c", prelude + code)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


def stored_secrets(passphrase=None, version=None):
    """{name: [KEK version, value]}, with the env file's KEK or the given one."""
    result = docker_exec(SERVER, "systemd-run", "--quiet", "--pipe", "--wait", f"--property=EnvironmentFile={ENV_FILE}",
                         "--property=User=mlflow", "/opt/mlflow/venv/bin/python", "-c", READ_SECRETS,
                         *([str(version)] if version else []), input_text=f"{passphrase}\n" if passphrase else "",
                         check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def env_file():
    return docker_exec(SERVER, "cat", ENV_FILE).stdout


def converge_mlflow(*extra):
    """site.yml's MLflow layer only (--tags mlflow): the part of the README's rerun that checks the KEK."""
    return ansible_playbook("site.yml", "--tags", "mlflow", *extra)


def answer_prompts(argv, answers, timeout=180):
    """Run argv, type each answer once its prompt has appeared (a prompt that turns echo off
    flushes what was typed before it); returns (exit status, everything printed)."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, seen, deadline = b"", 0, time.monotonic() + timeout
    for prompt, answer in answers:
        while prompt not in out[seen:]:
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(proc.stdout.fileno(), 4096) if ready else b""
            if not chunk:
                proc.kill()
                raise AssertionError(f"no {prompt!r} prompt: {out[-2000:]!r}")
            out += chunk
        seen = len(out)
        proc.stdin.write(answer + b"\n")
        proc.stdin.flush()
    rest, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    return proc.returncode, (out + rest).decode(errors="replace")


def ssh_tty(*command):
    """The operator's session: SSH with a terminal, as the stack's login user."""
    return ["ssh", "-tt", "-p", str(SSH_PORT), "-i", str(SSH_KEY), "-o", "BatchMode=yes", "-o", "ControlPath=none",
            "-o", f"UserKnownHostsFile={KNOWN_HOSTS}", "-o", "StrictHostKeyChecking=yes", "admin@127.0.0.1", *command]


@pytest.fixture
def gateway_secret(client_env):
    """A gateway secret created through nginx. Afterwards it is deleted (a secret at another KEK
    version would make every later run refuse the inventory's), the old passphrase is back in
    the store and the instances run: the env file was never changed, so the stack is as before."""
    passphrase = STORE.read_text()
    name = f"kek-drill-{int(time.time())}"
    secret_id = gateway(client_env, f"print(s.create_gateway_secret({name!r}, {{'api_key': 'sk-drill-1'}}, "
                                    "provider='openai').secret_id)").splitlines()[-1]
    yield name
    psql(f"DELETE FROM secrets WHERE secret_id = '{secret_id}';")
    STORE.write_text(passphrase)
    docker_exec(SERVER, "systemctl", "start", "mlflow", "mlflow-2")
    docker_exec(SERVER, "python3", "-c", WAIT_FOR_HEALTH, timeout=200)
    assert gateway(client_env, "print(len(s.list_secret_infos()))").splitlines()[-1] == "0"


def test_the_readme_rotation_keeps_the_secrets_and_a_forgotten_version_bump_is_refused(gateway_secret):
    before = env_file()
    assert stored_secrets() == {gateway_secret: [1, {"api_key": "sk-drill-1"}]}

    # The README's rotation, over SSH: stop every instance, rotate-kek asks for the new
    # passphrase twice (never on a command line), the store gets it.
    new = secrets.token_urlsafe(24).encode()
    stop = subprocess.run(ssh_tty("sudo", "systemctl", "stop", "mlflow", "mlflow-2"), capture_output=True, timeout=120)
    assert stop.returncode == 0, stop.stdout[-2000:]
    status, printed = answer_prompts(
        ssh_tty("sudo", "systemd-run", "--pty", "-p", f"EnvironmentFile={ENV_FILE}", "-p", "User=mlflow",
                "/opt/mlflow/venv/bin/mlflow", "crypto", "rotate-kek", "-y"),
        [(b"New passphrase:", new), (b"Repeat for confirmation:", new)])
    assert status == 0 and "Successfully rotated 1 encryption key from KEK v1 to v2" in printed, printed[-3000:]
    assert new.decode() not in printed  # typed without echo
    STORE.write_text(new.decode() + "\n")

    # The new passphrase with the old version (the version bump forgotten): refused, in the
    # role's words, before any change; MLflow's environment file still has the old KEK.
    run = converge_mlflow()
    output = " ".join(run.stdout.split())
    assert run.returncode != 0 and REFUSED in output, output[-3000:]
    assert f"({gateway_secret}; 1 in all, at KEK version 2)" in output and "Nothing was changed" in output
    assert env_file() == before

    # What the rerun with the version the rotation printed gives MLflow reads the secret.
    assert stored_secrets(new.decode(), 2) == {gateway_secret: [2, {"api_key": "sk-drill-1"}]}
