"""Bad input fails before any AWS call, with a message naming the variable (issue #3, item 6)."""

from __future__ import annotations

import re

import pytest

# (case id, extra vars, variable the error message must name)
BAD_INPUTS = [
    ("bucket-missing", {"stack_artifact_bucket": ""}, "stack_artifact_bucket"),
    ("bucket-invalid", {"stack_artifact_bucket": "Bad_Bucket"}, "stack_artifact_bucket"),
    ("bucket-ip-shaped", {"stack_artifact_bucket": "192.168.1.10"}, "stack_artifact_bucket"),
    ("region-invalid", {"stack_region": "moon-base-one"}, "stack_region"),
    ("admin-cidr-invalid", {"stack_admin_cidrs": ["10.0.0.300/32"]}, "stack_admin_cidrs"),
    ("admin-cidr-host-bits", {"stack_admin_cidrs": ["10.0.0.1/8"]}, "stack_admin_cidrs"),
    ("admin-cidr-anywhere", {"stack_admin_cidrs": ["0.0.0.0/0"]}, "stack_admin_cidrs"),
    ("web-cidr-not-a-list", {"stack_web_cidrs": "0.0.0.0/0"}, "stack_web_cidrs"),
    ("instance-class-invalid", {"aws_database_instance_class": "t3.micro"}, "aws_database_instance_class"),
    ("db-password-empty", {"stack_db_password": ""}, "stack_db_password"),
    ("db-password-forbidden-char", {"stack_db_password": "abc@defgh12345"}, "stack_db_password"),
    ("public-key-path", {"aws_server_ssh_public_key": "~/.ssh/id_ed25519.pub"}, "aws_server_ssh_public_key"),
    ("public-key-private", {"aws_server_ssh_public_key": "-----BEGIN OPENSSH PRIVATE KEY-----"}, "aws_server_ssh_public_key"),
    # Caught by the up-front argument spec validation of the 4th and 5th role.
    ("storage-type-choice", {"aws_database_storage_type": "io9"}, "aws_database_storage_type"),
    ("volume-size-type", {"aws_server_root_volume_size": "big"}, "aws_server_root_volume_size"),
]


def _created_resources(aws) -> dict[str, list]:
    ec2 = aws("ec2")
    return {
        "buckets": [b["Name"] for b in aws("s3").list_buckets()["Buckets"]],
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]],
        "security_groups": [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"] != "default"],
        "instances": [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]],
        "addresses": [a["PublicIp"] for a in ec2.describe_addresses()["Addresses"]],
        "key_pairs": [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]],
        "roles": [r["RoleName"] for r in aws("iam").list_roles()["Roles"]],
        "db_instances": [d["DBInstanceIdentifier"] for d in aws("rds").describe_db_instances()["DBInstances"]],
        "db_subnet_groups": [g["DBSubnetGroupName"] for g in aws("rds").describe_db_subnet_groups()["DBSubnetGroups"]],
    }


@pytest.fixture(scope="module")
def empty_emulator(reset_moto, aws):
    reset_moto()
    assert not any(_created_resources(aws).values())
    yield
    reset_moto()


@pytest.mark.parametrize(("extra_vars", "variable"), [pytest.param(v, n, id=i) for i, v, n in BAD_INPUTS])
def test_bad_input_fails_before_any_change(empty_emulator, playbook, aws, extra_vars, variable):
    run = playbook("provision.yml", extra_vars)

    assert run.returncode != 0, run.output[-3000:]
    assert run.recap["failed"] == 1
    assert run.recap["changed"] == 0
    failure = run.output[re.search(r"^(fatal|failed): ", run.output, re.M).start():]
    assert variable in failure, failure[:3000]
    assert not any(_created_resources(aws).values()), _created_resources(aws)


def test_destroy_refuses_without_confirmation(empty_emulator, playbook):
    run = playbook("destroy.yml", {"confirm_destroy": "some-other-stack"})

    assert run.returncode != 0
    assert "confirm_destroy=mlflow-local" in run.output
