"""After the e2e load (rotation loops, brute force, ...) and a 500 MB artifact round trip
through nginx, no process of the 2 GiB server was killed for memory (run last)."""
import hashlib
import os
import pathlib

from mlflow.tracking import MlflowClient

from conftest import SERVER, docker_exec, parse_env_file, CREDENTIALS
from memory import INSTANCE_MEMORY_MIB, oom_kills, pss_mib

ARTIFACT_MIB = 500


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def test_a_500_mb_artifact_round_trip_kills_nothing(tmp_path, monkeypatch):
    for key, value in parse_env_file(CREDENTIALS / "mlflow-client.env").items():
        monkeypatch.setenv(key, value)
    before = oom_kills()
    big = tmp_path / "model.bin"
    with open(big, "wb") as handle:
        for _ in range(ARTIFACT_MIB):
            handle.write(os.urandom(1 << 20))
    client = MlflowClient()
    experiment = client.create_experiment(f"large-artifact-{os.getpid()}")
    run = client.create_run(experiment)
    client.log_artifact(run.info.run_id, str(big))
    back = pathlib.Path(client.download_artifacts(run.info.run_id, "model.bin", str(tmp_path / "down")))
    assert back.stat().st_size == ARTIFACT_MIB << 20
    assert _sha256(back) == _sha256(big)

    journal = docker_exec(SERVER, "journalctl", "--no-pager", "-o", "cat", check=False).stdout
    restarts = docker_exec(SERVER, "systemctl", "show", "-p", "NRestarts", "--value",
                           "mlflow.service", "mlflow-2.service", "nginx.service").stdout.split()
    print(f"\nPSS after the load and the {ARTIFACT_MIB} MB round trip: {pss_mib():.0f} MiB of {INSTANCE_MEMORY_MIB} MiB; "
          f"OOM kills in the container: {oom_kills()}; unit restarts: {restarts}")
    assert oom_kills() == before == 0
    assert not [line for line in journal.splitlines() if "oom" in line.lower() and "kill" in line.lower()]
    assert restarts == ["0", "0", "0"]
