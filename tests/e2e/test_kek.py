"""MLflow's KEK passphrase (README, "KEK passphrase"): a version or passphrase that cannot read
the secrets MLflow stores is refused before anything changes, and the README's rotation
(stop the instances, `mlflow crypto rotate-kek` prompted over SSH, new passphrase in the store,
version one higher, rerun) keeps a gateway secret created through nginx readable."""
import json
import os
import secrets
import select
import subprocess
import time

import pytest

from conftest import CREDENTIALS, KNOWN_HOSTS, SERVER, SSH_KEY, SSH_PORT, ansible_playbook, docker_exec, mlflow_client

STORE = CREDENTIALS / "mlflow_kek_passphrase"
ENV_FILE = "/etc/mlflow/mlflow.env"
REFUSED = "cannot be read with the passphrase in the secrets store"

# What the gateway secrets are, read on the host with the units' environment file only.
READ_SECRETS = """
import json, os
from mlflow.store.tracking.dbmodels.models import SqlGatewaySecret
from mlflow.tracking._tracking_service.utils import _get_store
from mlflow.utils.crypto import KEKManager, _decrypt_secret
store = _get_store(os.environ["MLFLOW_BACKEND_STORE_URI"])
with store.ManagedSessionMaker() as s:
    print(json.dumps({r.secret_name: [r.kek_version, _decrypt_secret(r.encrypted_value, r.wrapped_dek, KEKManager(),
                                                                     r.secret_id, r.secret_name)]
                      for r in s.query(SqlGatewaySecret).all()}))
"""


def gateway(client_env, code):
    """MLflow's REST store as a user reaches it (the env file, through nginx)."""
    prelude = "from mlflow.tracking._tracking_service.utils import _get_store\ns = _get_store()\n"
    result = mlflow_client(client_env, "-c", prelude + code)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


def stored_secrets():
    result = docker_exec(SERVER, "systemd-run", "--quiet", "--pipe", "--wait", f"--property=EnvironmentFile={ENV_FILE}",
                         "--property=User=mlflow", "/opt/mlflow/venv/bin/python", "-c", READ_SECRETS, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def env_file():
    return docker_exec(SERVER, "cat", ENV_FILE).stdout


def kek_version_in(env):
    return [line.split("=", 1)[1] for line in env.splitlines() if line.startswith("MLFLOW_CRYPTO_KEK_VERSION=")]


def converge_mlflow(*extra):
    """site.yml's MLflow layer only (--tags mlflow), as the README's rerun does for it."""
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
    """A gateway secret created through nginx; deleted and the KEK put back afterwards (a
    secret at another KEK version would make every later run refuse the inventory's)."""
    passphrase = STORE.read_text()
    name = f"kek-drill-{int(time.time())}"
    secret_id = gateway(client_env, f"print(s.create_gateway_secret({name!r}, {{'api_key': 'sk-drill-1'}}, "
                                    "provider='openai').secret_id)").splitlines()[-1]
    yield name
    gateway(client_env, f"s.delete_gateway_secret({secret_id!r})")
    STORE.write_text(passphrase)
    run = converge_mlflow()
    assert run.returncode == 0, run.stdout[-4000:]


def test_a_kek_that_cannot_read_the_stored_secrets_is_refused_and_the_readme_rotation_keeps_them(gateway_secret):
    before = env_file()
    assert stored_secrets() == {gateway_secret: [1, {"api_key": "sk-drill-1"}]}

    # The README's rotation, over SSH: stop every instance, rotate-kek asks for the new
    # passphrase twice (never on a command line), the store gets it, the rerun has version 2.
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

    # With the version the rotation printed, the rerun applies both and starts the instances.
    run = converge_mlflow("-e", "mlflow_crypto_kek_version=2")
    assert run.returncode == 0, run.stdout[-4000:]
    assert kek_version_in(env_file()) == ['"2"']
    assert docker_exec(SERVER, "systemctl", "is-active", "mlflow", "mlflow-2").stdout.split() == ["active", "active"]
    assert stored_secrets() == {gateway_secret: [2, {"api_key": "sk-drill-1"}]}
