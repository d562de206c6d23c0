"""A colleague's fresh clone of an inventory whose secrets live in SSM Parameter Store (issue
#17 item 1). The local stack's secrets are moved into the emulator's parameter store
(stack_secrets_store=ssm imports the files), then site.yml runs from a controller directory
that holds nothing: the server changes nothing, the same passwords come back, and a client
with the env file written before the move still gets in."""
from conftest import CREDENTIALS, SERVER, ansible_playbook, changed_tasks, parse_env_file, recap
from test_client import run_client

SSM = ("-e", "stack_secrets_store=ssm")


def test_a_fresh_clone_gets_the_same_secrets_from_the_parameter_store_and_changes_nothing(tmp_path):
    moved = ansible_playbook("playbooks/credentials.yml", *SSM)
    assert moved.returncode == 0, moved.stdout[-4000:]

    # What a fresh clone has of .credentials/local: nothing. The server stand-in's cloud-init
    # seed (EC2's side on AWS: what the instance booted with) stays where the container mounts
    # it, or the stand-in would boot a new server.
    clone = tmp_path / "clone"
    run = ansible_playbook("site.yml", *SSM, "-e", f"server_standin_seed_dir={CREDENTIALS / 'server-standin'}",
                           env_extra={"MLFLOW_STACK_CREDENTIALS_DIR": str(clone)})
    assert run.returncode == 0, run.stdout[-4000:]
    assert recap(run.stdout)["mlflow-local-server"]["failed"] == 0, run.stdout[-4000:]
    # Nothing changed on the server: the only changes of its play are the clone's own client
    # files, which client_env writes on the controller (the fetched CA, the env files).
    changed = {task for task, host in changed_tasks(run.stdout) if host == SERVER}
    assert changed <= {
        "client_env : Create the client directories on the controller",
        "client_env : Fetch the server certificate clients must trust",
        "client_env : Write one MLflow client env file per user",
        "client_env : Write the env file of the first user where make demo points",
    }, changed

    before = sorted(p.name for p in (CREDENTIALS / "clients").glob("*.env"))
    assert before == sorted(p.name for p in (clone / "clients").glob("*.env")) and before
    for name in before:
        old, new = parse_env_file(CREDENTIALS / "clients" / name), parse_env_file(clone / "clients" / name)
        assert new["MLFLOW_TRACKING_PASSWORD"] == old["MLFLOW_TRACKING_PASSWORD"], name
    # The clone's controller holds the SSH key pair (ssh reads a file), no password.
    assert not (clone / "db_password").exists()
    assert [p.name for p in (clone / "auth").iterdir()] == []

    result = run_client(parse_env_file(CREDENTIALS / "clients" / "alice.env"), "e2e-shared-secrets")
    assert result.returncode == 0, result.stderr[-3000:]
