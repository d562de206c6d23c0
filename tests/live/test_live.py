"""The whole stack on real AWS, for whoever has a disposable account: `make test-live`.

Opt-in, never part of `make test`, never faked: it runs only when MLFLOW_LIVE_REGION,
MLFLOW_LIVE_STACK and MLFLOW_LIVE_ADMIN_CIDR are set and boto3 finds AWS credentials, and is
skipped with a message saying so otherwise. It costs money (README, "Live test").

One test, in the order an operator works: site.yml with an inventory generated from the
production example, the e2e client round trip through the real HTTPS endpoint, a rotation of
the database passwords and the round trip again, destroy (bucket, final snapshot and automated
backups included, so that nothing is left to pay for), then boto3 looks for anything still
tagged with the stack. Destroy also runs when an earlier step failed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import botocore.exceptions
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_inventory import ROOT, write_live_inventory  # noqa: E402

REQUIRED = ("MLFLOW_LIVE_REGION", "MLFLOW_LIVE_STACK", "MLFLOW_LIVE_ADMIN_CIDR")
MISSING = [name for name in REQUIRED if not os.environ.get(name)]
NO_CREDENTIALS = boto3.Session().get_credentials() is None

pytestmark = pytest.mark.skipif(
    bool(MISSING) or NO_CREDENTIALS,
    reason=(
        f"live test skipped: set {', '.join(MISSING)} (a disposable AWS account's region, a stack name, your public IP/32)"
        if MISSING
        else "live test skipped: boto3 finds no AWS credentials (profile, SSO or AWS_* variables)"
    ),
)

REGION = os.environ.get("MLFLOW_LIVE_REGION", "")
STACK = os.environ.get("MLFLOW_LIVE_STACK", "")
ADMIN_CIDR = os.environ.get("MLFLOW_LIVE_ADMIN_CIDR", "")
PYTHON = ROOT / ".venv" / "bin" / "python"
ROUNDTRIP = ROOT / "tests" / "e2e" / "mlflow_roundtrip.py"


def _playbook(inventory: Path, playbook: str, *args: str, timeout: int = 3600) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0", "AWS_DEFAULT_REGION": REGION}
    for name in ("AWS_ENDPOINT_URL", "MLFLOW_STACK_AWS_ENDPOINT"):  # never the emulator
        env.pop(name, None)
    run = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(inventory), str(ROOT / playbook), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )
    print(f"{playbook} {' '.join(args)}: rc={run.returncode}\n{run.stdout[-3000:]}")
    return run


def _roundtrip(credentials: Path) -> subprocess.CompletedProcess:
    """The e2e client, configured the way README tells users to: source mlflow-client.env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_"))}
    script = f'set -a; . "{credentials / "mlflow-client.env"}"; set +a; exec "{PYTHON}" "{ROUNDTRIP}" "live-{uuid.uuid4().hex[:8]}"'
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=600, check=False)


def _leftovers(session: boto3.Session) -> dict[str, list[str]]:
    """What is still there of the stack: everything the tagging API finds with its Project tag
    (terminated instances, which EC2 lists for a while, left out), plus direct checks for what
    that API may miss (Elastic IPs, key pairs, instance profiles, IAM roles, the database, its
    backups and snapshots, the bucket)."""
    ec2, rds, iam, s3 = (session.client(s) for s in ("ec2", "rds", "iam", "s3"))
    tagged = [
        r["ResourceARN"]
        for page in session.client("resourcegroupstaggingapi").get_paginator("get_resources").paginate(
            TagFilters=[{"Key": "Project", "Values": [STACK]}]
        )
        for r in page["ResourceTagMappingList"]
    ]
    instance_ids = [arn.rsplit("/", 1)[1] for arn in tagged if ":instance/" in arn]
    if instance_ids:
        try:
            gone = {
                i["InstanceId"]
                for r in ec2.describe_instances(InstanceIds=instance_ids)["Reservations"]
                for i in r["Instances"]
                if i["State"]["Name"] == "terminated"
            }
        except botocore.exceptions.ClientError:
            gone = set()
        tagged = [arn for arn in tagged if not (":instance/" in arn and arn.rsplit("/", 1)[1] in gone)]

    def missing(call, *codes) -> bool:
        try:
            call()
        except botocore.exceptions.ClientError as err:
            return err.response["Error"]["Code"] in codes
        return False

    server, database, bucket = f"{STACK}-server", f"{STACK}-db", f"{STACK}-artifacts-{session.client('sts').get_caller_identity()['Account']}"
    return {
        "tagged": tagged,
        "addresses": [a["PublicIp"] for a in ec2.describe_addresses(Filters=[{"Name": "tag:Project", "Values": [STACK]}])["Addresses"]],
        "key_pairs": [] if missing(lambda: ec2.describe_key_pairs(KeyNames=[server]), "InvalidKeyPair.NotFound") else [server],
        "instance_profiles": [] if missing(lambda: iam.get_instance_profile(InstanceProfileName=server), "NoSuchEntity") else [server],
        "roles": [] if missing(lambda: iam.get_role(RoleName=server), "NoSuchEntity") else [server],
        "db_instances": [] if missing(lambda: rds.describe_db_instances(DBInstanceIdentifier=database), "DBInstanceNotFound") else [database],
        "db_snapshots": [s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(DBInstanceIdentifier=database)["DBSnapshots"]],
        "automated_backups": _automated_backups(rds, database),
        "buckets": [] if missing(lambda: s3.head_bucket(Bucket=bucket), "404", "NoSuchBucket") else [bucket],
    }


def _automated_backups(rds, database: str) -> list[str]:
    try:
        backups = rds.describe_db_instance_automated_backups(DBInstanceIdentifier=database)["DBInstanceAutomatedBackups"]
    except botocore.exceptions.ClientError as err:
        if err.response["Error"]["Code"] == "DBInstanceAutomatedBackupNotFound":
            return []
        raise
    return [f"{b['DBInstanceIdentifier']} ({b['Status']})" for b in backups]


def test_the_stack_serves_mlflow_rotates_and_leaves_nothing_behind(tmp_path):
    session = boto3.Session(region_name=REGION)
    account = session.client("sts").get_caller_identity()["Account"]
    inventory = write_live_inventory(tmp_path, region=REGION, stack=STACK, admin_cidr=ADMIN_CIDR, account=account)
    credentials = tmp_path / "credentials"
    started = time.monotonic()
    try:
        site = _playbook(inventory, "site.yml")
        assert site.returncode == 0, site.stdout[-5000:] + site.stderr[-2000:]
        print(f"site.yml: {time.monotonic() - started:.0f} s")

        first = _roundtrip(credentials)
        assert first.returncode == 0, first.stderr[-3000:]

        rotation = _playbook(inventory, "playbooks/rotate-credentials.yml", "-e", "rotate=db")
        assert rotation.returncode == 0, rotation.stdout[-5000:] + rotation.stderr[-2000:]
        second = _roundtrip(credentials)
        assert second.returncode == 0, second.stderr[-3000:]
    finally:
        destroy = _playbook(
            inventory,
            "playbooks/destroy.yml",
            "-e", f"confirm_destroy={STACK}",
            "-e", "destroy_delete_bucket=true",
            "-e", "destroy_final_snapshot=false",
            "-e", "destroy_delete_automated_backups=true",
        )
        print(f"whole live test: {time.monotonic() - started:.0f} s")
    assert destroy.returncode == 0, destroy.stdout[-5000:] + destroy.stderr[-2000:]

    # The tagging API and IAM are eventually consistent: a resource deleted a moment ago may
    # still be listed. Ask again for up to 15 minutes before calling anything a leftover.
    deadline = time.monotonic() + 900
    while any((left := _leftovers(session)).values()) and time.monotonic() < deadline:
        time.sleep(30)
    assert not any(left.values()), left
