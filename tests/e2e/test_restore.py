"""Restores by hand (playbooks/restore.yml): artifacts deleted from the bucket come back for the
MLflow client, and the run changes nothing else; a database restore that is not confirmed, or
names a snapshot that does not exist, is refused before anything changes. (The database restore
itself runs in the upgrade drill's automatic rollback: tests/e2e/test_upgrade.py.)"""
import uuid

from conftest import BUCKET, PREFIX, ansible_playbook, aws, mlflow_client, recap
from test_client import run_client

STACK = "mlflow-local"


def rds_instances():
    return sorted(d["DBInstanceIdentifier"] for d in aws("rds").describe_db_instances()["DBInstances"])


def read_artifact(client_env, run_id, **env_extra):
    """What the MLflow client downloads of the run's model/model.txt (None if it cannot)."""
    code = ("import pathlib, sys, tempfile\n"
            "from mlflow.tracking import MlflowClient\n"
            "with tempfile.TemporaryDirectory() as t:\n"
            "    print(pathlib.Path(MlflowClient().download_artifacts(sys.argv[1], 'model/model.txt', t)).read_text(), end='')\n")
    result = mlflow_client(client_env, "-c", code, run_id, **env_extra)
    return result.stdout if result.returncode == 0 else None


def test_deleted_artifacts_come_back_and_nothing_else_changes(client_env):
    experiment = f"e2e-restore-{uuid.uuid4().hex[:8]}"
    logged = run_client(client_env, experiment)
    assert logged.returncode == 0, logged.stderr[-3000:]
    run_id, experiment_id = logged.stdout.split()[-2:]
    prefix = f"{PREFIX}/{experiment_id}/{run_id}/"
    s3 = aws("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]
    assert any(k.endswith("/artifacts/model/model.txt") for k in keys), keys
    for key in keys:
        s3.delete_object(Bucket=BUCKET, Key=key)
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("KeyCount") == 0
    # Gone for the client (one try: the client retries a failed download for minutes).
    assert read_artifact(client_env, run_id, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0") is None

    run = ansible_playbook("playbooks/restore.yml", "-e", f"undelete_prefix={prefix}")
    assert run.returncode == 0, run.stdout[-4000:]
    output = " ".join(run.stdout.split())
    assert f"{len(keys)} objects undeleted under {prefix}" in output and "Database untouched." in output, run.stdout[-4000:]
    # The undelete is the run's only change, and nothing ran on any host of the stack: it is not
    # converged for an undelete.
    hosts = recap(run.stdout)
    assert hosts.pop("localhost")["changed"] == 1 and all(counts["ok"] == 0 for counts in hosts.values()), run.stdout[-3000:]
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]) == sorted(keys)

    # The client reads the run's artifact back through MLflow, as tests/e2e/mlflow_roundtrip.py wrote it.
    assert read_artifact(client_env, run_id) == f"weights of {experiment}\n"


def test_a_database_restore_unconfirmed_or_from_a_missing_snapshot_is_refused_before_any_change():
    before = rds_instances()
    unconfirmed = ansible_playbook("playbooks/restore.yml", "-e", "restore_latest=true")
    assert unconfirmed.returncode != 0
    assert f"confirmed with -e confirm_restore={STACK}" in " ".join(unconfirmed.stdout.split()), unconfirmed.stdout[-3000:]
    missing = ansible_playbook("playbooks/restore.yml", "-e", f"confirm_restore={STACK}", "-e", "restore_snapshot=no-such-snapshot")
    assert missing.returncode != 0
    assert "restore_snapshot=no-such-snapshot: no such snapshot in us-east-1" in " ".join(missing.stdout.split()), missing.stdout[-3000:]
    for run in (unconfirmed, missing):
        assert all(counts["changed"] == 0 for counts in recap(run.stdout).values()), run.stdout[-3000:]
    assert rds_instances() == before
