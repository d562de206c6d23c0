"""A colleague's fresh clone of an inventory whose secrets live in SSM Parameter Store (issue
#17 item 1). The local stack's secrets are moved into the emulator's parameter store
(stack_secrets_store=ssm imports the files), then site.yml runs from a controller directory
that holds nothing: the server changes nothing, the same passwords come back, and a client
with the env file written before the move still gets in."""
from conftest import CREDENTIALS, ansible_playbook, parse_env_file
from test_check_mode import recap
from test_client import run_client

SSM = ("-e", "stack_secrets_store=ssm")


def test_a_fresh_clone_gets_the_same_secrets_from_the_parameter_store_and_changes_nothing(tmp_path):
    moved = ansible_playbook("playbooks/credentials.yml", *SSM)
    assert moved.returncode == 0, moved.stdout[-4000:]

    clone = tmp_path / "clone"  # what a fresh clone has of .credentials/local: nothing
    run = ansible_playbook("site.yml", *SSM, env_extra={"MLFLOW_STACK_CREDENTIALS_DIR": str(clone)})
    assert run.returncode == 0, run.stdout[-4000:]
    assert recap(run.stdout)["mlflow-local-server"] == {"changed": 0, "unreachable": 0, "failed": 0}, run.stdout[-4000:]

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
