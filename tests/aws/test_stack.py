"""Provision the whole stack against moto with production-like settings, twice, read every
resource back with boto3, then destroy it twice and check that nothing of ours is left.

The tests of this module depend on each other and run in file order: provision, inspect,
destroy (bucket kept), destroy with destroy_delete_bucket.
"""

from __future__ import annotations

import json

import pytest
from conftest import BUCKET, STACK, WALL_TIMES

PREFIX = "mlflow"  # stack_artifact_prefix of inventories/local
SERVER = f"{STACK}-server"
DATABASE = f"{STACK}-db"
ADMIN_CIDR = "172.30.77.1/32"  # stack_admin_cidrs of inventories/local (the Docker gateway)
WEB_CIDR = "172.30.77.0/24"  # stack_web_cidrs of inventories/local (the local Docker network)

# Production settings on top of the local inventory: the TLS-only bucket policy is ON.
PRODUCTION_LIKE = {"aws_bucket_tls_only_policy": True}


@pytest.fixture(scope="module")
def stack(reset_moto, playbook, aws):
    """The provisioned stack: first run and no-op rerun."""
    reset_moto()
    first = playbook("provision.yml", PRODUCTION_LIKE)
    assert first.returncode == 0, first.output[-5000:]
    WALL_TIMES["provision (first run)"] = first.seconds
    second = playbook("provision.yml", PRODUCTION_LIKE)
    assert second.returncode == 0, second.output[-5000:]
    WALL_TIMES["provision (rerun, no-op)"] = second.seconds
    ec2 = aws("ec2")
    instances = [
        i
        for r in ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": [SERVER]}])["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] == "running"
    ]
    groups = {g["GroupName"]: g for g in ec2.describe_security_groups()["SecurityGroups"]}
    return {"first": first, "second": second, "instances": instances, "groups": groups}


def test_first_run_changes_and_rerun_changes_nothing(stack):
    assert stack["first"].recap["changed"] > 0
    assert stack["second"].recap["changed"] == 0, stack["second"].output[-5000:]


def test_bucket_is_versioned_encrypted_and_private(stack, aws):
    s3 = aws("s3")
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    ownership = s3.get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]["Rules"]
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_bucket_policy_denies_requests_without_tls(stack, aws):
    policy = json.loads(aws("s3").get_bucket_policy(Bucket=BUCKET)["Policy"])
    assert len(policy["Statement"]) == 1
    statement = policy["Statement"][0]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert sorted(statement["Resource"]) == [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_bucket_lifecycle_expires_noncurrent_versions(stack, aws):
    rules = aws("s3").get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert len(rules) == 1
    assert rules[0]["Status"] == "Enabled"
    assert rules[0]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 90
    assert rules[0]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 7


def _ingress(group):
    """(protocol, from, to, source) for every ingress permission of a security group."""
    rules = set()
    for perm in group["IpPermissions"]:
        key = (perm["IpProtocol"], perm.get("FromPort"), perm.get("ToPort"))
        rules.update((*key, r["CidrIp"]) for r in perm.get("IpRanges", []))
        rules.update((*key, r["CidrIpv6"]) for r in perm.get("Ipv6Ranges", []))
        rules.update((*key, p["GroupId"]) for p in perm.get("UserIdGroupPairs", []))
    return rules


def test_web_security_group_opens_only_http_https_and_admin_ssh(stack):
    web = stack["groups"][f"{STACK}-web"]
    assert _ingress(web) == {
        ("tcp", 80, 80, WEB_CIDR),
        ("tcp", 443, 443, WEB_CIDR),
        ("tcp", 22, 22, ADMIN_CIDR),
    }


def test_database_security_group_admits_postgresql_only_from_the_web_group(stack):
    web, db = stack["groups"][f"{STACK}-web"], stack["groups"][f"{STACK}-db"]
    assert _ingress(db) == {("tcp", 5432, 5432, web["GroupId"])}
    for group in stack["groups"].values():
        for proto, low, high, source in _ingress(group):
            if source in ("0.0.0.0/0", "::/0") and low is not None:
                assert not (low <= 22 <= high or low <= 5432 <= high), (group["GroupName"], low, high)


def test_dedicated_vpc_has_a_public_subnet_and_two_private_database_subnets(stack, aws):
    ec2 = aws("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{STACK}-vpc"]}])["Vpcs"]
    assert len(vpcs) == 1
    vpc_id = vpcs[0]["VpcId"]
    assert stack["groups"][f"{STACK}-web"]["VpcId"] == vpc_id
    igws = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]
    assert len(igws) == 1
    group = aws("rds").describe_db_subnet_groups(DBSubnetGroupName=DATABASE)["DBSubnetGroups"][0]
    azs = {s["SubnetAvailabilityZone"]["Name"] for s in group["Subnets"]}
    assert group["VpcId"] == vpc_id
    assert len(group["Subnets"]) == 2 and len(azs) == 2
    public_subnet = stack["instances"][0]["SubnetId"]
    assert public_subnet not in {s["SubnetIdentifier"] for s in group["Subnets"]}
    tables = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [public_subnet]}])["RouteTables"]
    routes = {(r.get("DestinationCidrBlock"), r.get("GatewayId")) for r in tables[0]["Routes"]}
    assert ("0.0.0.0/0", igws[0]["InternetGatewayId"]) in routes


def test_iam_role_is_trusted_by_ec2_and_scoped_to_the_artifact_prefix(stack, aws):
    iam = aws("iam")
    role = iam.get_role(RoleName=SERVER)["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    assert iam.list_attached_role_policies(RoleName=SERVER)["AttachedPolicies"] == []
    names = iam.list_role_policies(RoleName=SERVER)["PolicyNames"]
    assert names == [f"{SERVER}-artifacts"]
    document = iam.get_role_policy(RoleName=SERVER, PolicyName=names[0])["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert document["Statement"] == [
        {
            "Sid": "ListArtifactPrefix",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{BUCKET}",
            "Condition": {"StringLike": {"s3:prefix": [f"{PREFIX}/", f"{PREFIX}/*"]}},
        },
        {
            "Sid": "ReadWriteArtifacts",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            "Resource": f"arn:aws:s3:::{BUCKET}/{PREFIX}/*",
        },
    ]
    profile = iam.get_instance_profile(InstanceProfileName=SERVER)["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [SERVER]
    # No access keys anywhere: no IAM user exists at all.
    assert iam.list_users()["Users"] == []


def test_database_is_private_encrypted_backed_up_and_protected(stack, aws):
    db = aws("rds").describe_db_instances(DBInstanceIdentifier=DATABASE)["DBInstances"][0]
    assert db["Engine"] == "postgres"
    assert db["StorageEncrypted"] is True
    assert db["PubliclyAccessible"] is False
    assert db["BackupRetentionPeriod"] >= 7
    assert db["DeletionProtection"] is True
    assert db["AutoMinorVersionUpgrade"] is True
    assert db["StorageType"] == "gp2"
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == DATABASE
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [stack["groups"][f"{STACK}-db"]["GroupId"]]


def test_instance_requires_imdsv2_has_encrypted_root_profile_and_key(stack, aws):
    assert len(stack["instances"]) == 1
    instance = stack["instances"][0]
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert instance["IamInstanceProfile"]["Arn"].endswith(f"instance-profile/{SERVER}")
    assert instance["KeyName"] == SERVER
    assert [k["KeyName"] for k in aws("ec2").describe_key_pairs()["KeyPairs"]] == [SERVER]
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [stack["groups"][f"{STACK}-web"]["GroupId"]]
    root = next(m for m in instance["BlockDeviceMappings"] if m["DeviceName"] == instance["RootDeviceName"])
    volume = aws("ec2").describe_volumes(VolumeIds=[root["Ebs"]["VolumeId"]])["Volumes"][0]
    assert volume["Encrypted"] is True
    assert volume["VolumeType"] == "gp3"


def test_exactly_one_elastic_ip_is_associated_with_the_instance(stack, aws):
    addresses = aws("ec2").describe_addresses()["Addresses"]
    assert len(addresses) == 1
    assert addresses[0]["InstanceId"] == stack["instances"][0]["InstanceId"]
    assert {"Key": "Name", "Value": SERVER} in addresses[0]["Tags"]


def _handover(playbook, tmp_path):
    """Run only the hand-over (--tags configure) and return the facts the server host got."""
    dump = tmp_path / "handover.json"
    run = playbook(
        "../tests/aws/handover.yml",
        # Local connection instead of the container: only the facts are under test here.
        {"handover_dump": str(dump), "aws_server_host_vars": {"ansible_connection": "local"}},
        "--tags",
        "configure",
    )
    return run, (json.loads(dump.read_text()) if dump.exists() else None)


def test_handover_gives_the_configuration_layer_the_stack_facts(stack, playbook, aws, tmp_path):
    run, facts = _handover(playbook, tmp_path)
    assert run.returncode == 0, run.output[-5000:]
    assert run.recap["changed"] <= 1  # only the dump file itself
    address = aws("ec2").describe_addresses()["Addresses"][0]["PublicIp"]
    db = aws("rds").describe_db_instances(DBInstanceIdentifier=DATABASE)["DBInstances"][0]
    assert facts == {
        # inventories/local maps the RDS endpoint to the PostgreSQL container.
        "stack_db_host": "mlflow-local-postgres",
        "stack_db_port": db["Endpoint"]["Port"],
        "stack_db_name": "mlflow",
        "stack_db_username": "mlflow",
        "stack_artifact_bucket": BUCKET,
        "stack_region": "us-east-1",
        "stack_public_address": address,
    }


def _leftovers(aws):
    ec2 = aws("ec2")
    return {
        "running_instances": [
            i["InstanceId"]
            for r in ec2.describe_instances()["Reservations"]
            for i in r["Instances"]
            if i["State"]["Name"] != "terminated"
        ],
        "addresses": ec2.describe_addresses()["Addresses"],
        "key_pairs": ec2.describe_key_pairs()["KeyPairs"],
        "db_instances": aws("rds").describe_db_instances()["DBInstances"],
        "db_subnet_groups": aws("rds").describe_db_subnet_groups()["DBSubnetGroups"],
        "security_groups": [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"] != "default"],
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]],
        "roles": aws("iam").list_roles()["Roles"],
        "instance_profiles": aws("iam").list_instance_profiles()["InstanceProfiles"],
    }


def test_destroy_removes_everything_but_the_bucket_and_reruns_as_no_op(stack, playbook, aws):
    first = playbook("destroy.yml", {"confirm_destroy": STACK})
    assert first.returncode == 0, first.output[-5000:]
    WALL_TIMES["destroy (first run)"] = first.seconds
    second = playbook("destroy.yml", {"confirm_destroy": STACK})
    assert second.returncode == 0, second.output[-5000:]
    WALL_TIMES["destroy (rerun, no-op)"] = second.seconds

    assert first.recap["changed"] > 0
    assert second.recap["changed"] == 0, second.output[-5000:]
    assert not any(_leftovers(aws).values()), _leftovers(aws)
    snapshots = aws("rds").describe_db_snapshots()["DBSnapshots"]
    assert [s["DBSnapshotIdentifier"].startswith(f"{DATABASE}-final-") for s in snapshots] == [True]
    assert BUCKET in [b["Name"] for b in aws("s3").list_buckets()["Buckets"]]


def test_destroy_with_destroy_delete_bucket_removes_the_bucket(stack, playbook, aws):
    run = playbook("destroy.yml", {"confirm_destroy": STACK, "destroy_delete_bucket": True})
    assert run.returncode == 0, run.output[-5000:]
    assert run.recap["changed"] > 0
    assert BUCKET not in [b["Name"] for b in aws("s3").list_buckets()["Buckets"]]


def test_handover_fails_clearly_when_the_stack_does_not_exist(stack, playbook, tmp_path):
    run, facts = _handover(playbook, tmp_path)
    assert run.returncode != 0
    assert facts is None
    assert "Stack mlflow-local is not (completely) provisioned" in run.output
