"""Safe upgrades (issue #14), drilled on the local stack: a new instance installs an older
MLflow, data is logged on it, then an upgrade whose migration fails on purpose (after
committing part of the schema change) is rolled back automatically - the database comes back
from the snapshot taken first, the old release serves the same data and takes writes - and the
real upgrade then migrates, switches the instances one at a time and keeps everything; last,
the upgraded stack rotates every secret at once. The runs are the shared lifecycle
(tests/e2e/lifecycle.py, conftest.py's fixture)."""
import json
import re

from conftest import CREDENTIALS, aws, parse_env_file
from lifecycle import CLIENT_READ, NEW_HEAD, NEW_MLFLOW, OLD_HEAD, OLD_MLFLOW, client, write_pause_seconds
from rotation import assert_db_rotated, password, status


def test_a_new_instance_installs_the_older_release(lifecycle):
    assert lifecycle["new_instance"] != lifecycle["old_instance"]
    assert lifecycle["installed"] == (OLD_MLFLOW, OLD_HEAD)
    print(f"\nfirst install of MLflow {OLD_MLFLOW} on a new instance: {lifecycle['runs']['first install'][2]:.0f} s")


def test_a_failed_migration_is_rolled_back_to_the_old_release_with_the_same_data(lifecycle):
    run, _, wall = lifecycle["runs"]["failed upgrade"]
    output = " ".join((run.stdout + run.stderr).split())
    after = lifecycle["after_rollback"]
    print(f"\nfailed upgrade and automatic rollback: {wall:.0f} s")
    assert run.returncode != 0
    # The play says what happened, in MLflow's words, and where the snapshot is.
    assert f"Upgrading MLflow {OLD_MLFLOW} -> {NEW_MLFLOW} failed" in output, output[-4000:]
    assert "upgrade drill: this migration fails on purpose" in output
    snapshot = re.search(r"restored from the snapshot (\S+) ", output).group(1)
    assert snapshot.startswith(f"mlflow-local-mlflow-{OLD_MLFLOW.replace('.', '-')}-to-{NEW_MLFLOW.replace('.', '-')}-")
    # The old release serves the data logged before the upgrade, and takes writes (CLIENT_READ).
    assert after["release"] == OLD_MLFLOW
    assert after["revision"] == OLD_HEAD
    assert after["read"] == lifecycle["experiment"]
    assert not after["flag"]  # writes resumed
    assert after["venvs"] == [OLD_MLFLOW]  # the failed release's venv is gone
    # The snapshot exists in RDS, the migrated database is kept aside (instance and stand-in).
    rds = aws("rds")
    assert [s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot)["DBSnapshots"]] == [snapshot]
    kept = [d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]
            if d["DBInstanceIdentifier"].startswith("mlflow-local-db-old-")]
    assert len(kept) == 1 and f"kept as {kept[0]}" in output
    assert any(name.startswith("mlflow_old_") for name in after["databases"])


def test_the_upgrade_migrates_switches_and_keeps_every_run(lifecycle):
    run, _, wall = lifecycle["runs"]["upgrade"]
    pause = write_pause_seconds(run.stdout)
    print(f"\nupgrade {OLD_MLFLOW} -> {NEW_MLFLOW}: {wall:.0f} s in all, writes paused {pause} s")
    after = lifecycle["after_upgrade"]
    assert after["release"] == NEW_MLFLOW
    assert after["revision"] == NEW_HEAD
    assert after["read"] == lifecycle["experiment"]  # every run, metric and artifact, still writable
    # The old release's venv stays until the next successful upgrade.
    assert sorted(after["venvs"]) == sorted([OLD_MLFLOW, NEW_MLFLOW])
    assert pause is not None and pause < wall


def test_rotating_everything_retires_every_old_secret_and_rewrites_the_client_env_file(lifecycle):
    """The playbook's default (rotate=all) after the upgrade: every user's password, the master
    password and MLflow's database login are new; the old ones open nothing; a client still
    sending a retired password got 200 until the switch, then 401, and nothing else; the env
    file names the new password; the drill's runs are all there, read through it."""
    before = lifecycle["before_rotation"]
    retired = lifecycle["retired_client"]
    _, _, wall = lifecycle["runs"]["rotation"]
    print(f"\nrotation of everything: {wall:.0f} s; retired client {dict(retired.counts)}")
    assert retired.failures(allowed=(200, 401)) == {}
    outcomes = [o for _, o in retired.timeline]
    assert outcomes and outcomes[-1] == 401 and set(outcomes[:-1]) == {200}, dict(retired.counts)
    env = parse_env_file(CREDENTIALS / "mlflow-client.env")
    cert = env["MLFLOW_TRACKING_SERVER_CERT_PATH"]
    assert set(before["auth"]) >= {"alice", "ci-bot"}
    for user, old in before["auth"].items():
        assert password(user) != old
        assert status(user, old, cert) == 401
        assert status(user, password(user), cert) == 200
    assert_db_rotated(before["master"], before["app"], before["login"])
    assert env["MLFLOW_TRACKING_PASSWORD"] == password(env["MLFLOW_TRACKING_USERNAME"])
    assert client(CLIENT_READ, json.dumps(lifecycle["data"])) == lifecycle["experiment"]
