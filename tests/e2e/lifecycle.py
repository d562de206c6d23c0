"""The lifecycle the last e2e tests share (one session-scoped run of it, tests/e2e/conftest.py):
a replaced instance's first install of an older MLflow, data logged on it, an upgrade whose
migration fails on purpose (rolled back), the real upgrade, and a rotation. Every run is made
with -vvv while every command line on the host is sampled, for the secret sweep."""
import os
import re
import subprocess
import threading
import time

import base64

from conftest import CREDENTIALS, SERVER, URL, ansible_playbook, auth_users, aws, docker_exec, parse_env_file, psql
from mlflow_load import LoadLoop, create_run
from rotation import app_password, db_password, mlflow_login, password

# Two releases with schema migrations between them (3.17.0: trace analytics columns, job
# tables), both installable from PyPI; 3.16.1 is older than the project's floor (3.17.0), so the
# drill lowers the floor explicitly for its first install.
OLD_MLFLOW = "3.16.1"
NEW_MLFLOW = "3.17.2"
OLD_HEAD, NEW_HEAD = "b7e2c1a4d9f3", "dc11669786a5"

# A test-only migration after 3.17.2's head: the migrations before it are committed (as MySQL's
# non-transactional DDL would leave them), then it fails. Only the snapshot can bring the old
# schema back.
BROKEN_MIGRATION = f'''
"""drill: fails on purpose after committing the migrations before it"""
from alembic import op

revision = "ffffd1110001"
down_revision = "{NEW_HEAD}"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("COMMIT")
    raise RuntimeError("upgrade drill: this migration fails on purpose")


def downgrade():
    pass
'''


def current_secrets():
    secrets = {"db": (CREDENTIALS / "db_password").read_text().strip(),
               "db-app": (CREDENTIALS / "db_app_password").read_text().strip(),
               "kek": (CREDENTIALS / "mlflow_kek_passphrase").read_text().strip()}
    for user in auth_users():
        secrets[f"auth:{user}"] = secret = password(user)
        # What a client sends in every request (Authorization: Basic ...).
        secrets[f"auth-b64:{user}"] = base64.b64encode(f"{user}:{secret}".encode()).decode()
    # The key's base64 lines, but the first: it encodes the format's fixed header
    # ("openssh-key-v1", no cipher, no KDF, one key, "ssh-ed25519"), the same in every
    # unencrypted ed25519 key, the host's own keys included.
    body = [line for line in (CREDENTIALS / "ssh_key").read_text().splitlines() if "-----" not in line]
    secrets.update({f"ssh-key-line-{i}": line for i, line in enumerate(body) if i > 0 and len(line) >= 32})
    return secrets


class ProcessSampler(threading.Thread):
    """Reads every command line on the host, again and again, while a run goes on.

    One loop inside the server writes the samples to a single `docker exec` stream: a
    `docker exec` per sample cost ~0.14 s of CPU (measured), a third of a core taken from the
    run under test; the loop costs ~0.02 s per sample. When the instance is replaced, the loop
    dies with the old server and starts again in the new one."""

    END = "@@ sample end @@"
    LOOP = ("while :; do cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '; echo; ps -eo args ww; "
            f"echo '{END}'; sleep 0.2; done")

    def __init__(self):
        super().__init__(daemon=True)
        self.samples, self.reads, self.stopping = [], 0, threading.Event()
        # The loop's name on the host ($0 of its shell), for stop() to end it.
        self.tag = f"e2e-sampler-{os.getpid()}-{id(self)}"
        self.proc = None

    def run(self):
        while not self.stopping.is_set():
            # While the instance is being replaced there is no server to read: not a read.
            # The loop ends by itself after the longest run's timeout should stop() not reach it.
            self.proc = subprocess.Popen(["docker", "exec", SERVER, "timeout", "2700", "sh", "-c", self.LOOP, self.tag],
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                         errors="replace")  # a byte that is not UTF-8 must not end the sampling
            sample = []
            for line in self.proc.stdout:
                if line.rstrip("\n") != self.END:
                    sample.append(line)
                    continue
                text = "".join(sample)
                sample = []
                if "ps -eo" in text:
                    self.samples.append(text)
                    self.reads += 1
            self.proc.wait()
            self.stopping.wait(0.5)

    def stop(self):
        self.stopping.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
        self.join(timeout=120)
        # Ending the client does not end the loop on the host: pkill does.
        subprocess.run(["docker", "exec", SERVER, "pkill", "-f", self.tag], capture_output=True, timeout=60, check=False)


def sampled(*args):
    """Run a playbook with -vvv while sampling the host's command lines."""
    sampler = ProcessSampler()
    sampler.start()
    started = time.monotonic()
    try:
        run = ansible_playbook(*args, "-vvv", timeout=2400)
    finally:
        sampler.stop()
    return run, sampler, time.monotonic() - started


def replace_the_instance():
    """A new EC2 instance, as if the old one had been replaced: the next run launches it, moves
    the Elastic IP to it and boots its stand-in (new host keys) for a first install."""
    ec2 = aws("ec2")
    reservations = ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": ["mlflow-local-server"]},
                                                   {"Name": "instance-state-name", "Values": ["running"]}])
    ids = [i["InstanceId"] for r in reservations["Reservations"] for i in r["Instances"]]
    assert len(ids) == 1
    ec2.terminate_instances(InstanceIds=ids)
    return ids[0]


def server_instance_id():
    return subprocess.run(["docker", "inspect", "-f", '{{ index .Config.Labels "mlflow-ansible.instance-id" }}', SERVER],
                          capture_output=True, text=True, check=True).stdout.strip()


def running_release():
    return docker_exec(SERVER, "readlink", "/opt/mlflow/venv").stdout.strip().rsplit("/", 1)[-1]


def schema_revision():
    return psql("SELECT version_num FROM alembic_version;").strip()


def prepare_broken_release():
    """Install the new release into the venv the upgrade will use, with the broken migration in
    it (the role finds the release installed and uses it as it is)."""
    venv = f"/opt/mlflow/venvs/{NEW_MLFLOW}"
    docker_exec(SERVER, "sh", "-c", f"umask 022 && python3 -m venv {venv} && {venv}/bin/pip install -q "
                f"mlflow=={NEW_MLFLOW} 'psycopg[binary]' boto3", check=True)
    versions = docker_exec(SERVER, f"{venv}/bin/python", "-c",
                           "import mlflow.store.db_migrations as m, os; print(os.path.dirname(m.__file__))").stdout.strip()
    docker_exec(SERVER, "sh", "-c", f"cat > {versions}/versions/ffffd1110001_upgrade_drill.py",
                input_text=BROKEN_MIGRATION, check=True)


def rotation_state():
    """The secrets a rotation of everything replaces, and MLflow's database login."""
    return {"auth": {user: password(user) for user in auth_users()}, "master": db_password(),
            "app": app_password(), "login": mlflow_login()}


def retired_client_loop():
    """A client loop with a password the rotation retires: 200 until the new htpasswd file
    lands, then 401, where it stops (as a real client would)."""
    cert = parse_env_file(CREDENTIALS / "mlflow-client.env")["MLFLOW_TRACKING_SERVER_CERT_PATH"]
    auth = ("ci-bot", password("ci-bot"))
    return LoadLoop(URL, auth, create_run(URL, auth, cert, "rotation-load"), cert, max_seconds=900, stop_on=(401,))


def write_pause_seconds(output):
    match = re.search(r"writes paused\s+([0-9.]+) s", output)
    return float(match.group(1)) if match else None


CLIENT_WRITE = r"""
import json, pathlib, sys, tempfile
from mlflow.tracking import MlflowClient
c = MlflowClient()
exp = c.create_experiment(sys.argv[1])
runs = []
for i in range(3):
    r = c.create_run(exp)
    c.log_param(r.info.run_id, "index", str(i))
    for step in range(4):
        c.log_metric(r.info.run_id, "loss", 1.0 / (step + 1 + i), step=step)
    with tempfile.TemporaryDirectory() as t:
        p = pathlib.Path(t) / "model.txt"
        p.write_text(f"weights {i}\n")
        c.log_artifact(r.info.run_id, str(p))
    c.set_terminated(r.info.run_id)
    runs.append(r.info.run_id)
print(json.dumps(runs))
"""

CLIENT_READ = r"""
import json, pathlib, sys, tempfile
from mlflow.tracking import MlflowClient
c = MlflowClient()
runs = json.loads(sys.argv[1])
for i, run_id in enumerate(runs):
    r = c.get_run(run_id)
    assert r.data.params == {"index": str(i)}, r.data.params
    assert [m.value for m in c.get_metric_history(run_id, "loss")] == [1.0 / (s + 1 + i) for s in range(4)]
    with tempfile.TemporaryDirectory() as t:
        assert pathlib.Path(c.download_artifacts(run_id, "model.txt", t)).read_text() == f"weights {i}\n"
# Still writable: one more metric on the first run, read back.
c.log_metric(runs[0], "after", 1.5)
assert c.get_run(runs[0]).data.metrics["after"] == 1.5
print(c.get_experiment(c.get_run(runs[0]).info.experiment_id).name)
"""


def client(code, *args):
    """A real MLflow client (the controller's), configured only by the env file site.yml wrote."""
    from conftest import CREDENTIALS, mlflow_client, parse_env_file

    result = mlflow_client(parse_env_file(CREDENTIALS / "mlflow-client.env"), "-c", code, *args, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]
