"""What a user's training script does: run with the env file sourced.

Logs an experiment, params, metrics and an artifact through nginx, then reads them back.
Prints the run id and experiment id on the last line.
"""
import pathlib
import sys
import tempfile

import mlflow
from mlflow.tracking import MlflowClient

name = sys.argv[1]
mlflow.set_experiment(name)
with mlflow.start_run() as run:
    mlflow.log_param("alpha", 0.5)
    for step in range(3):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "model.txt"
        path.write_text(f"weights of {name}\n")
        mlflow.log_artifact(str(path), artifact_path="model")

client = MlflowClient()
got = client.get_run(run.info.run_id)
assert got.data.params["alpha"] == "0.5", got.data.params
assert got.data.metrics["loss"] == 1.0 / 3, got.data.metrics
with tempfile.TemporaryDirectory() as tmp:
    local = client.download_artifacts(run.info.run_id, "model/model.txt", tmp)
    assert pathlib.Path(local).read_text() == f"weights of {name}\n"
print(run.info.run_id, run.info.experiment_id)
