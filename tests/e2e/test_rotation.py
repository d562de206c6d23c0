"""Day-2 rotation by rerunning: new secrets work, old ones are refused, nothing is lost, and
a client loop running through nginx sees no 5xx and no connection error meanwhile. The
rotation of everything at once (the playbook's default) is the shared lifecycle's last run,
checked in tests/e2e/test_upgrade.py."""
import hashlib
import pathlib
import tempfile
import time

import pytest
from mlflow.tracking import MlflowClient

from conftest import CREDENTIALS, URL, ansible_playbook, mlflow_client, parse_env_file, psql
from mlflow_load import LoadLoop, RunCreatingLoop, create_experiment, create_run
from rotation import (APP_LOGINS, app_password, assert_db_rotated, db_password, mlflow_login,
                      nginx_upstream_errors, password, pg_login_works, status)


def rotate(*extra):
    started = time.monotonic()
    run = ansible_playbook("playbooks/rotate-credentials.yml", *extra)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return time.monotonic() - started


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
    logged_before = len(nginx_upstream_errors())
    for loop in loops + [writer]:
        loop.start()
    time.sleep(3)
    wall = rotate("-e", "rotate=db")
    for loop in loops + [writer]:
        loop.stop()
    upstream_errors = nginx_upstream_errors()[logged_before:]
    sent = sum(loop.sent for loop in loops + [writer])
    failures = [loop.failures() for loop in loops + [writer]]
    stored = int(psql(f"SELECT count(*) FROM runs WHERE experiment_id = {int(experiment_id)};").strip())
    print(f"\nDB rotation: {wall:.1f} s, {sent} requests through nginx, failures {failures}; "
          f"nginx upstream errors {len(upstream_errors)}; runs created: {writer.counts[200]} acknowledged, {stored} stored (replayed: {stored - writer.counts[200]})")
    assert sent >= 100 and writer.counts[200] >= 50
    # Not one request fails: MLflow moves to the idle database login (already holding the new
    # password) one instance at a time, and the previous login is retired only afterwards.
    assert failures == [{}, {}, {}]
    # Nor was one passed to an instance while it restarted (not even a refused connection that
    # nginx then passed on): each was out of nginx's rotation until it answered /health again.
    # A request an instance had accepted when it stopped fails with 502, and a POST is never
    # sent again (seen once in CI before the drain flags).
    assert upstream_errors == [], f"{len(upstream_errors)} upstream errors in nginx's log, e.g. {upstream_errors[:3]}"
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
