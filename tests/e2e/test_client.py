"""A real MLflow client, configured only by the env file site.yml wrote, works end to end."""
import os
import shutil
import stat
import subprocess
import uuid

from conftest import BUCKET, CREDENTIALS, PREFIX, ROOT, URL, auth_users, aws, mlflow_client, parse_env_file, psql


def run_client(env_vars, experiment):
    """The round trip of mlflow_roundtrip.py (a run with params, metrics and an artifact)."""
    return mlflow_client(env_vars, str(ROOT / "tests" / "e2e" / "mlflow_roundtrip.py"), experiment)


def test_env_file_names_everything_the_client_needs(client_env):
    assert client_env["MLFLOW_TRACKING_URI"] == URL
    assert client_env["MLFLOW_TRACKING_USERNAME"]
    assert len(client_env["MLFLOW_TRACKING_PASSWORD"]) >= 24
    assert os.path.isfile(client_env["MLFLOW_TRACKING_SERVER_CERT_PATH"])
    # Artifacts stay on the proxied path: the client needs no route to S3.
    assert client_env["MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD"] == "false"
    assert client_env["MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD"] == "false"


def test_every_user_gets_an_env_file_that_works_wherever_it_is_copied(tmp_path):
    """One file per basic-auth user; copied with server-ca.pem to any directory (a data
    scientist's laptop), it names the certificate beside it and the client gets in."""
    users = auth_users()
    files = sorted(p.stem for p in (CREDENTIALS / "clients").glob("*.env"))
    assert files == users and len(users) >= 2
    last = users[-1]
    laptop = tmp_path / "somewhere" / "else"
    laptop.mkdir(parents=True)
    shutil.copy(CREDENTIALS / "clients" / f"{last}.env", laptop)
    shutil.copy(CREDENTIALS / "clients" / "server-ca.pem", laptop)
    env = parse_env_file(laptop / f"{last}.env")
    assert env["MLFLOW_TRACKING_USERNAME"] == last
    assert env["MLFLOW_TRACKING_SERVER_CERT_PATH"] == str(laptop / "server-ca.pem")
    result = run_client(env, f"e2e-{last}-{uuid.uuid4().hex[:8]}")
    assert result.returncode == 0, result.stderr[-3000:]


def test_credentials_are_private_and_not_tracked_by_git():
    assert stat.S_IMODE(os.stat(CREDENTIALS).st_mode) == 0o700
    for path in CREDENTIALS.rglob("*"):
        public = path.name in ("server-ca.pem", "database-standin-ca.pem", "ssh_key.pub", "known_hosts") \
            or "server-standin" in path.parts
        if path.is_file() and not public:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    ignored = subprocess.run(["git", "check-ignore", "-q", str(CREDENTIALS / "mlflow-client.env")], cwd=ROOT)
    assert ignored.returncode == 0


def test_client_logs_a_run_with_an_artifact_and_reads_it_back(client_env):
    experiment = f"e2e-{uuid.uuid4().hex[:8]}"
    result = run_client(client_env, experiment)
    assert result.returncode == 0, result.stderr[-3000:]
    run_id, experiment_id = result.stdout.split()[-2:]

    # The artifact went through MLflow's proxy into the bucket, under the prefix.
    s3 = aws("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/").get("Contents", [])]
    assert any(k.endswith(f"{run_id}/artifacts/model/model.txt") for k in keys), keys

    # The run is in PostgreSQL (the RDS stand-in), in the experiment it was logged to.
    row = psql(f"SELECT experiment_id, status FROM runs WHERE run_uuid = '{run_id}';").strip()
    assert row == f"{experiment_id}|FINISHED"


def test_client_without_the_password_is_refused(client_env):
    env = dict(client_env)
    env["MLFLOW_TRACKING_PASSWORD"] = "wrong-" + env["MLFLOW_TRACKING_PASSWORD"]
    result = run_client(env, f"e2e-denied-{uuid.uuid4().hex[:8]}")
    assert result.returncode != 0
    assert "401" in result.stderr


def test_generated_passwords_are_stored_with_a_fast_salted_hash_and_no_password():
    """Machine-generated passwords (190 bits) are hashed with nginx's {SSHA} (checked in
    microseconds per request), each with its own salt; the file holds no password."""
    from conftest import SERVER, docker_exec

    entries = dict(line.split(":", 1) for line in docker_exec(SERVER, "cat", "/etc/nginx/mlflow.htpasswd").stdout.splitlines()
                   if line and not line.startswith("#"))
    users = auth_users()
    assert sorted(entries) == users
    for user, value in entries.items():
        assert value.startswith("{SSHA}"), (user, value[:10])
        assert (CREDENTIALS / "auth" / user).read_text().strip() not in value
    assert len(set(entries.values())) == len(entries)
