"""The aws_network role skips ec2_vpc_igw and ec2_security_group on a rerun that finds the
gateway or a security group as the module would leave it (roles/aws_network/vars/main.yml,
filter_plugins/). A group called as wanted that the module would change is an open port no
rerun closes. So the modules themselves are asked: each case's network is converged with the
role's own arguments, changed by hand (or not), then read as the role reads it; for each
resource, the role's verdict must be the opposite of what the module reports in check mode.
Run on an emulator of its own, through tests/aws/network_verdict.yml."""
from __future__ import annotations

import time

import boto3
import pytest
from conftest import REGION, REPO, WALL_TIMES, verdict_play

ROLE = REPO / "roles" / "aws_network"
ADMIN = "198.51.100.0/24"


def _tcp(port, **grant):
    return [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **grant}]


# What is changed by hand in each case (a stack of its own): each function gets the EC2 client
# and the case's {web, db, igw, vpc} ids and the account's (owner). Egress is not the module's (without rules_egress it
# neither adds nor removes egress rules): a group with an egress rule added stays as wanted.
DRIFTS = {
    "as-wanted": lambda ec2, ids: None,
    "opened": lambda ec2, ids: (
        ec2.authorize_security_group_ingress(GroupId=ids["web"], IpPermissions=_tcp(5432, IpRanges=[{"CidrIp": "0.0.0.0/0"}])),
        ec2.create_tags(Resources=[ids["db"]], Tags=[{"Key": "added-by-hand", "Value": "yes"}]),
        ec2.delete_tags(Resources=[ids["igw"]], Tags=[{"Key": "owner"}])),
    "revoked": lambda ec2, ids: (
        ec2.revoke_security_group_ingress(GroupId=ids["web"], IpPermissions=_tcp(443, IpRanges=[{"CidrIp": "0.0.0.0/0"}])),
        # moto, unlike AWS, revokes a group's grant only with its description.
        ec2.revoke_security_group_ingress(GroupId=ids["db"], IpPermissions=_tcp(5432, UserIdGroupPairs=[
            {"GroupId": ids["web"], "UserId": ids["owner"], "Description": "PostgreSQL from the MLflow server"}])),
        ec2.authorize_security_group_ingress(GroupId=ids["db"], IpPermissions=_tcp(5432, UserIdGroupPairs=[
            {"GroupId": ids["db"], "UserId": ids["owner"], "Description": "PostgreSQL from the MLflow server"}])),
        ec2.detach_internet_gateway(InternetGatewayId=ids["igw"], VpcId=ids["vpc"])),
    "described": lambda ec2, ids: (
        ec2.update_security_group_rule_descriptions_ingress(GroupId=ids["web"], IpPermissions=_tcp(22, IpRanges=[
            {"CidrIp": ADMIN, "Description": "by hand"}])),
        ec2.authorize_security_group_egress(GroupId=ids["db"], IpPermissions=_tcp(25, IpRanges=[{"CidrIp": "0.0.0.0/0"}]))),
    "ipv6": lambda ec2, ids: (
        ec2.authorize_security_group_ingress(GroupId=ids["web"], IpPermissions=_tcp(22, Ipv6Ranges=[{"CidrIpv6": "::/0"}])),
        ec2.create_tags(Resources=[ids["db"]], Tags=[{"Key": "cost-center", "Value": "43"}])),
    "egress": lambda ec2, ids: (
        ec2.authorize_security_group_egress(GroupId=ids["web"], IpPermissions=_tcp(25, IpRanges=[{"CidrIp": "0.0.0.0/0"}])),),
}

EXPECTED = {"as-wanted": set(), "opened": {"web", "db", "igw"}, "revoked": {"web", "db", "igw"},
            "described": {"web"}, "ipv6": {"web", "db"}, "egress": set()}


@pytest.fixture(scope="module")
def emulator(start_moto, tmp_path_factory):
    with start_moto(tmp_path_factory.mktemp("moto-verdict")) as endpoint:
        yield endpoint


def _play(emulator, phase):
    return verdict_play(emulator, REPO / "tests" / "aws" / "network_verdict.yml", {"cases": list(DRIFTS), "phase": phase},
                        ANSIBLE_FILTER_PLUGINS=str(ROLE / "filter_plugins"), ANSIBLE_LIBRARY=str(ROLE / "library"))


def test_the_verdict_is_the_opposite_of_what_the_module_would_change(emulator):
    started = time.monotonic()
    _play(emulator, "setup")
    ec2 = boto3.client("ec2", endpoint_url=emulator, region_name=REGION,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    for case, drift in DRIFTS.items():
        [vpc] = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{case}-vpc"]}])["Vpcs"]
        in_vpc = [{"Name": "vpc-id", "Values": [vpc["VpcId"]]}]
        groups = {g["GroupName"]: g["GroupId"] for g in ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"]}
        [igw] = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc["VpcId"]]}])["InternetGateways"]
        drift(ec2, {"vpc": vpc["VpcId"], "igw": igw["InternetGatewayId"], "owner": vpc["OwnerId"],
                    "web": groups[f"{case}-web"], "db": groups[f"{case}-db"]})
    tasks = _play(emulator, "verdict")
    WALL_TIMES["aws_network verdicts (setup and check)"] = time.monotonic() - started
    results = tasks[-1]["hosts"]["localhost"]["results"]
    assert [result["_verdict_case"] for result in results] == list(DRIFTS)
    for case, result in zip(DRIFTS, results):
        verdicts = result["msg"]
        for resource, (as_wanted, changed) in verdicts.items():
            assert as_wanted != changed, (case, resource, verdicts)
        assert {resource for resource, (as_wanted, _) in verdicts.items() if not as_wanted} == EXPECTED[case], (case, verdicts)
