"""What an operator sees on the server: services, listening sockets, firewall, files, secrets."""

import re

import pytest

UNITS = ["mlflow", "mlflow-2"]
MLFLOW_PORTS = [5000, 5001]


@pytest.mark.parametrize("unit", UNITS)
def test_mlflow_instances_are_running_and_enabled_at_boot(target, unit):
    service = target.host.service(unit)
    assert service.is_running, f"{unit} is not running"
    assert service.is_enabled, f"{unit} is not enabled at boot"


# systemd's "unit started" journal message (SD_MESSAGE_UNIT_STARTED).
UNIT_STARTED = "39f53479d3a045ac8e11786248231fbf"


@pytest.mark.parametrize("unit", UNITS)
def test_a_new_host_starts_each_mlflow_instance_once(target, unit):
    # The first converge starts the instances after writing their code and configuration: the
    # restart handler those changes notified leaves them alone, and the rerun (idempotence)
    # restarts nothing. This module runs before test_zz_restart, which restarts them.
    out = target.host.check_output(f"journalctl --no-pager -o cat -u {unit}.service MESSAGE_ID={UNIT_STARTED}")
    starts = out.splitlines()
    assert len(starts) == 1, f"{unit} started {len(starts)} times since boot: {starts}"


def _listening(target):
    """(address, port) of every listening TCP socket."""
    out = target.host.check_output("ss -Htln")
    sockets = []
    for line in out.splitlines():
        local = line.split()[3]
        address, _, port = local.rpartition(":")
        sockets.append((address.strip("[]").split("%")[0], int(port)))
    return sockets


def test_mlflow_listens_on_loopback_only(target):
    sockets = _listening(target)
    for port in MLFLOW_PORTS:
        addresses = {a for a, p in sockets if p == port}
        assert addresses == {"127.0.0.1"}, f"MLflow port {port} bound to {addresses}"


def test_only_ssh_and_web_ports_listen_beyond_loopback(target):
    exposed = {
        (a, p) for a, p in _listening(target)
        if not (a.startswith("127.") or a == "::1")
    }
    assert exposed, "nothing listens beyond loopback: nginx should"
    assert {p for _, p in exposed} <= {22, 80, 443}, f"unexpected listeners: {sorted(exposed)}"
    assert {p for _, p in exposed} >= {80, 443}


def test_firewall_is_active_and_denies_incoming_by_default(target):
    status = target.host.check_output("ufw status verbose")
    assert "Status: active" in status
    assert re.search(r"Default: deny \(incoming\)", status), status
    assert target.host.service("ufw").is_enabled


def test_firewall_has_exactly_the_configured_rules(target):
    status = target.host.check_output("ufw status")
    rules = sorted(
        " ".join(line.split())
        for line in status.splitlines()
        if re.match(r"^\S.*(ALLOW|DENY|REJECT|LIMIT)", line)
    )
    assert rules == sorted([
        "22/tcp ALLOW 10.0.0.0/8 # ssh",
        "80/tcp ALLOW Anywhere # web",
        "443/tcp ALLOW Anywhere # web",
        "80/tcp (v6) ALLOW Anywhere (v6) # web",
        "443/tcp (v6) ALLOW Anywhere (v6) # web",
    ]), status


def test_firewall_rules_are_loaded_into_the_kernel(target):
    rules = target.host.check_output("iptables -S ufw-user-input")
    assert re.search(r"-s 10\.0\.0\.0/8 .*--dport 22 .*-j ACCEPT", rules), rules
    assert "--dport 5000" not in rules and "--dport 5001" not in rules


@pytest.mark.parametrize(
    "path,user,group,mode",
    [
        ("/etc/mlflow/mlflow.env", "root", "mlflow", 0o640),
        ("/etc/nginx/mlflow.htpasswd", "root", "www-data", 0o640),
        ("/etc/nginx/tls/mlflow.key", "root", "root", 0o600),
        ("/opt/mlflow/venv/bin/mlflow", "root", "root", 0o755),
    ],
)
def test_sensitive_files_have_strict_owners_and_modes(target, path, user, group, mode):
    f = target.host.file(path)
    assert f.exists, path
    assert (f.user, f.group, f.mode) == (user, group, mode), f"{path}: {f.user}:{f.group} {oct(f.mode)}"


def test_venv_is_not_writable_by_the_service_user(target):
    result = target.host.run("setpriv --reuid=mlflow --regid=mlflow --clear-groups touch /opt/mlflow/venv/bin/probe")
    assert result.rc != 0, "the mlflow user can modify its own code"


def test_venv_holds_bytecode_the_service_user_can_read(target):
    # The mlflow user cannot write the bytecode itself: without it here, each MLflow process
    # would compile its imports again at every start.
    counts = target.host.check_output(
        "cd /opt/mlflow/venv/lib/python3*/site-packages/mlflow"
        " && find . -name '*.py' | wc -l && find . -name '*.pyc' -perm -0004 | wc -l").split()
    modules, readable = int(counts[0]), int(counts[1])
    assert modules > 100 and readable == modules, f"{readable} readable .pyc files for {modules} modules"


def test_htpasswd_holds_bcrypt_hashes_of_the_configured_users(target, users, test_vars):
    content = target.host.file("/etc/nginx/mlflow.htpasswd").content_string
    entries = dict(line.split(":", 1) for line in content.splitlines() if line and not line.startswith("#"))
    assert sorted(entries) == sorted(name for name, _ in users)
    for value in entries.values():
        cost = f"{test_vars['nginx_auth_bcrypt_cost']:02d}"
        assert re.fullmatch(rf"\$2b\${cost}\$[./A-Za-z0-9]{{53}}", value), value


def test_users_with_the_same_password_get_different_salts_and_hashes(target, users):
    """alice and carol share a password (inventory): each user's salt is random, so the file
    does not show it, and a salt is no function of the password an attacker could test."""
    content = target.host.file("/etc/nginx/mlflow.htpasswd").content_string
    entries = dict(line.split(":", 1) for line in content.splitlines() if line and not line.startswith("#"))
    passwords = dict(users)
    assert passwords["alice"] == passwords["carol"]
    assert entries["alice"][7:29] != entries["carol"][7:29]  # the salts
    assert entries["alice"] != entries["carol"]
    assert len({entry[7:29] for entry in entries.values()}) == len(entries)


def test_environment_file_sets_backend_and_artifacts_but_no_default_artifact_root(target, test_vars):
    env = target.host.file("/etc/mlflow/mlflow.env").content_string
    assert re.search(r'^MLFLOW_BACKEND_STORE_URI="postgresql://', env, re.M)
    assert f'MLFLOW_ARTIFACTS_DESTINATION="s3://{test_vars["molecule_bucket"]}/mlflow-artifacts"' in env
    assert "MLFLOW_SERVER_ALLOWED_HOSTS=" in env
    assert "MLFLOW_DEFAULT_ARTIFACT_ROOT" not in env


def _secret_forms(password):
    from urllib.parse import quote

    return {password, quote(password, safe="")}


@pytest.mark.parametrize(
    "command",
    [
        "systemctl cat mlflow",
        "systemctl cat mlflow-2",
        "systemctl show mlflow",
        "systemctl show mlflow-2",
        "ps -eo args",
        "cat /etc/systemd/system/mlflow.service",
    ],
)
def test_database_password_is_not_exposed(target, test_vars, command):
    out = target.host.check_output(command)
    assert out.strip(), f"{command} printed nothing"
    for secret in _secret_forms(test_vars["molecule_db_app_password"]):
        assert secret not in out, f"database password visible in `{command}`"


def test_database_password_is_in_the_environment_file_only_url_encoded(target, test_vars):
    from urllib.parse import quote

    env = target.host.file("/etc/mlflow/mlflow.env").content_string
    assert quote(test_vars["molecule_db_app_password"], safe="") in env
    assert test_vars["molecule_db_master_password"] not in env


def _backend_uri(target):
    env = target.host.file("/etc/mlflow/mlflow.env").content_string
    match = re.search(r'^MLFLOW_BACKEND_STORE_URI="(postgresql://[^"]+)"', env, re.M)
    assert match, "no backend URI in the environment file"
    return match.group(1)


def test_mlflow_logs_in_with_its_own_login_and_verifies_the_server(target, test_vars):
    """Never the master user: one of the platform's two app logins; TLS verified (verify-full)."""
    from urllib.parse import urlsplit, parse_qs

    uri = urlsplit(_backend_uri(target))
    assert uri.username in (f"{target.db_role_prefix}_app_a", f"{target.db_role_prefix}_app_b")
    assert uri.username != test_vars["molecule_db_master_user"]
    query = parse_qs(uri.query)
    assert query["sslmode"] == ["verify-full"]
    assert query["sslrootcert"] == ["/etc/ssl/mlflow/db-ca.pem"]
    assert target.host.file("/etc/ssl/mlflow/db-ca.pem").contains("BEGIN CERTIFICATE")


def _psql(test_vars, target, sql):
    """A query as the master user, over TLS, through the stand-in's published port."""
    import psycopg2

    with psycopg2.connect(host="127.0.0.1", port=15432, dbname=target.db_name, sslmode="require",
                          user=test_vars["molecule_db_master_user"],
                          password=test_vars["molecule_db_master_password"]) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def test_database_roles_are_least_privilege(target, test_vars):
    """The master is not a superuser (as on RDS); the app logins are neither superusers nor
    members of rds_superuser; the NOLOGIN owner role owns the database."""
    prefix = target.db_role_prefix
    rows = _psql(test_vars, target, f"""
        SELECT r.rolname, r.rolsuper, r.rolcanlogin, pg_has_role(r.oid, 'rds_superuser', 'MEMBER')
        FROM pg_roles r WHERE r.rolname IN ('{test_vars["molecule_db_master_user"]}', '{prefix}_owner',
                                            '{prefix}_app_a', '{prefix}_app_b') ORDER BY 1""")
    roles = {name: (superuser, can_login, in_rds) for name, superuser, can_login, in_rds in rows}
    assert roles[test_vars["molecule_db_master_user"]] == (False, True, True)
    assert roles[f"{prefix}_owner"] == (False, False, False)
    logins = {k: v for k, v in roles.items() if "_app_" in k}
    assert len(logins) == 2 and all(not superuser and not in_rds for superuser, _, in_rds in logins.values())
    # Exactly one login can log in: the one MLflow uses; the other is retired.
    assert sorted(can_login for _, can_login, _ in logins.values()) == [False, True]
    owner = _psql(test_vars, target, f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{target.db_name}'")
    assert owner == [(f"{prefix}_owner",)]


def test_every_table_belongs_to_the_owner_role(target, test_vars):
    """MLflow's tables belong to the owner role, so either login can migrate them; on Debian 12's
    database an earlier MLflow created them as the master user (prepare.yml): handed over."""
    rows = _psql(test_vars, target, """
        SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')""")
    tables = dict(rows)
    assert "experiments" in tables and "runs" in tables
    assert set(tables.values()) == {f"{target.db_role_prefix}_owner"}, tables


def test_mlflow_processes_run_as_the_mlflow_user(target):
    pids = target.host.check_output("systemctl show -p MainPID --value mlflow mlflow-2").split()
    for pid in pids:
        assert pid != "0"
        owner = target.host.check_output(f"ps -o user= -p {pid}").strip()
        assert owner == "mlflow", f"pid {pid} runs as {owner}"


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_exposure_is_at_most_2(target, unit):
    out = target.host.run(f"systemd-analyze security --no-pager {unit}.service").stdout
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
    assert match, out[-500:]
    exposure = float(match.group(1))
    print(f"{target.name} {unit}.service exposure {exposure}")
    assert exposure <= 2.0, f"{unit}.service exposure {exposure} > 2.0"
