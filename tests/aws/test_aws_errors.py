"""Honest errors (issue #17 item 3): a task that hides its output because it carries a secret
still fails with the cause. Here AWS refuses the operator an action (moto enforces IAM when
started with INITIAL_NO_AUTH_ACTION_COUNT): the database's creation, which carries the master
password. The run names AWS's error and never prints the password."""
from __future__ import annotations

import json

import boto3
import pytest
from conftest import DATABASE, REGION, WALL_TIMES, playbook_runner

# The requests moto serves before it enforces IAM: the three that create the operator below.
FREE_REQUESTS = 3


@pytest.fixture(scope="module")
def enforcing_iam(start_moto, tmp_path_factory):
    with start_moto(tmp_path_factory.mktemp("moto-iam"), {"INITIAL_NO_AUTH_ACTION_COUNT": str(FREE_REQUESTS)}) as endpoint:
        yield endpoint


def test_access_denied_on_a_task_hiding_a_secret_shows_aws_error_and_not_the_secret(enforcing_iam, tmp_path):
    iam = boto3.client("iam", endpoint_url=enforcing_iam, region_name=REGION,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    iam.create_user(UserName="operator")
    iam.put_user_policy(UserName="operator", PolicyName="everything-but-creating-databases", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                      {"Effect": "Deny", "Action": "rds:CreateDBInstance", "Resource": "*"}],
    }))
    key = iam.create_access_key(UserName="operator")["AccessKey"]
    playbook = playbook_runner(enforcing_iam, tmp_path / "credentials", key["AccessKeyId"], key["SecretAccessKey"])

    # The database and what it needs (the network): the bucket and IAM add nothing here.
    run = playbook("provision.yml", {"stack_aws_access_key": key["AccessKeyId"], "stack_aws_secret_key": key["SecretAccessKey"]},
                   "--tags", "database")
    WALL_TIMES["provision (rds:CreateDBInstance denied)"] = run.seconds

    assert run.returncode != 0
    message = " ".join(run.output.split())
    assert f"Creating or converging the database {DATABASE} failed:" in message, run.output[-5000:]
    assert "AccessDenied" in message and "rds:CreateDBInstance" in message, run.output[-5000:]
    password = (tmp_path / "credentials" / "db_password").read_text().strip()
    assert len(password) == 32 and password not in run.output
    assert key["SecretAccessKey"] not in run.output
