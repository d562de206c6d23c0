"""The local stand-ins are as strict as AWS where a first real run would break (issue #10):
the server is an instance of the default type's size, reached over SSH as Debian's AMI is; the
database is PostgreSQL 17 with a non-superuser master, TLS required and verified; a busy
package manager at first boot is waited for; host keys are trusted per instance."""
import json
import subprocess
import time

from conftest import (POSTGRES, SERVER, SSH_KEY, ansible_playbook, docker_exec, psql, ssh)

INSTANCE_MEMORY = 2048 * 1024 * 1024  # t3.small, the default aws_server_instance_type
INSTANCE_CPUS = 2


def test_the_server_has_the_memory_and_cpus_of_the_instance_type_and_no_swap():
    config = json.loads(subprocess.run(["docker", "inspect", SERVER], capture_output=True, text=True,
                                       check=True).stdout)[0]["HostConfig"]
    assert config["Memory"] == INSTANCE_MEMORY
    assert config["MemorySwap"] == INSTANCE_MEMORY  # no swap, as on t3 instances
    assert config["NanoCpus"] == INSTANCE_CPUS * 10**9


def test_the_server_is_reached_over_ssh_as_admin_with_the_stack_key_and_sudo(tmp_path):
    assert SSH_KEY.stat().st_mode & 0o777 == 0o600
    result = ssh("sudo", "-n", "id", "-u")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"
    # cloud-init made admin from the key pair; root has no key, and no password works.
    assert ssh("true", user="root").returncode != 0
    # Another key (kept out of the stack's credentials directory, which holds the stack's own).
    other_key = tmp_path / "not-the-stack-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True)
    assert ssh("true", key=other_key).returncode != 0


def test_the_database_master_is_not_a_superuser_and_mlflow_uses_an_app_login():
    rows = dict(line.split("|", 1) for line in psql(
        "SELECT rolname, concat_ws('|', rolsuper::int, rolcanlogin::int, pg_has_role(oid, 'rds_superuser', 'MEMBER')::int) "
        "FROM pg_roles WHERE rolname IN ('mlflow', 'mlflow_owner', 'mlflow_app_a', 'mlflow_app_b');").split())
    assert rows["mlflow"] == "0|1|1"  # the master: login, member of rds_superuser, not superuser
    assert rows["mlflow_owner"] == "0|0|0"
    for login in ("mlflow_app_a", "mlflow_app_b"):
        superuser, _, in_rds = rows[login].split("|")
        assert (superuser, in_rds) == ("0", "0"), login
    # Every session of MLflow's login is TLS.
    sessions = psql("SELECT a.usename || '|' || s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
                    "WHERE a.usename LIKE 'mlflow_app_%';").split()
    assert sessions and all(line.endswith("|true") for line in sessions), sessions


CONNECT = """
import sys, psycopg2
host, sslmode, rootcert = sys.argv[1:4]
try:
    psycopg2.connect(host=host, dbname="mlflow", user="nobody", password="x", sslmode=sslmode,
                     sslrootcert=rootcert, connect_timeout=10).close()
except psycopg2.OperationalError as error:
    print(str(error).strip().splitlines()[0])
"""


def _connect_from_the_server(host, sslmode="verify-full", rootcert="/etc/ssl/mlflow/db-ca.pem"):
    return docker_exec(SERVER, "python3", "-c", CONNECT, host, sslmode, rootcert).stdout.strip()


def test_the_server_verifies_the_database_and_refuses_a_wrong_ca_or_name():
    """With the right CA and name, TLS succeeds and the login is what fails (no such user);
    a wrong CA, a name the certificate does not carry, or no TLS at all never get that far."""
    assert "password authentication failed" in _connect_from_the_server(POSTGRES)
    assert "certificate verify failed" in _connect_from_the_server(
        POSTGRES, rootcert="/etc/ssl/certs/ca-certificates.crt")
    address = docker_exec(POSTGRES, "hostname", "-i").stdout.split()[0]
    assert "does not match host name" in _connect_from_the_server(address)
    refused = _connect_from_the_server(POSTGRES, sslmode="disable")
    assert "no encryption" in refused or "pg_hba.conf rejects" in refused, refused


HOLD_LOCKS = """
import fcntl, os, sys, time
held = []
for path in ("/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock", "/var/lib/apt/lists/lock"):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    held.append(fd)
print("held", flush=True)
time.sleep(float(sys.argv[1]))
"""


def _with_package_locks_held(seconds, *playbook_args):
    """Hold the dpkg and apt lists locks in the server (as unattended-upgrades does at first
    boot) while a role's package task runs: the package database_users needs is removed first
    (a converged host skips installed packages) and the package lists are made stale."""
    docker_exec(SERVER, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "remove", "-y", "-q", "python3-psycopg2")
    docker_exec(SERVER, "touch", "-d", "@0", "/var/lib/apt/lists")
    holder = subprocess.Popen(["docker", "exec", "-i", SERVER, "python3", "-c", HOLD_LOCKS, str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        run = ansible_playbook("site.yml", "--tags", "mlflow", *playbook_args)
        return run, time.monotonic() - started
    finally:
        holder.wait(timeout=seconds + 60)


def test_a_package_lock_held_at_first_boot_is_waited_for():
    # With a lock timeout shorter than the hold, apt fails: the locks really were held ...
    short, _ = _with_package_locks_held(40, "-e", "stack_apt_lock_timeout=5")
    assert short.returncode != 0
    assert "lock" in short.stdout.lower(), short.stdout[-3000:]
    # ... and with the project's default the run waits for them and succeeds.
    run, wall = _with_package_locks_held(30)
    assert run.returncode == 0, run.stdout[-3000:]
    print(f"\nrun with the package locks held for 30 s: {wall:.0f} s")


def _host_keys():
    return docker_exec(SERVER, "sh", "-c", "cat /etc/ssh/ssh_host_*_key.pub").stdout


def test_a_changed_host_key_of_the_same_instance_fails_closed():
    """The instance id behind the address did not change, so a new key is an impostor (or an
    operator's mistake): the run refuses to connect. The original keys back, it works again."""
    saved = docker_exec(SERVER, "sh", "-c", "cd /etc/ssh && tar -cf - ssh_host_* | base64 -w0").stdout
    assert len(saved) > 1000
    try:
        docker_exec(SERVER, "sh", "-c", "rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && systemctl restart ssh")
        # Close any persistent SSH connection of earlier runs (ControlPersist), as time would.
        subprocess.run(["sh", "-c", "for s in ~/.ansible/cp/*; do ssh -O exit -o ControlPath=$s x 2>/dev/null; done"],
                       check=False)
        run = ansible_playbook("site.yml", "--tags", "firewall")
        assert run.returncode != 0
        assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in run.stdout + run.stderr, run.stdout[-3000:]
    finally:
        docker_exec(SERVER, "sh", "-c", f"echo {saved} | base64 -d | tar -C /etc/ssh -xf - && systemctl restart ssh")
    assert ssh("true").returncode == 0
