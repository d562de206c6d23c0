"""What a rotation must leave behind, shared by tests/e2e/test_rotation.py and the rotation of
the shared lifecycle (tests/e2e/test_upgrade.py): every secret read the way its user reads it,
and the checks that the old ones open nothing."""
import hashlib
import re

from conftest import CREDENTIALS, POSTGRES, SERVER, URL, docker_exec
from mlflow_load import new_session


def password(user):
    return (CREDENTIALS / "auth" / user).read_text().strip()


def db_password():
    """The RDS master password (only Ansible uses it)."""
    return (CREDENTIALS / "db_password").read_text().strip()


def app_password():
    """The password of MLflow's own database login."""
    return (CREDENTIALS / "db_app_password").read_text().strip()


APP_LOGINS = ("mlflow_app_a", "mlflow_app_b")


def mlflow_env():
    return docker_exec(SERVER, "cat", "/etc/mlflow/mlflow.env").stdout


def mlflow_login():
    """The database login MLflow's environment file names."""
    match = re.search(r"^MLFLOW_BACKEND_STORE_URI=\"postgresql://([a-z0-9_]+):", mlflow_env(), re.M)
    assert match, "no PostgreSQL URI in MLflow's environment file"
    return match.group(1)


def nginx_upstream_errors():
    """The lines of nginx's error log about an upstream (a refused connection, a connection
    closed or reset before the response, ...): none when no request was passed to an instance
    that was restarting."""
    log = docker_exec(SERVER, "cat", "/var/log/nginx/error.log").stdout
    return [line for line in log.splitlines() if "upstream" in line]


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def status(user, pw, cert):
    return new_session((user, pw), cert).get(f"{URL}/api/2.0/mlflow/experiments/search",
                                             params={"max_results": 1}, timeout=30).status_code


def pg_login_works(pw, user="mlflow"):
    # A fresh TCP login (the master user by default), the way MLflow connects.
    result = docker_exec(POSTGRES, "env", f"PGPASSWORD={pw}", "psql", "-h", "127.0.0.1", "-U", user,
                         "-d", "mlflow", "-tAc", "SELECT 1", check=False)
    return result.returncode == 0


def assert_db_rotated(old_master, old_app, old_login):
    """The master and MLflow's login have new passwords; MLflow moved to the other login and
    the previous one is retired; no old password opens anything; the env file holds only the
    new login password (never the master password)."""
    new_master, new_app, login = db_password(), app_password(), mlflow_login()
    assert new_master != old_master and len(new_master) == 32
    assert new_app != old_app and len(new_app) == 32
    assert pg_login_works(new_master) and not pg_login_works(old_master)
    assert login in APP_LOGINS and login != old_login
    assert pg_login_works(new_app, login)
    assert not any(pg_login_works(pw, user) for pw in (old_app, new_app) for user in APP_LOGINS if user != login)
    assert not pg_login_works(old_app, login)
    env_file = mlflow_env()
    assert new_app in env_file, "env file not rewritten (digest %s)" % digest(env_file)
    assert not any(pw in env_file for pw in (old_app, old_master, new_master)), digest(env_file)
