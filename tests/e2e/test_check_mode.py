"""Ops check drift with `--check --diff` before they apply anything (issue #13 item 7): on a
drifted stack (a hand-edited nginx site, the site's link replaced by an edited file, an extra
ufw rule) it reports exactly the drift, with the diff, changes and fails nothing, and reports
nothing else to change (the converged rest of the stack: every other task of every host
unchanged); a plain run then repairs it. One `--check` run proves both: a spurious change
anywhere shows up in the set of changed tasks."""
import re

from conftest import CREDENTIALS, SERVER, ansible_playbook, assert_changed_exactly, changed_tasks, docker_exec, psql

SITE = "/etc/nginx/sites-available/mlflow.conf"
ENABLED = "/etc/nginx/sites-enabled/mlflow.conf"
VENV = "/opt/mlflow/venv"
STRAY_RULE = ["ufw", "allow", "from", "198.51.100.7", "to", "any", "port", "8080", "proto", "tcp"]


# What the drift below must make --check report, and nothing else.
DRIFT_CHANGES = {
    ("firewall : Bring ufw to the wanted rules, default policies, logging level and state", SERVER),
    ("nginx : Render the MLflow site", SERVER),
    ("nginx : Enable the MLflow site", SERVER),
    ("nginx : Reload the nginx service", SERVER),
}


def test_check_mode_reports_drift_without_fixing_it_and_a_run_repairs_it():
    before = docker_exec(SERVER, "cat", SITE).stdout
    docker_exec(SERVER, "sh", "-c", f"sed -i 's/client_max_body_size .*;/client_max_body_size 1m;/' {SITE}")
    # An edit through the enabled path: `sed -i` writes a regular file in place of the link.
    docker_exec(SERVER, "sed", "-i", "s/client_body_timeout .*;/client_body_timeout 5s;/", ENABLED)
    docker_exec(SERVER, *STRAY_RULE)
    try:
        check = ansible_playbook("site.yml", "--check", "--diff")
        assert check.returncode == 0, check.stdout[-4000:]
        assert_changed_exactly(check.stdout, DRIFT_CHANGES)
        # The diff shows the site's drift, and the stray rule is named for deletion.
        assert re.search(r"^-\s*client_max_body_size 1m;", check.stdout, re.M), check.stdout[-4000:]
        assert "198.51.100.7" in check.stdout
        # Nothing was fixed.
        assert "client_max_body_size 1m;" in docker_exec(SERVER, "cat", SITE).stdout
        assert docker_exec(SERVER, "test", "-L", ENABLED, check=False).returncode == 1
        assert "198.51.100.7" in docker_exec(SERVER, "ufw", "status").stdout
    finally:
        repair = ansible_playbook("site.yml", "--tags", "firewall,nginx")
    assert repair.returncode == 0, repair.stdout[-4000:]
    assert docker_exec(SERVER, "cat", SITE).stdout == before
    assert docker_exec(SERVER, "readlink", ENABLED).stdout.strip() == SITE
    assert "198.51.100.7" not in docker_exec(SERVER, "ufw", "status").stdout


def test_a_package_taken_out_of_the_venv_is_put_back_by_a_rerun():
    """A rerun reads the venv instead of running pip (tasks/plan.yml): a package missing by
    hand, here the driver psycopg[binary] brings in as an extra, must still make it run pip
    (the pip module alone would not see it: it reads neither extras nor markers)."""
    docker_exec(SERVER, f"{VENV}/bin/python", "-m", "pip", "uninstall", "--yes", "--quiet", "psycopg-binary")
    run = ansible_playbook("site.yml", "--tags", "mlflow")
    assert run.returncode == 0, run.stdout[-4000:]
    assert ("mlflow : Install MLflow and its database and S3 clients into the release's venv", SERVER) in (
        changed_tasks(run.stdout)), run.stdout[-4000:]
    impl = docker_exec(SERVER, f"{VENV}/bin/python", "-c", "import psycopg; print(psycopg.pq.__impl__)").stdout
    assert impl.strip() == "binary"
    # Put back, the venv reads as installed again: the next run leaves pip alone.
    again = ansible_playbook("site.yml", "--tags", "mlflow")
    assert again.returncode == 0, again.stdout[-4000:]
    assert_changed_exactly(again.stdout, set())
    assert re.search(r"TASK \[mlflow : Install MLflow and its database and S3 clients into the release's venv\] \*+\n"
                     r"skipping: \[" + SERVER, again.stdout), again.stdout[-4000:]


GC_TIMER = "/etc/systemd/system/mlflow-gc.timer"


def test_the_venv_link_and_a_stray_gc_timer_are_set_back():
    """The mlflow role reads the venv link and the garbage collection timer with its paths
    and links or removes only what differs: the link pointed elsewhere by hand (here the same
    venv, spelled with a trailing slash) and a timer put there by hand while collection is off
    must still be set back, and the next run must find nothing to do."""
    venv = docker_exec(SERVER, "readlink", VENV).stdout.strip()
    docker_exec(SERVER, "ln", "-sfn", venv + "/", VENV)
    docker_exec(SERVER, "sh", "-c", f"printf '[Timer]\\nOnCalendar=daily\\n' > {GC_TIMER}")
    run = ansible_playbook("site.yml", "--tags", "mlflow")
    assert run.returncode == 0, run.stdout[-4000:]
    assert {("mlflow : Link the venv of the release to run (a new host, or the link repaired)", SERVER),
            ("mlflow : Remove the MLflow garbage collection units", SERVER)} <= changed_tasks(run.stdout), (
        run.stdout[-4000:])
    assert docker_exec(SERVER, "readlink", VENV).stdout.strip() == venv
    assert docker_exec(SERVER, "test", "-e", GC_TIMER, check=False).returncode == 1
    again = ansible_playbook("site.yml", "--tags", "mlflow")
    assert again.returncode == 0, again.stdout[-4000:]
    assert_changed_exactly(again.stdout, set())


def test_controller_files_changed_by_hand_are_set_back():
    """The credentials and client_env roles read their directories and env files on the
    controller (playbooks/lookup_plugins/controller_file_modes.py) and write only what differs:
    a mode opened by hand or an edited env file must still be set back, and only those."""
    clients, auth = CREDENTIALS / "clients", CREDENTIALS / "auth"
    user_env, demo_env = clients / "ci-bot.env", CREDENTIALS / "mlflow-client.env"
    before = {path: path.read_text() for path in (user_env, demo_env)}
    auth.chmod(0o755)
    clients.chmod(0o755)
    user_env.chmod(0o644)
    demo_env.write_text(before[demo_env].replace("MLFLOW_TRACKING_URI=", "MLFLOW_TRACKING_URI=https://elsewhere.example"))
    run = ansible_playbook("site.yml", "--tags", "client")
    assert run.returncode == 0, run.stdout[-4000:]
    assert_changed_exactly(run.stdout, {
        ("credentials : Create the credentials directories on the controller", "localhost"),
        ("client_env : Create the client directories on the controller", SERVER),
        ("client_env : Write one MLflow client env file per user", SERVER),
        ("client_env : Write the env file of the first user where make demo points", SERVER),
    })
    modes = {path.name: oct(path.stat().st_mode & 0o777) for path in (auth, clients, user_env, demo_env)}
    assert modes == {"auth": "0o700", "clients": "0o700", "ci-bot.env": "0o600", "mlflow-client.env": "0o600"}
    assert {path: path.read_text() for path in before} == before


# Hand changes in each host role that reads its paths and units at once (playbooks/library/
# managed_state_info.py) and skips a file or service task whose path or unit reads as wanted:
# content, mode, group, type, a unit disabled or stopped. Each must still make its task run,
# and only its task (and the handlers it notifies), and leave the path or unit exactly as it
# was before the change (bytes, mode, owner, group; enabled and active).
JOURNALD = "/etc/systemd/journald.conf.d/50-os-hardening.conf"
NEEDRESTART = "/etc/needrestart/conf.d/50-mlflow.conf"
SSHD_DROPIN = "/etc/ssh/sshd_config.d/00-ssh-hardening.conf"
JAILS = "/etc/fail2ban/jail.d/mlflow.local"
HOST_DRIFT = [
    # (what is changed by hand, the task that must set it back, the path or unit it changes)
    ("chmod 0600 /etc/issue.net", "os_hardening : Show the login warning banner", "/etc/issue.net"),
    (f"echo '#by hand' >> {JOURNALD}", "os_hardening : Keep the journal on disk with a size cap", JOURNALD),
    ("systemctl disable --now logrotate.timer", "os_hardening : Rotate logs every day", "logrotate.timer"),
    # Files the system owns, of which the role sets keys (read whole with the role's paths).
    ("sed -i 's/^UMASK.*/UMASK 022/' /etc/login.defs",
     "os_hardening : Set the login umask, password hash method and hashing cost in login.defs", "/etc/login.defs"),
    ("sed -i 's#^net/ipv4/conf/all/log_martians=.*#net/ipv4/conf/all/log_martians=0#' /etc/ufw/sysctl.conf",
     "os_hardening : Give ufw's kernel parameters the same values", "/etc/ufw/sysctl.conf"),
    (f"echo '#by hand' >> {SSHD_DROPIN}", "ssh_hardening : Write the sshd hardening drop-in, read before any other",
     SSHD_DROPIN),
    (f"echo '#by hand' >> {NEEDRESTART}",
     "unattended_upgrades : Restart MLflow, nginx and other services automatically when their libraries change",
     NEEDRESTART),
    ("systemctl stop apt-daily.timer", "unattended_upgrades : Enable the daily package list and upgrade timers",
     "apt-daily.timer"),
    ("chmod 0755 /var/lib/mlflow", "mlflow : Create the MLflow state directory", "/var/lib/mlflow"),
    # The service user read with the role's paths: its shell and comment changed by hand.
    ("usermod --shell /bin/bash --comment 'by hand' mlflow", "mlflow : Create the MLflow service user", "user:mlflow"),
    # An instance no longer enabled at boot (it keeps running), and a drain flag a failed
    # restart would leave: nginx keeps new requests away from that instance until it goes.
    ("systemctl disable mlflow-2.service", "mlflow : Enable and start each MLflow instance", "mlflow-2.service"),
    ("mkdir -p /run/mlflow-drain && echo by-hand > /run/mlflow-drain/5001",
     "mlflow : Put every MLflow instance in nginx's rotation", "/run/mlflow-drain"),
    ("chgrp root /etc/nginx/mlflow.htpasswd", "nginx : Render the basic-auth password file",
     "/etc/nginx/mlflow.htpasswd"),
    ("ln -s /etc/nginx/sites-available/default /etc/nginx/sites-enabled/default", "nginx : Remove the default site",
     "/etc/nginx/sites-enabled/default"),
    (f"sed -i 's/^maxretry.*/maxretry = 99/' {JAILS}", "fail2ban : Install the filter, the ban actions and the jails",
     JAILS),
    ("chmod 0700 /etc/ssl/mlflow", "database_users : Create the directory of the database CA bundle", "/etc/ssl/mlflow"),
    ("echo '#by hand' >> /etc/ssl/mlflow/db-ca.pem",
     "database_users : Install the CA bundle that signs the database server's certificate", "/etc/ssl/mlflow/db-ca.pem"),
]
HOST_DRIFT_HANDLERS = {"os_hardening : Restart journald", "ssh_hardening : Reload the ssh service",
                       "nginx : Reload the nginx service", "fail2ban : Restart the fail2ban service"}
# What a path is (type, mode, owner, group, bytes), a user (its passwd entry) or a unit
# (enabled, active), one line each.
DESCRIBE = ('for p; do case "$p" in /*) if [ -e "$p" ] || [ -L "$p" ]; then echo "$p $(stat -c \'%F %a %U %G\' "$p") '
            '$(if [ -f "$p" ]; then md5sum < "$p"; fi)"; else echo "$p absent"; fi;; '
            'user:*) echo "$p $(getent passwd "${p#user:}")";; '
            '*) echo "$p $(systemctl is-enabled "$p") $(systemctl is-active "$p")";; esac; done')


def describe(targets):
    return docker_exec(SERVER, "sh", "-c", DESCRIBE, "describe", *targets, check=False).stdout


def test_host_files_changed_by_hand_are_set_back():
    targets = [target for _, _, target in HOST_DRIFT]
    before = describe(targets)
    for change, _, _ in HOST_DRIFT:
        docker_exec(SERVER, "sh", "-c", change)
    assert describe(targets) != before
    run = ansible_playbook("site.yml", "--tags", "os_hardening,ssh_hardening,unattended_upgrades,mlflow,nginx,fail2ban")
    assert run.returncode == 0, run.stdout[-4000:]
    assert_changed_exactly(run.stdout, {(task, SERVER) for _, task, _ in HOST_DRIFT}
                           | {(handler, SERVER) for handler in HOST_DRIFT_HANDLERS})
    assert describe(targets) == before


# The database's roles as database_users converges them: the owner role cannot log in, both
# logins are its members, it owns the database, and one login only can log in.
ROLES = """
SELECT concat_ws('|', (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'mlflow_owner'),
       (SELECT coalesce(string_agg(r.rolname, ',' ORDER BY r.rolname), '') FROM pg_auth_members m
          JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
        WHERE g.rolname = 'mlflow_owner' AND r.rolname LIKE 'mlflow_app_%'),
       (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'mlflow'),
       (SELECT count(*) FROM pg_roles WHERE rolname LIKE 'mlflow_app_%' AND rolcanlogin));
"""
IDLE_LOGIN = "SELECT rolname FROM pg_roles WHERE rolname LIKE 'mlflow_app_%' AND NOT rolcanlogin;"


def test_database_roles_changed_by_hand_are_set_back():
    """database_users reads the owner role, the database's owner and the logins' memberships
    in one query and writes only what differs: each of them changed by hand (in the RDS
    console's words: the owner given LOGIN, the logins taken out of it, the database handed to
    the master user; the retired login given LOGIN again, which the retire step takes away on
    the same read) must still be set back, and the next run must find nothing to do."""
    assert psql(ROLES).strip() == "f|mlflow_app_a,mlflow_app_b|mlflow_owner|1"
    idle = psql(IDLE_LOGIN).strip()
    psql("ALTER ROLE mlflow_owner LOGIN; REVOKE mlflow_owner FROM mlflow_app_a, mlflow_app_b GRANTED BY mlflow; "
         f"ALTER DATABASE mlflow OWNER TO mlflow; ALTER ROLE {idle} LOGIN;")
    assert psql(ROLES).strip() == "t||mlflow|2"
    run = ansible_playbook("site.yml", "--tags", "mlflow")
    assert run.returncode == 0, run.stdout[-4000:]
    assert {("database_users : Create the NOLOGIN owner role", SERVER),
            ("database_users : Make both logins members of the owner role", SERVER),
            ("database_users : Hand the database to the owner role", SERVER),
            ("database_users : Take their password and LOGIN away", SERVER)} <= changed_tasks(run.stdout), run.stdout[-4000:]
    assert psql(ROLES).strip() == "f|mlflow_app_a,mlflow_app_b|mlflow_owner|1"
    assert psql(IDLE_LOGIN).strip() == idle
    again = ansible_playbook("site.yml", "--tags", "mlflow")
    assert again.returncode == 0, again.stdout[-4000:]
    assert_changed_exactly(again.stdout, set())
