"""The opt-in live test (tests/live, `make test-live`) cannot run here (no AWS account), so
what can be checked without AWS is checked: it skips with a message when its variables are
missing, and the inventory it generates from the production example passes the preflight."""
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "live"))
from live_inventory import write_live_inventory  # noqa: E402

LIVE_VARIABLES = ("MLFLOW_LIVE_REGION", "MLFLOW_LIVE_STACK", "MLFLOW_LIVE_ADMIN_CIDR")


def test_the_live_test_skips_with_a_message_without_its_variables():
    env = {k: v for k, v in os.environ.items() if k not in LIVE_VARIABLES}
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", str(ROOT / "tests" / "live")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "1 skipped" in run.stdout
    assert "live test skipped: set MLFLOW_LIVE_REGION, MLFLOW_LIVE_STACK, MLFLOW_LIVE_ADMIN_CIDR" in run.stdout


def test_the_generated_live_inventory_passes_the_preflight(tmp_path):
    inventory = write_live_inventory(tmp_path, region="eu-west-1", stack="mlflow-live-test",
                                     admin_cidr="100.64.7.7/32", account="123456789012")
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    run = subprocess.run([str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(inventory),
                          str(ROOT / "playbooks" / "preflight.yml")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:]
    assert re.search(r"localhost\s*:\s*ok=\d+\s+changed=0\s+unreachable=0\s+failed=0", run.stdout), run.stdout[-2000:]
    # The caller is the only one let in, the bucket is the account's, secrets stay in the temp dir.
    settings = yaml.safe_load((inventory / "group_vars" / "all" / "main.yml").read_text())
    assert settings["stack_admin_cidrs"] == settings["stack_web_cidrs"] == ["100.64.7.7/32"]
    assert settings["stack_artifact_bucket"] == "mlflow-live-test-artifacts-123456789012"
    assert settings["stack_credentials_dir"] == str(tmp_path / "credentials")
    assert settings["stack_aws_endpoint_url"] == ""
    assert "aws_server_ssh_public_key" not in settings  # the stack's generated key, not the example's
    assert not (tmp_path / "credentials").exists()  # the preflight writes nothing
