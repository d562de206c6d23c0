"""A real MLflow client session through nginx, checked against the S3 and PostgreSQL stand-ins."""

import os
import uuid

import boto3
import mlflow
import psycopg2
from mlflow.tracking import MlflowClient

S3_ENDPOINT = "http://127.0.0.1:15000"
PG = {"host": "127.0.0.1", "port": 15432}


def roundtrip(target, user, password, test_vars, tmp_path, label):
    """Create an experiment and a run, log params/metrics/artifact, download it; check S3 and DB."""
    env = {
        "MLFLOW_TRACKING_USERNAME": user,
        "MLFLOW_TRACKING_PASSWORD": password,
        "MLFLOW_TRACKING_SERVER_CERT_PATH": str(target.cert_path),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        # MLflow >= 3.17 clients otherwise fetch S3 artifacts with presigned URLs straight from
        # the bucket; the S3 stand-in's name resolves only on the docker network, and this
        # check is about the path through nginx.
        "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD": "false",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        client = MlflowClient(tracking_uri=target.base_url)
        marker = uuid.uuid4().hex
        exp_id = client.create_experiment(f"molecule-{target.name}-{label}-{marker}")
        run = client.create_run(exp_id)
        run_id = run.info.run_id
        client.log_param(run_id, "learning_rate", "0.01")
        client.log_metric(run_id, "loss", 0.5, step=1)
        client.log_metric(run_id, "loss", 0.25, step=2)
        artifact = tmp_path / f"{label}-hello.txt"
        artifact.write_text(f"artifact {marker}\n")
        client.log_artifact(run_id, str(artifact))
        client.set_terminated(run_id)

        fetched = client.get_run(run_id)
        assert fetched.data.params["learning_rate"] == "0.01"
        assert fetched.data.metrics["loss"] == 0.25
        history = [m.value for m in client.get_metric_history(run_id, "loss")]
        assert sorted(history) == [0.25, 0.5]

        download_dir = tmp_path / f"{label}-download"
        download_dir.mkdir()
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=artifact.name, dst_path=str(download_dir), tracking_uri=target.base_url
        )
        assert open(local).read() == f"artifact {marker}\n"
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    # The artifact went through the server into the S3 bucket, under the configured prefix.
    s3 = boto3.client(
        "s3", endpoint_url=S3_ENDPOINT, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    keys = [
        obj["Key"]
        for obj in s3.list_objects_v2(Bucket=test_vars["molecule_bucket"], Prefix="mlflow-artifacts/").get("Contents", [])
    ]
    matching = [k for k in keys if run_id in k and k.endswith(artifact.name)]
    assert matching, f"artifact of run {run_id} not in s3://{test_vars['molecule_bucket']}/mlflow-artifacts/"
    body = s3.get_object(Bucket=test_vars["molecule_bucket"], Key=matching[0])["Body"].read().decode()
    assert body == f"artifact {marker}\n"

    # The run is stored in PostgreSQL (read as the master user, over TLS).
    with psycopg2.connect(
        dbname=target.db_name, user=test_vars["molecule_db_master_user"],
        password=test_vars["molecule_db_master_password"], sslmode="require", **PG
    ) as conn, conn.cursor() as cur:
        cur.execute("SELECT status FROM runs WHERE run_uuid = %s", (run_id,))
        row = cur.fetchone()
    assert row == ("FINISHED",), f"run {run_id} not FINISHED in PostgreSQL table runs: {row}"
    return run_id
