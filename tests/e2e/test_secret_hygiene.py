"""No secret anywhere it should not be, on every code path: a first install on a new instance
of an older MLflow, a failed upgrade and its rollback, the real upgrade (the schema migrates)
and a rotation, each with -vvv while the host's process list is sampled (the shared lifecycle,
tests/e2e/lifecycle.py); then every secret, in plain and in base64 `user:password` form, is
searched in the controller output, the journal, the logs, the unit files, every process's
command line and the host's whole filesystem (outside the files that are the secrets' home:
MLflow's env file, the htpasswd file, the TLS key). Every place searched must have been read;
a place that cannot be read fails the test instead of counting as clean."""
import re
import subprocess

import pytest

from conftest import CREDENTIALS, POSTGRES, SERVER, docker_exec
from lifecycle import current_secrets


def tls_key_secrets():
    """The private part of the server's TLS key, in the forms it could leak in: the private
    number in hex (plain and openssl's colon form) and the PEM lines that carry it (an EC key's
    PEM also carries the public point, which the certificate legitimately shows)."""
    key = docker_exec(SERVER, "sh", "-c", "cat /etc/nginx/tls/*.key").stdout
    text = docker_exec(SERVER, "sh", "-c", "openssl pkey -in /etc/nginx/tls/*.key -text -noout").stdout
    public = docker_exec(SERVER, "sh", "-c", "openssl pkey -pubout -in /etc/nginx/tls/*.key").stdout
    match = re.search(r"^(?:priv|privateExponent):\s*\n((?:[ \t]+[0-9a-f:]+\n)+)", text, re.M)
    assert match, "no private number found in the TLS key"
    colon = "".join(match.group(1).split())
    secrets = {"tls-key-private-hex": colon.replace(":", ""), "tls-key-private-hex-colons": colon}
    body = [line for line in key.splitlines() if line and not line.startswith("-----")]
    if "EC PRIVATE KEY" in key or "ASN1 OID" in text:
        secrets["tls-key-pem-line-0"] = body[0]
    else:
        secrets.update({f"tls-key-pem-line-{i}": line for i, line in enumerate(body)
                        if len(line) >= 32 and line not in public.splitlines()})
    return secrets


@pytest.fixture(scope="module")
def verbose_runs(lifecycle):
    before, after = lifecycle["secrets_before"], current_secrets()
    assert before["db"] != after["db"]
    secrets = {**{f"{k} (before rotation)": v for k, v in before.items()},
               **{f"{k} (after rotation)": v for k, v in after.items()},
               **tls_key_secrets()}
    output = {f"{name} -vvv": run.stdout + run.stderr for name, (run, _, _) in lifecycle["runs"].items()}
    samplers = {name: sampler for name, (_, sampler, _) in lifecycle["runs"].items()}
    return secrets, output, samplers


def hits(secrets, places):
    return sorted(f"{name} in {where}" for where, text in places.items()
                  for name, value in secrets.items() if value and value in text)


def test_verbose_controller_output_holds_no_secret(verbose_runs):
    secrets, output, _ = verbose_runs
    assert all(len(text) > 100000 for text in output.values())  # -vvv really was verbose
    assert hits(secrets, output) == []


def test_no_command_line_on_the_host_ever_held_a_secret(verbose_runs):
    secrets, _, samplers = verbose_runs
    for name, sampler in samplers.items():
        print(f"\n{name}: {sampler.reads} samples of every command line on the host")
        assert sampler.reads >= 50, name  # the sampling really ran during the run
    places = {f"command lines during {name}": "\n".join(s.samples) for name, s in samplers.items()}
    assert any("mlflow server" in text for text in places.values())
    assert hits(secrets, places) == []


def server_places():
    """Everything on the host where a secret must not be; each read must succeed."""
    def read(command):
        result = docker_exec(SERVER, "sh", "-c", command, check=False)
        assert result.returncode == 0, f"could not read: {command}: {result.stderr[-500:]}"
        return result.stdout

    return {
        "journal": read("journalctl --no-pager -o cat"),
        "nginx logs": read("cat /var/log/nginx/*.log"),
        "unit files": read("cat /etc/systemd/system/mlflow*.service"),
        "systemctl cat": read("systemctl cat --no-pager 'mlflow*'"),
        "systemctl show": read("systemctl show --no-pager mlflow.service mlflow-2.service nginx.service"),
        "process list": read("ps -eo pid,user,args ww"),
        "/proc/*/cmdline": read("cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '; true"),
        "fail2ban log": read("cat /var/log/fail2ban.log"),
    }


# Files that are a secret's home (root-only or root:group 0640) and may hold one.
HOMES = ["/etc/mlflow/mlflow.env", "/etc/nginx/mlflow.htpasswd", "/etc/nginx/tls/mlflow.key"]


def test_the_host_shows_no_secret_in_logs_units_or_processes(verbose_runs):
    secrets, _, _ = verbose_runs
    places = server_places()
    assert "mlflow server" in places["process list"]  # the search looks at the real thing
    assert hits(secrets, places) == []


def test_no_file_on_the_host_holds_a_secret_outside_its_home(verbose_runs):
    """grep the whole filesystem (patterns on stdin, so the search leaves no file behind)."""
    secrets, _, _ = verbose_runs
    patterns = sorted({v for v in secrets.values() if v})
    excluded = " ".join(f"--exclude={path.rsplit('/', 1)[1]}" for path in HOMES)
    command = (f"grep -rlF -f /dev/stdin --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev {excluded} / ; "
               "test $? -le 1")  # 0: found, 1: nothing found, 2: an error
    # A guard against a hang, not a bound: the search reads every file of the host (two MLflow
    # releases' venvs by now) and took 97 s on a fast run, over 120 s on a slow one.
    result = docker_exec(SERVER, "sh", "-c", command, input_text="\n".join(patterns) + "\n", check=False, timeout=600)
    files = [f for f in result.stdout.split() if f not in HOMES]
    # The home files are named by base name in --exclude; make sure nothing else by the same
    # name was skipped silently.
    same_names = docker_exec(SERVER, "sh", "-c", "find / -xdev \\( -name mlflow.env -o -name mlflow.htpasswd "
                             "-o -name mlflow.key \\) 2>/dev/null").stdout.split()
    assert sorted(same_names) == sorted(HOMES), same_names
    assert result.returncode == 0, result.stderr[-1000:]
    assert files == []


def test_the_database_log_holds_no_login_password(verbose_runs):
    """MLflow's login gets its new password as a SCRAM verifier, so even a server that logs
    every DDL statement never sees the password. (The master password reaches RDS through
    its API, never as SQL; the stand-in's own SQL for it plays that API and is not checked.)"""
    secrets, _, _ = verbose_runs
    log = subprocess.run(["docker", "logs", POSTGRES], capture_output=True, text=True, timeout=60, check=True)
    log = log.stdout + log.stderr
    # The rotation really went through the log: the new login's ALTER, with a verifier.
    assert re.search(r"ALTER USER \"mlflow_app_[ab]\" WITH ENCRYPTED PASSWORD 'SCRAM-SHA-256\$4096:", log), log[-3000:]
    app_secrets = {name: value for name, value in secrets.items() if name.startswith("db-app ")}
    assert len(app_secrets) == 2
    assert hits(app_secrets, {"PostgreSQL log": log}) == []


def test_secret_files_are_private(verbose_runs):
    modes = docker_exec(SERVER, "stat", "-c", "%n %U:%G %a", "/etc/mlflow/mlflow.env",
                        "/etc/nginx/mlflow.htpasswd").stdout.splitlines()
    assert modes == ["/etc/mlflow/mlflow.env root:mlflow 640", "/etc/nginx/mlflow.htpasswd root:www-data 640"]
    key_modes = docker_exec(SERVER, "sh", "-c", "stat -c '%U %a' /etc/nginx/tls/*.key").stdout.split()
    assert key_modes == ["root", "600"]
    for path in CREDENTIALS.rglob("*"):
        if path.is_file() and path.name not in ("server-ca.pem", "database-standin-ca.pem", "known_hosts",
                                                "ssh_key.pub") and "server-standin" not in path.parts:
            assert path.stat().st_mode & 0o077 == 0, path
