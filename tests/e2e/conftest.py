"""Fixtures for the end-to-end tests: the local stack converged by site.yml.

Everything is reached the way a user reaches it: the MLflow client env file written by
site.yml, HTTPS on 127.0.0.1:8443 (LOCAL_HTTPS_PORT moves it, as for the stack), the emulated S3 on 127.0.0.1:5500, and `docker exec`
into the server and PostgreSQL containers (the "host" and the "RDS" of the stack).
"""
import os
import pathlib
import re
import shlex
import subprocess
import sys

import boto3
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CREDENTIALS = ROOT / ".credentials" / "local"
SERVER = "mlflow-local-server"
POSTGRES = "mlflow-local-postgres"
AWS_ENDPOINT = os.environ.get("MLFLOW_STACK_AWS_ENDPOINT", "http://127.0.0.1:5500")
BUCKET = "mlflow-local-artifacts"
PREFIX = "mlflow"
# The ports the local stack publishes on 127.0.0.1, moved by the same variables as
# scripts/local-stack.sh and inventories/local.
HTTPS_PORT = int(os.environ.get("LOCAL_HTTPS_PORT", "8443"))
SSH_PORT = int(os.environ.get("LOCAL_SSH_PORT", "2222"))
URL = f"https://127.0.0.1:{HTTPS_PORT}"
# scripts/mlflow_load.py, the client loops the rotation tests share with the benchmark.
sys.path.insert(0, str(ROOT / "scripts"))


def auth_users():
    """The basic-auth users, as the credentials directory names them (one file each)."""
    return sorted(path.name for path in (CREDENTIALS / "auth").iterdir() if path.suffix != ".salt")


def parse_env_file(path):
    """The variables a client gets from the env file, the way a user loads it:
    `set -a; . file; set +a` in bash, from another working directory."""
    names = [line.partition("=")[0].strip() for line in pathlib.Path(path).read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    script = 'set -a; . "$1"; set +a; for n in ' + " ".join(shlex.quote(n) for n in names) + \
             '; do printf "%s=%s\\0" "$n" "$(printenv "$n")"; done'
    out = subprocess.run(["bash", "-c", script, "bash", str(path)], cwd="/", capture_output=True, text=True,
                         check=True, env={"PATH": "/usr/bin:/bin"}).stdout
    return dict(item.split("=", 1) for item in out.split("\0") if item)


@pytest.fixture(scope="session")
def client_env():
    return parse_env_file(CREDENTIALS / "mlflow-client.env")


def mlflow_client(client_env, *argv, timeout=300, **env_extra):
    """Python with the MLflow client (`python *argv`) configured only by the env file's variables
    (plus env_extra) and a system PATH: nothing of the test's own environment, so no MLFLOW_*/AWS_*
    variable (no route to S3 but through nginx) and no CA bundle or proxy the env file lacks."""
    return subprocess.run([sys.executable, *argv], env={"PATH": "/usr/bin:/bin", **client_env, **env_extra},
                          capture_output=True, text=True, timeout=timeout)


def aws(service):
    """A boto3 client of the emulated AWS the local stack runs on."""
    return boto3.client(service, endpoint_url=AWS_ENDPOINT, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def recap(output):
    """{host: {"ok", "changed", "unreachable", "failed"}} of a run's PLAY RECAP."""
    rows = re.findall(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output, re.M)
    assert rows, output[-3000:]
    return {host: {"ok": int(o), "changed": int(c), "unreachable": int(u), "failed": int(f)} for host, o, c, u, f in rows}


def changed_tasks(output):
    """{(task or handler name, host)} of every result reported as changed; a task delegated
    elsewhere ("changed: [host -> localhost]") counts for the host it ran for."""
    found = set()
    for chunk in re.split(r"\n(?=(?:TASK|RUNNING HANDLER) \[)", output):
        header = re.match(r"(?:TASK|RUNNING HANDLER) \[(.*?)\]", chunk)
        if header:
            found.update((header.group(1), host) for host in re.findall(r"^changed: \[([^\]\s]+)", chunk, re.M))
    return found


def assert_changed_exactly(output, expected):
    """The run changed exactly `expected` ({(task or handler name, host)}) and nothing else:
    the set of changed tasks, and each host's PLAY RECAP (changed = its tasks in `expected`,
    nothing unreachable, nothing failed)."""
    assert changed_tasks(output) == expected, output[-4000:]
    for host, counts in recap(output).items():
        counts.pop("ok")
        assert counts == {"changed": len([t for t in expected if t[1] == host]), "unreachable": 0, "failed": 0}, (
            host, counts, output[-4000:])


def docker_exec(container, *argv, input_text=None, check=True, timeout=120):
    return subprocess.run(
        ["docker", "exec", "-i", container, *argv],
        input=input_text, capture_output=True, text=True, check=check, timeout=timeout,
    )


def psql(sql):
    """Run SQL as the PostgreSQL superuser inside the stand-in; returns stdout."""
    return docker_exec(POSTGRES, "su", "postgres", "-c", "psql -tA -d mlflow", input_text=sql).stdout


SSH_KEY = CREDENTIALS / "ssh_key"
KNOWN_HOSTS = CREDENTIALS / "known_hosts"


def ssh(*command, user="admin", key=SSH_KEY, check=False, extra=()):
    """Run a command on the server the way the stack reaches it: SSH to the published port
    with the stack's key, checking the host key against the stack's known_hosts file."""
    return subprocess.run(
        ["ssh", "-p", str(SSH_PORT), "-i", str(key), "-o", "BatchMode=yes", "-o", "ControlPath=none",
         "-o", f"UserKnownHostsFile={KNOWN_HOSTS}", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10",
         *extra, f"{user}@127.0.0.1", *command],
        capture_output=True, text=True, check=check, timeout=60,
    )


def ansible_playbook(*args, env_extra=None, timeout=900):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "ANSIBLE_FORCE_COLOR": "false",
    })
    env.update(env_extra or {})
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(ROOT / "inventories" / "local"), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture(scope="session")
def lifecycle():
    """One run of the shared lifecycle (tests/e2e/lifecycle.py), for test_upgrade.py and
    test_secret_hygiene.py: they run last, in that order (it replaces the instance)."""
    import json
    import time

    import lifecycle as lc

    result = {"runs": {}, "secrets_before": lc.current_secrets()}
    result["old_instance"] = lc.replace_the_instance()
    # The drill starts from an older release, hence from a database at that release's schema:
    # an empty one, as RDS hands it over before a first install (the stack's database already
    # has the newer schema, which MLflow cannot migrate back; the run would rightly fail).
    docker_exec(POSTGRES, "su", "postgres", "-c", "psql -tA -d postgres",
                input_text="DROP DATABASE mlflow WITH (FORCE);\nCREATE DATABASE mlflow OWNER mlflow;\n", check=True)
    # Log every DDL statement, as an RDS parameter group with log_statement = ddl does.
    psql("ALTER SYSTEM SET log_statement = 'ddl'; SELECT pg_reload_conf();")
    try:
        install = lc.sampled("site.yml", "-e", f"mlflow_version={lc.OLD_MLFLOW}",
                             "-e", f"preflight_mlflow_minimum_version={lc.OLD_MLFLOW}")
        result["runs"]["first install"] = install
        assert install[0].returncode == 0, install[0].stdout[-4000:]
        result["new_instance"] = lc.server_instance_id()
        result["installed"] = (lc.running_release(), lc.schema_revision())
        experiment = f"upgrade-drill-{int(time.time())}"
        result["data"] = json.loads(lc.client(lc.CLIENT_WRITE, experiment))
        result["experiment"] = experiment

        lc.prepare_broken_release()
        failed = lc.sampled("site.yml")
        result["runs"]["failed upgrade"] = failed
        result["after_rollback"] = {
            "release": lc.running_release(),
            "revision": lc.schema_revision(),
            "venvs": docker_exec(SERVER, "ls", "/opt/mlflow/venvs").stdout.split(),
            "flag": docker_exec(SERVER, "test", "-e", "/run/mlflow-upgrade/writes-paused", check=False).returncode == 0,
            "read": lc.client(lc.CLIENT_READ, json.dumps(result["data"])),
            "databases": psql("SELECT datname FROM pg_database ORDER BY 1;").split(),
        }

        upgrade = lc.sampled("site.yml")
        result["runs"]["upgrade"] = upgrade
        assert upgrade[0].returncode == 0, upgrade[0].stdout[-4000:]
        result["after_upgrade"] = {
            "release": lc.running_release(),
            "revision": lc.schema_revision(),
            "venvs": docker_exec(SERVER, "ls", "/opt/mlflow/venvs").stdout.split(),
            "read": lc.client(lc.CLIENT_READ, json.dumps(result["data"])),
        }
        # Everything rotated at once (the playbook's default), while a client keeps going with
        # a password the rotation retires (tests/e2e/test_upgrade.py checks what it left).
        result["before_rotation"] = lc.rotation_state()
        retired = lc.retired_client_loop()
        retired.start()
        try:
            rotation = lc.sampled("playbooks/rotate-credentials.yml")
        finally:
            retired.stop()
        result["runs"]["rotation"] = rotation
        result["retired_client"] = retired
        assert rotation[0].returncode == 0, rotation[0].stdout[-4000:]
    finally:
        psql("ALTER SYSTEM RESET log_statement; SELECT pg_reload_conf();")
    return result
