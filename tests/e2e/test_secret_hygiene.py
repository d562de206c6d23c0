"""No secret anywhere it should not be: run site.yml and a rotation with -vvv, then search
every place an operator or another local user could read for every secret."""
import pathlib
import re
import subprocess

import pytest

from conftest import CREDENTIALS, POSTGRES, SERVER, ansible_playbook, docker_exec, psql


def current_secrets():
    secrets = {"db": (CREDENTIALS / "db_password").read_text().strip(),
               "db-app": (CREDENTIALS / "db_app_password").read_text().strip(),
               "salt-seed": (CREDENTIALS / "auth_salt_seed").read_text().strip()}
    for path in (CREDENTIALS / "auth").iterdir():
        secrets[f"auth:{path.name}"] = path.read_text().strip()
    return secrets


def tls_key_secrets():
    """The private part of the server's TLS key, in the forms it could leak in: the private
    number in hex (plain and openssl's colon form) and the PEM lines that carry it.

    Only the private number is secret: an EC key's PEM also carries the public point (the
    certificate and key-info output show it legitimately), so PEM lines are checked only
    where they hold private bytes (the first line of a SEC1/PKCS#8 EC key, every line of an
    RSA key but those also in the public key)."""
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


def server_places():
    """Everything on the host where a secret must not be (the env file and htpasswd are not
    listed: they are the secrets' home, root-only)."""
    sh = lambda cmd: docker_exec(SERVER, "sh", "-c", cmd, check=False).stdout  # noqa: E731
    return {
        "journal": sh("journalctl --no-pager -o cat"),
        "nginx logs": sh("cat /var/log/nginx/*.log"),
        "unit files": sh("cat /etc/systemd/system/mlflow*.service"),
        "systemctl cat": sh("systemctl cat --no-pager 'mlflow*'"),
        "systemctl show": sh("systemctl show --no-pager mlflow.service mlflow-2.service nginx.service"),
        "process list": sh("ps -eo pid,user,args ww"),
        "/proc/*/cmdline": sh("cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '"),
        "fail2ban log": sh("cat /var/log/fail2ban.log 2>/dev/null"),
    }


def database_log():
    # The stand-in logs to stderr, as RDS's postgresql.log does.
    result = subprocess.run(["docker", "logs", POSTGRES], capture_output=True, text=True, timeout=60, check=True)
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def verbose_runs():
    before = current_secrets()
    # Log every DDL statement, as an RDS parameter group with log_statement = ddl does.
    psql("ALTER SYSTEM SET log_statement = 'ddl'; SELECT pg_reload_conf();")
    try:
        converge = ansible_playbook("site.yml", "-vvv")
        assert converge.returncode == 0, converge.stdout[-3000:]
        rotation = ansible_playbook("playbooks/rotate-credentials.yml", "-vvv")
        assert rotation.returncode == 0, rotation.stdout[-3000:]
    finally:
        psql("ALTER SYSTEM RESET log_statement; SELECT pg_reload_conf();")
    after = current_secrets()
    assert before["db"] != after["db"]
    secrets = {**{f"{k} (before rotation)": v for k, v in before.items()},
               **{f"{k} (after rotation)": v for k, v in after.items()},
               **tls_key_secrets()}
    output = {"site.yml -vvv": converge.stdout + converge.stderr,
              "rotate-credentials.yml -vvv": rotation.stdout + rotation.stderr}
    return secrets, output


def hits(secrets, places):
    return sorted(f"{name} in {where}" for where, text in places.items()
                  for name, value in secrets.items() if value and value in text)


def test_verbose_controller_output_holds_no_secret(verbose_runs):
    secrets, output = verbose_runs
    assert all(len(text) > 10000 for text in output.values())  # -vvv really was verbose
    assert hits(secrets, output) == []


def test_the_host_shows_no_secret_in_logs_units_or_processes(verbose_runs):
    secrets, _ = verbose_runs
    places = server_places()
    assert "mlflow server" in places["process list"]  # the search looks at the real thing
    assert hits(secrets, places) == []


def test_the_database_log_holds_no_login_password(verbose_runs):
    """MLflow's login gets its new password as a SCRAM verifier, so even a server that logs
    every DDL statement never sees the password. (The master password reaches RDS through
    its API, never as SQL; the stand-in's own SQL for it plays that API and is not checked.)"""
    secrets, _ = verbose_runs
    log = database_log()
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
    for path in pathlib.Path(CREDENTIALS).rglob("*"):
        if path.is_file() and path.name != "server-ca.pem":
            assert path.stat().st_mode & 0o077 == 0, path
