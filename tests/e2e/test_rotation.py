"""Day-2 rotation by rerunning: new secrets work, old ones are refused, nothing is lost, and
a client loop running through nginx sees no 5xx and no connection error meanwhile."""
import hashlib
import pathlib
import re
import sys
import tempfile
import time

import pytest
from mlflow.tracking import MlflowClient

from conftest import (CREDENTIALS, POSTGRES, ROOT, SERVER, ansible_playbook, docker_exec, mlflow_client, parse_env_file,
                      psql)

sys.path.insert(0, str(ROOT / "scripts"))
from mlflow_load import LoadLoop, RunCreatingLoop, create_experiment, create_run, new_session  # noqa: E402

URL = "https://127.0.0.1:8443"


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


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def status(user, pw, cert):
    return new_session((user, pw), cert).get(f"{URL}/api/2.0/mlflow/experiments/search",
                                             params={"max_results": 1}, timeout=30).status_code


def rotate(*extra):
    started = time.monotonic()
    run = ansible_playbook("playbooks/rotate-credentials.yml", *extra)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return time.monotonic() - started


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


@pytest.fixture(scope="module")
def cert(client_env):
    return client_env["MLFLOW_TRACKING_SERVER_CERT_PATH"]


@pytest.fixture(scope="module")
def kept_run(client_env, monkeypatch_module):
    """A run with a param, metrics and an artifact, logged before any rotation."""
    for key, value in client_env.items():
        monkeypatch_module.setenv(key, value)
    client = MlflowClient()
    experiment_id = client.create_experiment(f"rotation-keep-{int(time.time())}")
    run = client.create_run(experiment_id)
    client.log_param(run.info.run_id, "kept", "yes")
    for step in range(5):
        client.log_metric(run.info.run_id, "acc", step / 10, step=step)
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "weights.bin"
        path.write_bytes(b"\x00\x01" * 4096)
        client.log_artifact(run.info.run_id, str(path))
    client.set_terminated(run.info.run_id)
    return run.info.run_id, experiment_id


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def assert_kept(run_id, experiment_id, client_env_path):
    """Everything logged before the rotation is still there, read with the new credentials."""
    env = parse_env_file(client_env_path)
    code = f"""
import pathlib, sys, tempfile
from mlflow.tracking import MlflowClient
c = MlflowClient()
r = c.get_run({run_id!r})
assert r.info.experiment_id == {experiment_id!r}
assert r.data.params == {{"kept": "yes"}}, r.data.params
assert [m.value for m in c.get_metric_history({run_id!r}, "acc")] == [0.0, 0.1, 0.2, 0.3, 0.4]
with tempfile.TemporaryDirectory() as t:
    p = c.download_artifacts({run_id!r}, "weights.bin", t)
    assert pathlib.Path(p).read_bytes() == b"\\x00\\x01" * 4096
print("kept")
"""
    result = mlflow_client(env, "-c", code)
    assert result.returncode == 0 and result.stdout.strip().endswith("kept"), result.stderr[-3000:]


def test_db_rotation_under_load_fails_no_request(kept_run, cert):
    old_master, old_app, old_login = db_password(), app_password(), mlflow_login()
    users = ["alice", "ci-bot"]
    run_id = create_run(URL, ("alice", password("alice")), cert, "rotation-load")
    experiment_id = create_experiment(URL, ("ci-bot", password("ci-bot")), cert, f"write-replay-{int(time.time())}")
    loops = [LoadLoop(URL, (u, password(u)), run_id, cert, max_seconds=600) for u in users]
    # A write-only client: every run it creates is one row, so a replayed write shows.
    writer = RunCreatingLoop(URL, ("ci-bot", password("ci-bot")), experiment_id, cert, max_seconds=600)
    for loop in loops + [writer]:
        loop.start()
    time.sleep(3)
    wall = rotate("-e", "rotate=db")
    for loop in loops + [writer]:
        loop.stop()
    sent = sum(loop.sent for loop in loops + [writer])
    failures = [loop.failures() for loop in loops + [writer]]
    stored = int(psql(f"SELECT count(*) FROM runs WHERE experiment_id = {int(experiment_id)};").strip())
    print(f"\nDB rotation: {wall:.1f} s, {sent} requests through nginx, failures {failures}; "
          f"runs created: {writer.counts[200]} acknowledged, {stored} stored (replayed: {stored - writer.counts[200]})")
    assert sent >= 100 and writer.counts[200] >= 50
    # Not one request fails: MLflow moves to the idle database login (already holding the new
    # password) one instance at a time, and the previous login is retired only afterwards.
    assert failures == [{}, {}, {}]
    # Every acknowledged write is stored once, and nothing else is: no request was processed
    # twice (nginx retries only what never reached an instance).
    assert stored == writer.counts[200]
    assert_db_rotated(old_master, old_app, old_login)
    assert_kept(*kept_run, CREDENTIALS / "mlflow-client.env")


def test_one_user_rotation_retires_only_that_password(kept_run, cert):
    old_alice, old_bot = password("alice"), password("ci-bot")
    run_id = create_run(URL, ("ci-bot", old_bot), cert, "rotation-load")
    retired = LoadLoop(URL, ("alice", old_alice), run_id, cert, max_seconds=600, stop_on=(401,))
    steady = LoadLoop(URL, ("ci-bot", old_bot), run_id, cert, max_seconds=600)
    retired.start()
    steady.start()
    time.sleep(2)
    wall = rotate("-e", "rotate=user", "-e", "rotate_user=alice")
    time.sleep(1)
    retired.stop()
    steady.stop()
    print(f"\nalice rotation: {wall:.1f} s; retired loop {dict(retired.counts)}; steady loop {dict(steady.counts)}")
    assert steady.failures() == {}
    assert retired.failures(allowed=(200, 401)) == {}
    # 200 until the htpasswd switch, then 401 (the client stops there, as a real one would).
    outcomes = [o for _, o in retired.timeline]
    assert outcomes[-1] == 401 and set(outcomes[:-1]) == {200}, dict(retired.counts)
    assert password("alice") != old_alice and password("ci-bot") == old_bot
    assert status("alice", old_alice, cert) == 401
    assert status("alice", password("alice"), cert) == 200
    assert status("ci-bot", old_bot, cert) == 200
    assert_kept(*kept_run, CREDENTIALS / "mlflow-client.env")


def test_rotating_everything_rewrites_the_client_env_file(kept_run, cert):
    before = {u: password(u) for u in ("alice", "ci-bot")}
    old_master, old_app, old_login = db_password(), app_password(), mlflow_login()
    retired = LoadLoop(URL, ("ci-bot", before["ci-bot"]),
                       create_run(URL, ("ci-bot", before["ci-bot"]), cert, "rotation-load"), cert,
                       max_seconds=600, stop_on=(401,))
    retired.start()
    rotate()  # default: rotate=all
    retired.stop()
    assert retired.failures(allowed=(200, 401)) == {}
    for user, old in before.items():
        assert password(user) != old
        assert status(user, old, cert) == 401
        assert status(user, password(user), cert) == 200
    assert_db_rotated(old_master, old_app, old_login)
    env = parse_env_file(CREDENTIALS / "mlflow-client.env")
    assert env["MLFLOW_TRACKING_PASSWORD"] == password(env["MLFLOW_TRACKING_USERNAME"])
    assert_kept(*kept_run, CREDENTIALS / "mlflow-client.env")


def test_a_new_password_in_the_variables_has_the_same_effect(kept_run, cert, tmp_path):
    """Setting passwords in the variables (e.g. from a vault) and rerunning site.yml rotates too."""
    seed = hashlib.sha256(str(time.time()).encode()).hexdigest()
    chosen_auth = "Vault-Chosen-" + seed[:24]
    chosen_db = "VaultDb" + seed[24:49]
    chosen_app = "VaultApp" + seed[40:64]
    extra = tmp_path / "vault.yml"
    extra.write_text(f"stack_auth_passwords:\n  ci-bot: {chosen_auth}\n"
                     f"stack_db_password: {chosen_db}\nstack_db_app_password: {chosen_app}\n")
    extra.chmod(0o600)
    old_bot, old_login = password("ci-bot"), mlflow_login()
    run = ansible_playbook("site.yml", "-e", f"@{extra}")
    assert run.returncode == 0, run.stdout[-4000:]
    assert status("ci-bot", chosen_auth, cert) == 200
    assert status("ci-bot", old_bot, cert) == 401
    assert pg_login_works(chosen_db)
    assert mlflow_login() != old_login and pg_login_works(chosen_app, mlflow_login())
    assert not pg_login_works(app_password(), old_login)
    # Back to the generated secrets: rerunning without the overrides restores them everywhere.
    run = ansible_playbook("site.yml")
    assert run.returncode == 0, run.stdout[-4000:]
    assert status("ci-bot", old_bot, cert) == 200
    assert pg_login_works(db_password()) and not pg_login_works(chosen_db)
    assert mlflow_login() == old_login and pg_login_works(app_password(), old_login)
    assert not any(pg_login_works(chosen_app, user) for user in APP_LOGINS)
    assert_kept(*kept_run, CREDENTIALS / "mlflow-client.env")
