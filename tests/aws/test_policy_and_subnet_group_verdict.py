"""The aws_iam role skips iam_policy, and the aws_database role rds_subnet_group, on a rerun
that finds the role's inline policy or the DB subnet group as the module would leave it
(roles/aws_iam/vars/main.yml, roles/aws_database/vars/main.yml). A policy called as wanted
that the module would change is a permission no rerun takes back. So the modules themselves
are asked: each case's policy and group are converged with the roles' own arguments, changed
by hand (or not), then read as the roles read them; the role's verdict must never be "as
wanted" where the module would change something, and must be it where nothing differs.
Run on an emulator of its own, through tests/aws/policy_and_subnet_group_verdict.yml.

moto 5.2.5's ModifyDBSubnetGroup drops the group from its store (where AWS modifies it), so
a group described otherwise or with other subnets is deleted and created again here, with
its tags; tests/aws/test_stack.py's drift run changes the group's tags only."""
from __future__ import annotations

import json
import time

import boto3
import pytest
from conftest import REGION, REPO, WALL_TIMES, verdict_play

PLAYBOOK = REPO / "tests" / "aws" / "policy_and_subnet_group_verdict.yml"
LIBRARY = f"{REPO / 'roles' / 'aws_iam' / 'library'}:{REPO / 'roles' / 'aws_database' / 'library'}"


def _policy(iam, case, change):
    """Change the case's inline policy document by hand (change gets the document)."""
    role, name = f"{case}-server", f"{case}-server-artifacts"
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    change(document)
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))


def _objects(document):
    return next(statement for statement in document["Statement"] if statement["Sid"] == "ReadWriteArtifacts")


def _recreate_group(rds, case, description=None, subnets=None):
    """The group again with another description or other subnets, and its tags."""
    name = f"{case}-db"
    [group] = rds.describe_db_subnet_groups(DBSubnetGroupName=name)["DBSubnetGroups"]
    tags = rds.list_tags_for_resource(ResourceName=group["DBSubnetGroupArn"])["TagList"]
    rds.delete_db_subnet_group(DBSubnetGroupName=name)
    rds.create_db_subnet_group(DBSubnetGroupName=name, Tags=tags,
                               DBSubnetGroupDescription=description or group["DBSubnetGroupDescription"],
                               SubnetIds=subnets or [s["SubnetIdentifier"] for s in group["Subnets"]])


def _group_arn(rds, case):
    return rds.describe_db_subnet_groups(DBSubnetGroupName=f"{case}-db")["DBSubnetGroups"][0]["DBSubnetGroupArn"]


# What is changed by hand in each case: each function gets the IAM and RDS clients, the case's
# name and the subnets {a, b: the group's, c: another one}.
DRIFTS = {
    "as-wanted": lambda iam, rds, case, subnets: None,
    "action-added": lambda iam, rds, case, subnets: (
        _policy(iam, case, lambda d: _objects(d)["Action"].append("s3:PutObjectAcl")),
        _recreate_group(rds, case, description="changed by hand")),
    "widened": lambda iam, rds, case, subnets: (
        _policy(iam, case, lambda d: _objects(d).update(Resource="arn:aws:s3:::verdict-artifacts/*")),
        _recreate_group(rds, case, subnets=[subnets["a"], subnets["b"], subnets["c"]])),
    "missing": lambda iam, rds, case, subnets: (
        iam.delete_role_policy(RoleName=f"{case}-server", PolicyName=f"{case}-server-artifacts"),
        _recreate_group(rds, case, subnets=[subnets["a"], subnets["c"]])),
    # The same permissions in another order: the module finds nothing to change, the verdict
    # (exact) runs it all the same. A module run too many, never one too few.
    "reordered": lambda iam, rds, case, subnets: (
        _policy(iam, case, lambda d: _objects(d)["Action"].reverse()),
        rds.add_tags_to_resource(ResourceName=_group_arn(rds, case), Tags=[{"Key": "added-by-hand", "Value": "yes"}])),
    # iam_policy leaves the role's other inline policies alone.
    "other-policy": lambda iam, rds, case, subnets: (
        iam.put_role_policy(RoleName=f"{case}-server", PolicyName="added-by-hand", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})),
        rds.add_tags_to_resource(ResourceName=_group_arn(rds, case), Tags=[{"Key": "cost-center", "Value": "43"}])),
    "tag-taken": lambda iam, rds, case, subnets: (
        rds.remove_tags_from_resource(ResourceName=_group_arn(rds, case), TagKeys=["owner"]),),
}

# The resources each case's verdict finds not as wanted, and those the module would change.
NOT_AS_WANTED = {"as-wanted": set(), "action-added": {"policy", "subnet_group"}, "widened": {"policy", "subnet_group"},
                 "missing": {"policy", "subnet_group"}, "reordered": {"policy", "subnet_group"},
                 "other-policy": {"subnet_group"}, "tag-taken": {"subnet_group"}}
MODULE_CHANGES = {**NOT_AS_WANTED, "reordered": {"subnet_group"}}


@pytest.fixture(scope="module")
def emulator(start_moto, tmp_path_factory):
    with start_moto(tmp_path_factory.mktemp("moto-stored-verdict")) as endpoint:
        yield endpoint


def _client(emulator, service):
    return boto3.client(service, endpoint_url=emulator, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _play(emulator, phase, subnets):
    return verdict_play(emulator, PLAYBOOK, {"cases": list(DRIFTS), "phase": phase,
                                             "aws_database_subnet_ids": [subnets["a"], subnets["b"]]},
                        ANSIBLE_LIBRARY=LIBRARY)


def test_the_verdict_is_never_as_wanted_where_the_module_would_change(emulator):
    started = time.monotonic()
    ec2, iam, rds = (_client(emulator, service) for service in ("ec2", "iam", "rds"))
    vpc = ec2.create_vpc(CidrBlock="10.43.0.0/16")["Vpc"]["VpcId"]
    subnets = {key: ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.43.{n}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
               for key, n, zone in (("a", 1, "a"), ("b", 2, "b"), ("c", 3, "c"))}
    _play(emulator, "setup", subnets)
    for case, drift in DRIFTS.items():
        drift(iam, rds, case, subnets)
    tasks = _play(emulator, "verdict", subnets)
    WALL_TIMES["aws_iam and aws_database verdicts (setup and check)"] = time.monotonic() - started
    results = tasks[-1]["hosts"]["localhost"]["results"]
    assert [result["_verdict_case"] for result in results] == list(DRIFTS)
    for case, result in zip(DRIFTS, results):
        verdicts = result["msg"]
        assert {resource for resource, (as_wanted, _) in verdicts.items() if not as_wanted} == NOT_AS_WANTED[case], (case, verdicts)
        assert {resource for resource, (_, changed) in verdicts.items() if changed} == MODULE_CHANGES[case], (case, verdicts)
