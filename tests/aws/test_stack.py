"""Provision the whole stack against moto with production-like settings, read every resource
back with boto3, live through what AWS does to a stack between two runs, destroy it.

moto's world never changes by itself where AWS's does; each group plays AWS's part where the
emulator would not: Debian publishing a newer image, RDS applying a minor upgrade, AWS
disassociating the Elastic IP of a terminated instance, network interfaces that outlive their
database, tags that change in the inventory.

Each class owns its stack: a class-scoped fixture resets the emulator, provisions, and (where
the class does not test destroy itself) destroys in its teardown. Any test runs alone, in any
order: `pytest tests/aws/test_stack.py::TestDestroy::test_destroy_waits_for_lingering_network_interfaces`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time

import pytest
from conftest import (
    BUCKET,
    REGION,
    DATABASE,
    DEBIAN_IMAGES,
    PREFIX,
    SECRETS_PATH,
    SERVER,
    STACK,
    WALL_TIMES,
    register_debian_image,
    server_instances,
    stack_leftovers,
    stored_secrets,
    writes,
)

ADMIN_CIDR = "172.30.77.1/32"  # stack_admin_cidrs of inventories/local (the Docker gateway)
WEB_CIDR = "172.30.77.0/24"  # stack_web_cidrs of inventories/local (the local Docker network)

# Production settings on top of the local inventory: the TLS-only bucket policy is ON, the
# server image is looked up as in production (newest debian-13-amd64-* of its publisher), and
# the secrets live in SSM Parameter Store, as the production example keeps them.
PRODUCTION_LIKE = {"aws_bucket_tls_only_policy": True, "stack_secrets_store": "ssm", **DEBIAN_IMAGES}

# The generated secrets of the local inventory (users alice and ci-bot), by their store name.
SECRET_NAMES = {"db_password", "db_app_password", "auth/alice", "auth/alice.salt", "auth/ci-bot", "auth/ci-bot.salt",
                "mlflow_kek_passphrase", "ssh_key", "ssh_key.pub"}


def _empty(directory):
    """What a fresh clone of the inventory has on this controller: nothing."""
    shutil.rmtree(directory)
    directory.mkdir(mode=0o700)


def _local_files(directory) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


def _changed_tasks(output: str) -> list[str]:
    """The names of the tasks that reported a change."""
    return [m.group(1) for m in re.finditer(r"^TASK \[(.*?)\][^\n]*\n(?:(?!TASK \[).*\n)*?changed: ", output, re.M)]


def _skipped_tasks(output: str) -> list[str]:
    """The names of the tasks that were skipped."""
    return [m.group(1) for m in re.finditer(r"^TASK \[(.*?)\][^\n]*\n(?:(?!TASK \[).*\n)*?skipping: ", output, re.M)]


def _timed(run, label: str):
    """Record the run's wall time; the tests check its outcome (a fixture only insists on the
    runs everything else needs)."""
    WALL_TIMES[label] = run.seconds
    return run


def _ok(run, label: str):
    assert run.returncode == 0, run.output[-5000:]
    return _timed(run, label)


def _succeeded(run):
    assert run.returncode == 0, run.output[-5000:]
    return run


def _network(aws) -> dict:
    """The stack's VPC (its id and DNS hostnames), its subnets by Name (the tags, as a dict,
    and whether an instance launched in each gets a public IP), its public route table, its
    internet gateway's tags and its two security groups (ingress rules with their
    descriptions, tags)."""
    ec2 = aws("ec2")
    [vpc] = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{STACK}-vpc"]}])["Vpcs"]
    hostnames = ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute="enableDnsHostnames")
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    tagged = [{**s, "Tags": {t["Key"]: t["Value"] for t in s.get("Tags", [])}} for s in subnets]
    [table] = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                                                 {"Name": "tag:Name", "Values": [f"{STACK}-public"]}])["RouteTables"]
    [igw] = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc["VpcId"]]}])["InternetGateways"]
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                                                   {"Name": "group-name", "Values": [f"{STACK}-web", f"{STACK}-db"]}])["SecurityGroups"]
    return {
        "vpc_id": vpc["VpcId"],
        "vpc_tags": {t["Key"]: t["Value"] for t in vpc.get("Tags", [])},
        "dns_hostnames": hostnames["EnableDnsHostnames"]["Value"],
        "subnets": {s["Tags"]["Name"]: {"SubnetId": s["SubnetId"], "Tags": s["Tags"],
                                        "MapPublicIpOnLaunch": s["MapPublicIpOnLaunch"]} for s in tagged},
        "route_table": {"id": table["RouteTableId"],
                        "routes": sorted((r.get("DestinationCidrBlock"), r.get("GatewayId")) for r in table["Routes"]),
                        "subnets": sorted(a["SubnetId"] for a in table["Associations"] if a.get("SubnetId"))},
        "igw_tags": {t["Key"]: t["Value"] for t in igw.get("Tags", [])},
        "groups": {g["GroupName"]: {"GroupId": g["GroupId"], "Tags": {t["Key"]: t["Value"] for t in g.get("Tags", [])},
                                    "ingress": sorted(_ingress(g, described=True), key=str)} for g in groups},
    }


def _iam(aws) -> dict:
    """The server's IAM role as the rerun converges it: tags, trust policy, description, managed
    policies attached, its inline policies' documents, and the roles its instance profile holds."""
    iam = aws("iam")
    role = iam.get_role(RoleName=SERVER)["Role"]
    return {
        "tags": {t["Key"]: t["Value"] for t in role.get("Tags", [])},
        "trust": role["AssumeRolePolicyDocument"],
        "description": role.get("Description"),
        "attached": [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=SERVER)["AttachedPolicies"]],
        "inline": {name: iam.get_role_policy(RoleName=SERVER, PolicyName=name)["PolicyDocument"]
                   for name in iam.list_role_policies(RoleName=SERVER)["PolicyNames"]},
        "profile_roles": [r["RoleName"] for r in
                          iam.get_instance_profile(InstanceProfileName=SERVER)["InstanceProfile"]["Roles"]],
    }


def _subnet_group(aws) -> dict:
    """The database's DB subnet group as the rerun converges it: description, subnets, tags."""
    rds = aws("rds")
    [group] = rds.describe_db_subnet_groups(DBSubnetGroupName=DATABASE)["DBSubnetGroups"]
    tags = rds.list_tags_for_resource(ResourceName=group["DBSubnetGroupArn"])["TagList"]
    return {
        "description": group["DBSubnetGroupDescription"],
        "subnets": sorted(s["SubnetIdentifier"] for s in group["Subnets"]),
        "tags": {t["Key"]: t["Value"] for t in tags},
    }


def _bucket(aws) -> dict:
    """The artifact bucket as the rerun converges it: versioning, default encryption, public
    access block, object ownership, policy, tags and lifecycle rules (None when unset)."""
    s3 = aws("s3")

    def read(call, key):
        try:
            return call(Bucket=BUCKET).get(key)
        except s3.exceptions.ClientError:
            return None

    policy = read(s3.get_bucket_policy, "Policy")
    return {
        "versioning": read(s3.get_bucket_versioning, "Status"),
        "encryption": read(s3.get_bucket_encryption, "ServerSideEncryptionConfiguration"),
        "public_access": read(s3.get_public_access_block, "PublicAccessBlockConfiguration"),
        "ownership": read(s3.get_bucket_ownership_controls, "OwnershipControls"),
        "policy": json.loads(policy) if policy else None,
        "tags": {t["Key"]: t["Value"] for t in read(s3.get_bucket_tagging, "TagSet") or []},
        "lifecycle": read(s3.get_bucket_lifecycle_configuration, "Rules"),
    }


def _instance(aws) -> dict:
    """The server instance as the rerun converges it in place: state, type, security groups,
    instance profile, metadata options and tags; and the tags of its volumes."""
    [instance] = server_instances(aws)
    volumes = aws("ec2").describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [instance["InstanceId"]]}])["Volumes"]
    return {
        "volume_tags": {v["VolumeId"]: {t["Key"]: t["Value"] for t in v.get("Tags", [])} for v in volumes},
        "id": instance["InstanceId"],
        "state": instance["State"]["Name"],
        "type": instance["InstanceType"],
        "groups": sorted(g["GroupId"] for g in instance["SecurityGroups"]),
        "profile": instance.get("IamInstanceProfile", {}).get("Arn"),
        "metadata": {k: instance["MetadataOptions"].get(k) for k in ("HttpEndpoint", "HttpTokens", "HttpPutResponseHopLimit")},
        "tags": {t["Key"]: t["Value"] for t in instance.get("Tags", [])},
    }


def _modify_requests(calls):
    return [c for c in calls if c.action == "ModifyDBInstance"]


def _destroy_everything(playbook, aws):
    """The teardown of a group: destroy with every option that deletes, then nothing is left."""
    run = playbook(
        "destroy.yml",
        {"confirm_destroy": STACK, "destroy_delete_bucket": True, "destroy_delete_automated_backups": True},
    )
    assert run.returncode == 0, run.output[-5000:]
    assert not any(stack_leftovers(aws).values()), stack_leftovers(aws)
    assert BUCKET not in [b["Name"] for b in aws("s3").list_buckets()["Buckets"]]
    assert aws("rds").describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"] == []


# One process of `make test-aws` (pytest-xdist, --dist loadgroup) runs every stack group of its
# own: the classes share that process's emulator, and test_stack_permissions.py reads the calls
# its recorder saw.
@pytest.mark.xdist_group("lifecycle")
class TestProvisionedStack:
    """One stack through the changes AWS makes without asking, and the ones the operator asks for."""

    @pytest.fixture(scope="class")
    @classmethod
    def stack(cls, reset_moto, playbook, aws, recorder):
        reset_moto()
        _empty(playbook.credentials_dir)
        rds = aws("rds")
        first_image = register_debian_image(aws, "debian-13-amd64-20250811-2201")
        recorder.start()
        try:
            first = _ok(playbook("provision.yml", PRODUCTION_LIKE), "provision (first run)")
        finally:
            recorder.stop()
        launched = server_instances(aws)
        stored = stored_secrets(aws)
        local_after_first = _local_files(playbook.credentials_dir)

        # Debian publishes a point release: a newer image is the newest match on the next run.
        newer_image = register_debian_image(aws, "debian-13-amd64-20251115-2297")
        second = _timed(playbook("provision.yml", PRODUCTION_LIKE), "provision (rerun, newer image published)")
        after_newer_image = server_instances(aws)
        address_before = aws("ec2").describe_addresses()["Addresses"]

        replace = _timed(playbook("provision.yml", {**PRODUCTION_LIKE, "aws_server_replace": True}), "provision (aws_server_replace)")
        after_replace = server_instances(aws, states=("pending", "running", "shutting-down", "stopping", "stopped", "terminated"))
        address_after = aws("ec2").describe_addresses()["Addresses"]

        # RDS applies a minor upgrade in the maintenance window (auto minor version upgrade).
        rds.modify_db_instance(DBInstanceIdentifier=DATABASE, EngineVersion="17.6", ApplyImmediately=True)
        recorder.start()
        try:
            rerun = _timed(playbook("provision.yml", PRODUCTION_LIKE), "provision (rerun after replace and minor upgrade)")
        finally:
            rerun_calls = recorder.stop()

        # Someone disassociates the Elastic IP (console, another tool): the next run associates it again.
        ec2 = aws("ec2")
        [associated] = ec2.describe_addresses()["Addresses"]
        ec2.disassociate_address(AssociationId=associated["AssociationId"])
        # The network and the server's IAM role are changed by hand too, where a rerun that finds
        # them as wanted skips their modules: DNS hostnames off, a public IP on launch in the
        # public subnet, a tag added to one database subnet and a stack tag taken from the other,
        # the default route deleted, PostgreSQL opened to the world in the web security group
        # (a rule's description changed is in test_network_verdict.py: moto's answer to its
        # repair lacks "Return"), a tag added to the database security group, a stack tag
        # taken from the internet gateway; a managed policy attached to the role, its inline
        # policy widened (an action added, the objects of the whole bucket), the role taken out
        # of its instance profile; a tag added to the DB subnet group and a stack tag taken
        # from it (its description and subnets are test_policy_and_subnet_group_verdict.py's:
        # moto 5.2.5's ModifyDBSubnetGroup drops the group from its store, by hand or by the
        # module's repair alike, where AWS modifies it).
        # The bucket and the instance too: versioning suspended, KMS instead of AES256, one
        # public access block off, object ownership back to the writer, the TLS-only policy
        # deleted, a tag added, the lifecycle rule deleted; the instance stopped, its metadata
        # hop limit raised (moto, unlike AWS, drops the options a request leaves out: all
        # five are sent), a tag added, a stack tag taken from its volumes.
        network_before, iam_before, subnet_group_before = _network(aws), _iam(aws), _subnet_group(aws)
        bucket_before, instance_before = _bucket(aws), _instance(aws)
        subnets = network_before["subnets"]
        db_a, db_b = sorted(name for name in subnets if "-db-" in name)
        stack_tag = next(key for key in subnets[db_b]["Tags"] if key != "Name")
        ec2.modify_vpc_attribute(VpcId=network_before["vpc_id"], EnableDnsHostnames={"Value": False})
        ec2.modify_subnet_attribute(SubnetId=subnets[f"{STACK}-public"]["SubnetId"], MapPublicIpOnLaunch={"Value": True})
        ec2.create_tags(Resources=[subnets[db_a]["SubnetId"]], Tags=[{"Key": "added-by-hand", "Value": "yes"}])
        ec2.delete_tags(Resources=[subnets[db_b]["SubnetId"]], Tags=[{"Key": stack_tag}])
        ec2.delete_route(RouteTableId=network_before["route_table"]["id"], DestinationCidrBlock="0.0.0.0/0")
        web, db = (network_before["groups"][f"{STACK}-{name}"]["GroupId"] for name in ("web", "db"))
        ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        ec2.create_tags(Resources=[db], Tags=[{"Key": "added-by-hand", "Value": "yes"}])
        [igw] = ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [network_before["vpc_id"]]}])["InternetGateways"]
        ec2.delete_tags(Resources=[igw["InternetGatewayId"]], Tags=[{"Key": stack_tag}])
        iam = aws("iam")
        by_hand = iam.create_policy(PolicyName="added-by-hand", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        iam.attach_role_policy(RoleName=SERVER, PolicyArn=by_hand["Policy"]["Arn"])
        widened = json.loads(json.dumps(iam_before["inline"][f"{SERVER}-artifacts"]))
        objects = next(st for st in widened["Statement"] if st["Sid"] == "ReadWriteArtifacts")
        objects["Action"].append("s3:PutObjectAcl")
        objects["Resource"] = f"arn:aws:s3:::{BUCKET}/*"
        iam.put_role_policy(RoleName=SERVER, PolicyName=f"{SERVER}-artifacts", PolicyDocument=json.dumps(widened))
        iam.remove_role_from_instance_profile(InstanceProfileName=SERVER, RoleName=SERVER)
        rds = aws("rds")
        subnet_group_arn = rds.describe_db_subnet_groups(DBSubnetGroupName=DATABASE)["DBSubnetGroups"][0]["DBSubnetGroupArn"]
        rds.add_tags_to_resource(ResourceName=subnet_group_arn, Tags=[{"Key": "added-by-hand", "Value": "yes"}])
        rds.remove_tags_from_resource(ResourceName=subnet_group_arn, TagKeys=[stack_tag])
        s3 = aws("s3")
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
        s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
        s3.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration={
            **bucket_before["public_access"], "RestrictPublicBuckets": False})
        s3.put_bucket_ownership_controls(Bucket=BUCKET, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
        s3.delete_bucket_policy(Bucket=BUCKET)
        s3.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": [
            {"Key": k, "Value": v} for k, v in {**bucket_before["tags"], "added-by-hand": "yes"}.items()]})
        s3.delete_bucket_lifecycle(Bucket=BUCKET)
        instance_id = instance_before["id"]
        ec2.stop_instances(InstanceIds=[instance_id])
        ec2.modify_instance_metadata_options(InstanceId=instance_id, HttpTokens="required", HttpPutResponseHopLimit=2,
                                             HttpEndpoint="enabled", HttpProtocolIpv6="disabled",
                                             InstanceMetadataTags="disabled")
        ec2.create_tags(Resources=[instance_id], Tags=[{"Key": "added-by-hand", "Value": "yes"}])
        ec2.delete_tags(Resources=list(instance_before["volume_tags"]), Tags=[{"Key": stack_tag}])
        network_drifted, iam_drifted, subnet_group_drifted = _network(aws), _iam(aws), _subnet_group(aws)
        bucket_drifted, instance_drifted = _bucket(aws), _instance(aws)
        recorder.start()  # the repairs' calls too, for test_stack_permissions.py
        try:
            reassociate = _timed(playbook("provision.yml", PRODUCTION_LIKE),
                                 "provision (address, network and IAM role changed outside Ansible)")
        finally:
            recorder.stop()
        address_reassociated = ec2.describe_addresses()["Addresses"]
        network_repaired, iam_repaired, subnet_group_repaired = _network(aws), _iam(aws), _subnet_group(aws)
        bucket_repaired, instance_repaired = _bucket(aws), _instance(aws)
        iam.delete_policy(PolicyArn=by_hand["Policy"]["Arn"])  # detached by the run; destroy knows nothing of it

        # A colleague's fresh clone of the inventory: nothing on this controller.
        _empty(playbook.credentials_dir)
        recorder.start()
        try:
            clone = _timed(playbook("provision.yml", PRODUCTION_LIKE), "provision (fresh clone, secrets in the parameter store)")
        finally:
            clone_calls = recorder.stop()

        yield {
            "stored": stored,
            "local_after_first": local_after_first,
            "clone": clone,
            "clone_calls": clone_calls,
            "stored_after_clone": stored_secrets(aws),
            "local_key_after_clone": (playbook.credentials_dir / "ssh_key").read_text(),
            "first": first,
            "second": second,
            "replace": replace,
            "rerun": rerun,
            "rerun_calls": rerun_calls,
            "first_image": first_image,
            "newer_image": newer_image,
            "launched": launched,
            "after_newer_image": after_newer_image,
            "after_replace": after_replace,
            "address_before": address_before,
            "address_after": address_after,
            "reassociate": reassociate,
            "address_reassociated": address_reassociated,
            "network_before": network_before,
            "network_drifted": network_drifted,
            "network_repaired": network_repaired,
            "iam_before": iam_before,
            "iam_drifted": iam_drifted,
            "iam_repaired": iam_repaired,
            "subnet_group": (subnet_group_before, subnet_group_drifted, subnet_group_repaired),
            "bucket": (bucket_before, bucket_drifted, bucket_repaired),
            "instance": (instance_before, instance_drifted, instance_repaired),
            "instances": server_instances(aws, states=("running",)),
            "groups": {g["GroupName"]: g for g in ec2.describe_security_groups()["SecurityGroups"]},
        }
        _destroy_everything(playbook, aws)

    # ---- what AWS changes between two runs ----

    def test_first_run_changes_and_rerun_changes_nothing(self, stack):
        assert stack["first"].recap["changed"] > 0
        assert _succeeded(stack["second"]).recap["changed"] == 0, stack["second"].output[-5000:]

    def test_a_newer_debian_image_does_not_replace_the_instance(self, stack):
        _succeeded(stack["second"])
        assert len(stack["launched"]) == 1
        assert stack["launched"][0]["ImageId"] == stack["first_image"]
        # The newer image was published before the rerun, yet the same instance runs on the old one.
        assert [(i["InstanceId"], i["ImageId"]) for i in stack["after_newer_image"]] == [
            (stack["launched"][0]["InstanceId"], stack["first_image"])
        ]

    def test_aws_server_replace_moves_the_address_to_a_new_instance_of_the_newest_image(self, stack):
        old_id = stack["launched"][0]["InstanceId"]
        assert _succeeded(stack["replace"]).recap["changed"] > 0
        states = {i["InstanceId"]: i["State"]["Name"] for i in stack["after_replace"]}
        assert states.pop(old_id) == "terminated"
        [(new_id, new_state)] = states.items()
        assert new_state == "running"
        new = next(i for i in stack["after_replace"] if i["InstanceId"] == new_id)
        assert new["ImageId"] == stack["newer_image"]
        [before], [after] = stack["address_before"], stack["address_after"]
        assert before["InstanceId"] == old_id
        assert (after["AllocationId"], after["PublicIp"]) == (before["AllocationId"], before["PublicIp"])
        assert after["InstanceId"] == new_id

    def test_rerun_after_replacement_and_a_minor_upgrade_by_aws_changes_nothing(self, stack, aws):
        assert _succeeded(stack["rerun"]).recap["changed"] == 0, stack["rerun"].output[-5000:]
        # No downgrade request (nor any other modification) went to RDS.
        assert _modify_requests(stack["rerun_calls"]) == []
        assert any(c.action == "DescribeDBInstances" for c in stack["rerun_calls"])  # the recorder saw the run
        assert aws("rds").describe_db_instances(DBInstanceIdentifier=DATABASE)["DBInstances"][0]["EngineVersion"] == "17.6"

    def test_an_address_disassociated_outside_ansible_is_associated_again(self, stack):
        assert _succeeded(stack["reassociate"]).recap["changed"] > 0
        [address] = stack["address_reassociated"]
        assert address["InstanceId"] == stack["instances"][0]["InstanceId"]
        assert address["AllocationId"] == stack["address_after"][0]["AllocationId"]

    def test_a_network_changed_outside_ansible_is_set_back(self, stack):
        before, drifted, repaired = stack["network_before"], stack["network_drifted"], stack["network_repaired"]
        default_routes = [route for route in before["route_table"]["routes"] if route[0] == "0.0.0.0/0"]
        assert before["dns_hostnames"] is True and [gw[:4] for _, gw in default_routes] == ["igw-"]
        # Each hand change landed: on the VPC, on each of the three subnets, on the route table,
        # on the gateway, on each security group.
        assert drifted["dns_hostnames"] is False
        assert [name for name in before["subnets"] if drifted["subnets"][name] == before["subnets"][name]] == []
        assert default_routes[0] not in drifted["route_table"]["routes"]
        assert drifted["igw_tags"] != before["igw_tags"]
        assert [name for name in before["groups"] if drifted["groups"][name] == before["groups"][name]] == []
        web = drifted["groups"][f"{STACK}-web"]["ingress"]
        assert ("tcp", 5432, 5432, "0.0.0.0/0", None) in web
        assert repaired == before

    def test_an_iam_role_changed_outside_ansible_is_set_back(self, stack):
        before, drifted, repaired = stack["iam_before"], stack["iam_drifted"], stack["iam_repaired"]
        assert before["attached"] == [] and before["profile_roles"] == [SERVER]
        assert drifted["attached"] == ["added-by-hand"] and drifted["profile_roles"] == []
        policy = f"{SERVER}-artifacts"
        assert list(before["inline"]) == list(drifted["inline"]) == [policy]
        assert "s3:PutObjectAcl" in json.dumps(drifted["inline"][policy])
        assert "s3:PutObjectAcl" not in json.dumps(before["inline"][policy])
        assert repaired == before

    def test_a_db_subnet_group_changed_outside_ansible_is_set_back(self, stack):
        before, drifted, repaired = stack["subnet_group"]
        assert len(before["subnets"]) == 2 and before["tags"]["Name"] == DATABASE
        # The hand change landed: a tag added, a stack tag taken.
        assert "added-by-hand" in drifted["tags"] and len(drifted["tags"]) == len(before["tags"])
        assert repaired == before

    def test_a_rerun_reads_the_role_policy_and_the_subnet_group_and_writes_neither(self, stack):
        """The reads (aws_iam_info, aws_database_info) find both as wanted: neither module runs,
        in the rerun after the minor upgrade nor in the one after the repairs above (the clone)."""
        not_run = {"aws_iam : Grant the role least-privilege access to the artifact prefix",
                   "aws_database : Create the DB subnet group"}
        assert not_run <= set(_skipped_tasks(_succeeded(stack["rerun"]).output)), _skipped_tasks(stack["rerun"].output)
        assert not_run <= set(_skipped_tasks(_succeeded(stack["clone"]).output)), _skipped_tasks(stack["clone"].output)
        # ... where the repair ran both.
        assert not_run <= set(_changed_tasks(_succeeded(stack["reassociate"]).output)), _changed_tasks(stack["reassociate"].output)

    def test_a_bucket_changed_outside_ansible_is_set_back(self, stack):
        before, drifted, repaired = stack["bucket"]
        assert before["versioning"] == "Enabled" and before["policy"] is not None and before["lifecycle"]
        # Each hand change landed, then every one was undone.
        assert [key for key in before if drifted[key] == before[key]] == []
        assert repaired == before

    def test_an_instance_changed_outside_ansible_is_set_back(self, stack):
        before, drifted, repaired = stack["instance"]
        assert before["state"] == "running" and before["metadata"]["HttpPutResponseHopLimit"] == 1
        assert (drifted["state"], drifted["metadata"]["HttpPutResponseHopLimit"]) == ("stopped", 2)
        assert drifted["tags"] == {**before["tags"], "added-by-hand": "yes"}
        assert before["volume_tags"] and [v for v, tags in before["volume_tags"].items()
                                          if drifted["volume_tags"][v] == tags] == []
        assert repaired == before

    # ---- the secrets, shared through the parameter store ----

    def test_secrets_are_generated_into_the_parameter_store_encrypted_and_tagged(self, stack):
        stored = stack["stored"]
        assert set(stored) == SECRET_NAMES
        assert {(p["type"], p["key_id"]) for p in stored.values()} == {("SecureString", "alias/aws/ssm")}
        assert all(p["tags"].get("Project") == STACK and p["tags"].get("ManagedBy") == "ansible" for p in stored.values())
        assert all(len(stored[n]["value"]) == 32 for n in ("db_password", "db_app_password", "auth/alice", "mlflow_kek_passphrase"))
        assert stored["ssh_key"]["value"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
        # The controller keeps only what ssh reads (the key pair) and non-secret state.
        assert stack["local_after_first"] == {"ssh_key", "ssh_key.pub", "db_password.applied", "known_hosts.instance"}

    def test_a_fresh_clone_finds_the_same_secrets_and_changes_nothing_in_aws(self, stack):
        run = _succeeded(stack["clone"])
        assert writes(stack["clone_calls"]) == [], writes(stack["clone_calls"])
        assert stack["stored_after_clone"] == stack["stored"]
        assert stack["local_key_after_clone"].strip() == stack["stored"]["ssh_key"]["value"].strip()
        # What changed is the clone's own copies of the key pair and of the non-secret state.
        assert set(_changed_tasks(run.output)) <= {
            "credentials : Create the credentials directories on the controller",
            "credentials : Write the stack's SSH key pair from the parameter store",
            "aws_database : Record the fingerprint of the password now applied to the database",
            "Remember which instance the known host key belongs to",
        }, _changed_tasks(run.output)

    def test_a_secret_missing_from_the_store_of_an_existing_stack_is_refused(self, stack, playbook, aws, recorder):
        """Generating it anew would lock out whoever holds the old one (here: user alice)."""
        ssm = aws("ssm")
        name = f"{SECRETS_PATH}/auth/alice"
        value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
        ssm.delete_parameter(Name=name)
        recorder.start()
        try:
            run = playbook("provision.yml", PRODUCTION_LIKE)
        finally:
            calls = recorder.stop()
            ssm.put_parameter(Name=name, Value=value, Type="SecureString", KeyId="alias/aws/ssm", Tags=tags)

        assert run.returncode != 0
        assert writes(calls) == [], writes(calls)
        message = " ".join(run.output.split())
        assert f"The stack already exists (database {DATABASE}, server {SERVER}), but SSM Parameter Store ({SECRETS_PATH}/" in message
        assert "lacks these of its secrets: auth/alice." in message
        assert "playbooks/rotate-credentials.yml -e rotate=all" in message
        assert "auth/alice" not in [c.params.get("Name", "").removeprefix(SECRETS_PATH + "/") for c in calls if c.action == "PutParameter"]

    def test_an_ssh_key_other_than_the_running_servers_is_refused(self, stack, playbook, recorder, tmp_path):
        """EC2 puts the key on the instance at launch only: another key would lock the run out."""
        key = tmp_path / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        recorder.start()
        try:
            run = playbook("provision.yml", {**PRODUCTION_LIKE, "stack_ssh_key_file": str(key)})
        finally:
            calls = recorder.stop()

        assert run.returncode != 0
        assert writes(calls) == [], writes(calls)
        message = " ".join(run.output.split())
        assert f"({SERVER}) was launched with key pair {SERVER}, whose public key differs from the SSH key of this run" in message
        assert "-e aws_server_replace=true" in message

    # ---- what the operator asks for ----

    def test_rotation_sends_the_password_alone_and_leaves_a_pending_class_change_pending(self, stack, playbook, aws, recorder):
        """moto applies every modification at once and never shows pending values: what can be
        shown is the request. The inventory's class (db.t4g.micro) differs from the running one,
        as after a class change made for the next maintenance window; the rotation's request
        must carry the password only, with ApplyImmediately=false, so it applies nothing else."""
        rds = aws("rds")
        rds.modify_db_instance(DBInstanceIdentifier=DATABASE, DBInstanceClass="db.t4g.small", EngineVersion="17.6", ApplyImmediately=True)
        recorder.start()
        try:
            run = playbook("rotate-credentials.yml", {**PRODUCTION_LIKE, "rotate": "db"}, "--tags", "database", "--limit", "localhost")
        finally:
            calls = recorder.stop()
        _ok(run, "rotate-credentials.yml -e rotate=db (--tags database)")

        modifies = _modify_requests(calls)
        with_password = [c for c in modifies if "MasterUserPassword" in c.params]
        assert len(with_password) == 1, [sorted(c.params) for c in modifies]
        [password_request] = with_password
        assert set(password_request.params) == {"Action", "Version", "DBInstanceIdentifier", "MasterUserPassword", "ApplyImmediately"}
        assert password_request.params["ApplyImmediately"] == "false"
        assert password_request.params["DBInstanceIdentifier"] == DATABASE
        # ... and it is the new password the rotation generated, kept in the parameter store.
        stored = stored_secrets(aws)
        assert password_request.params["MasterUserPassword"] == stored["db_password"]["value"]
        assert stored["db_password"]["value"] != stack["stored"]["db_password"]["value"]
        assert stored["auth/alice"]["value"] == stack["stored"]["auth/alice"]["value"]
        # The class change is the main convergence's, for the maintenance window, never immediate.
        assert all(c.params.get("ApplyImmediately") == "false" for c in modifies), [c.params.get("ApplyImmediately") for c in modifies]
        assert [c.params.get("DBInstanceClass") for c in modifies if "DBInstanceClass" in c.params] == ["db.t4g.micro"]
        # The play read the instance back after sending the password (the wait for it to apply).
        sent = calls.index(password_request)
        assert any(c.action == "DescribeDBInstances" for c in calls[sent + 1:])

    def test_major_upgrade_with_the_flag_snapshots_then_upgrades_now(self, stack, playbook, aws, recorder):
        rds = aws("rds")
        rds.modify_db_instance(DBInstanceIdentifier=DATABASE, EngineVersion="17.6", ApplyImmediately=True)
        recorder.start()
        try:
            run = playbook(
                "provision.yml",
                {**PRODUCTION_LIKE, "aws_database_engine_version": "18", "aws_database_allow_major_upgrade": True},
                "--tags",
                "database",
            )
        finally:
            calls = recorder.stop()
        _ok(run, "provision --tags database (major upgrade 17 -> 18)")

        snapshots = [c for c in calls if c.action == "CreateDBSnapshot"]
        upgrades = [c for c in _modify_requests(calls) if "EngineVersion" in c.params]
        assert len(snapshots) == 1 and len(upgrades) == 1, [c.action for c in calls]
        assert calls.index(snapshots[0]) < calls.index(upgrades[0])
        assert re.fullmatch(rf"{DATABASE}-pre-major-17-18-\d{{14}}", snapshots[0].params["DBSnapshotIdentifier"])
        snapshot = rds.describe_db_snapshots(DBSnapshotIdentifier=snapshots[0].params["DBSnapshotIdentifier"])["DBSnapshots"][0]
        assert (snapshot["Status"], snapshot["EngineVersion"]) == ("available", "17.6")
        assert {k: upgrades[0].params[k] for k in ("EngineVersion", "AllowMajorVersionUpgrade", "ApplyImmediately")} == {
            "EngineVersion": "18",
            "AllowMajorVersionUpgrade": "true",
            "ApplyImmediately": "true",
        }
        assert rds.describe_db_instances(DBInstanceIdentifier=DATABASE)["DBInstances"][0]["EngineVersion"] == "18"

    # ---- the resources, read back ----

    def test_bucket_is_versioned_encrypted_and_private(self, stack, aws):
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

    def test_bucket_policy_denies_requests_without_tls(self, stack, aws):
        policy = json.loads(aws("s3").get_bucket_policy(Bucket=BUCKET)["Policy"])
        assert len(policy["Statement"]) == 1
        statement = policy["Statement"][0]
        assert statement["Effect"] == "Deny"
        assert statement["Principal"] == "*"
        assert statement["Action"] == "s3:*"
        assert sorted(statement["Resource"]) == [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    def test_bucket_lifecycle_expires_noncurrent_versions(self, stack, aws):
        rules = aws("s3").get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
        assert len(rules) == 1
        assert rules[0]["Status"] == "Enabled"
        assert rules[0]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 90
        assert rules[0]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 7

    def test_web_security_group_opens_only_http_https_and_admin_ssh(self, stack):
        web = stack["groups"][f"{STACK}-web"]
        assert _ingress(web) == {
            ("tcp", 80, 80, WEB_CIDR),
            ("tcp", 443, 443, WEB_CIDR),
            ("tcp", 22, 22, ADMIN_CIDR),
        }

    def test_database_security_group_admits_postgresql_only_from_the_web_group(self, stack):
        web, db = stack["groups"][f"{STACK}-web"], stack["groups"][f"{STACK}-db"]
        assert _ingress(db) == {("tcp", 5432, 5432, web["GroupId"])}
        for group in stack["groups"].values():
            for _proto, low, high, source in _ingress(group):
                if source in ("0.0.0.0/0", "::/0") and low is not None:
                    assert not (low <= 22 <= high or low <= 5432 <= high), (group["GroupName"], low, high)

    def test_dedicated_vpc_has_a_public_subnet_and_two_private_database_subnets(self, stack, aws):
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

    def test_iam_role_is_trusted_by_ec2_and_scoped_to_the_artifact_prefix(self, stack, aws):
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

    def test_database_is_private_encrypted_backed_up_and_protected(self, stack, aws):
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

    def test_instance_requires_imdsv2_has_encrypted_root_profile_and_key(self, stack, aws):
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

    def test_exactly_one_elastic_ip_is_associated_with_the_instance(self, stack, aws):
        addresses = aws("ec2").describe_addresses()["Addresses"]
        assert len(addresses) == 1
        assert addresses[0]["InstanceId"] == stack["instances"][0]["InstanceId"]
        assert {"Key": "Name", "Value": SERVER} in addresses[0]["Tags"]

    def test_handover_gives_the_configuration_layer_the_stack_facts(self, stack, playbook, aws, tmp_path):
        run, facts = _handover(playbook, tmp_path, PRODUCTION_LIKE)
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
            # The stack's first run handed the same instance over: its login gets 20 s.
            "stack_server_handed_over_before": True,
        }


def _ingress(group, described=False):
    """(protocol, from, to, source) for every ingress permission of a security group, and each
    rule's description after them if described."""
    rules = set()
    for perm in group["IpPermissions"]:
        key = (perm["IpProtocol"], perm.get("FromPort"), perm.get("ToPort"))
        for grants, source in (("IpRanges", "CidrIp"), ("Ipv6Ranges", "CidrIpv6"), ("UserIdGroupPairs", "GroupId")):
            rules.update((*key, grant[source], *([grant.get("Description")] if described else []))
                         for grant in perm.get(grants, []))
    return rules


def _handover(playbook, tmp_path, extra_vars=None):
    """Run only the hand-over (--tags configure) and return the facts the server host got."""
    dump = tmp_path / "handover.json"
    run = playbook(
        "../tests/aws/handover.yml",
        # Local connection instead of the container: only the facts are under test here.
        {"handover_dump": str(dump), "aws_server_host_vars": {"ansible_connection": "local"}, **(extra_vars or {})},
        "--tags",
        "configure",
    )
    return run, (json.loads(dump.read_text()) if dump.exists() else None)


def _bucket_layer(playbook, extra_vars):
    """provision.yml --tags bucket where nothing else exists: the bucket role runs, then the
    hand-over (tagged always) stops the run, saying the stack is not provisioned."""
    run = playbook("provision.yml", extra_vars, "--tags", "bucket")
    assert "Run playbooks/provision.yml without --tags first." in run.output, run.output[-5000:]
    assert re.search(r"^localhost +: ok=\d+ +changed=\d+ +unreachable=0 +failed=1 ", run.output, re.M), run.output[-3000:]
    return run


@pytest.mark.xdist_group("no-stack")
class TestNoStack:
    @pytest.fixture(scope="class")
    @classmethod
    def empty(cls, reset_moto):
        reset_moto()

    def test_an_iam_role_of_the_same_name_serving_another_region_is_refused(self, empty, playbook, aws, recorder):
        """The same stack_name in a second region: IAM is global, the role is the first one's."""
        iam = aws("iam")
        trust = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
        iam.create_role(RoleName=SERVER, AssumeRolePolicyDocument=trust,
                        Tags=[{"Key": "Project", "Value": STACK}, {"Key": "StackRegion", "Value": "eu-west-1"}])
        recorder.start()
        try:
            run = playbook("provision.yml")
        finally:
            calls = recorder.stop()

        assert run.returncode != 0
        message = " ".join(run.output.split())
        assert f"IAM role {SERVER} already exists in this account (IAM names are global) with tags Project={STACK}, StackRegion=eu-west-1" in message
        assert "choose another stack_name for this region" in message
        assert [w for w in writes(calls) if w.startswith("iam ")] == []
        assert iam.list_role_tags(RoleName=SERVER)["Tags"] == [{"Key": "Project", "Value": STACK}, {"Key": "StackRegion", "Value": "eu-west-1"}]

    def test_an_existing_bucket_of_someone_else_is_used_as_it_is_unless_adopted(self, empty, playbook, aws, recorder):
        """A bucket another team made (its policy, its tags, no versioning) is not the stack's to converge."""
        s3 = aws("s3")
        s3.create_bucket(Bucket=BUCKET)
        theirs = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Sid": "TheirReader", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/reports/*"}]})
        s3.put_bucket_policy(Bucket=BUCKET, Policy=theirs)
        s3.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": [{"Key": "Team", "Value": "analytics"}]})
        recorder.start()
        try:
            run = _bucket_layer(playbook, {"aws_bucket_tls_only_policy": True})
        finally:
            calls = recorder.stop()
        assert [t for t in _changed_tasks(run.output) if t.startswith("aws_bucket")] == []
        assert [w for w in writes(calls) if w.startswith("s3 ")] == []
        assert s3.get_bucket_policy(Bucket=BUCKET)["Policy"] == theirs
        assert s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"] == [{"Key": "Team", "Value": "analytics"}]
        message = " ".join(run.output.split())
        assert f"Bucket {BUCKET} exists without the tags Project={STACK} of this stack: it is used as it is" in message
        assert "aws_bucket_adopt_existing: true" in message

        adopted = _bucket_layer(playbook, {"aws_bucket_tls_only_policy": True, "aws_bucket_adopt_existing": True})
        assert "aws_bucket : Create the private, versioned, encrypted artifact bucket" in _changed_tasks(adopted.output)
        policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
        assert [st["Sid"] for st in policy["Statement"]] == ["DenyInsecureTransport"]
        tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
        assert tags["Project"] == STACK and "Team" not in tags
        assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
        # Adopted, it is the stack's now: a rerun without the switch converges it as usual.
        rerun = _bucket_layer(playbook, {"aws_bucket_tls_only_policy": True})
        assert [t for t in _changed_tasks(rerun.output) if t.startswith("aws_bucket")] == []
        assert "it is used as it is" not in rerun.output

    def test_a_new_bucket_name_for_a_stack_that_has_a_bucket_is_refused(self, empty, playbook, aws, recorder):
        """MLflow's runs point at their artifacts in the bucket they were logged to: renaming the
        stack's bucket in the inventory would lose them, so the run stops before creating one."""
        s3 = aws("s3")
        first = f"{STACK}-first-artifacts"
        s3.create_bucket(Bucket=first)
        s3.put_bucket_tagging(Bucket=first, Tagging={"TagSet": [{"Key": "Project", "Value": STACK}]})
        renamed = f"{STACK}-renamed-artifacts"
        recorder.start()
        try:
            run = playbook("provision.yml", {"stack_artifact_bucket": renamed})
        finally:
            calls = recorder.stop()
        assert run.returncode != 0
        message = " ".join(run.output.split())
        assert f"stack_artifact_bucket={renamed} does not exist, but this stack already keeps its artifacts in" in message
        assert first in message and "set stack_artifact_bucket back to it" in message
        assert [w for w in writes(calls) if w.startswith("s3 ")] == []
        assert renamed not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        s3.delete_bucket_tagging(Bucket=first)

    def test_handover_fails_clearly_when_the_stack_does_not_exist(self, empty, playbook, tmp_path):
        run, facts = _handover(playbook, tmp_path)
        assert run.returncode != 0
        assert facts is None
        assert "Stack mlflow-local is not (completely) provisioned" in run.output


# ---- a stack whose tags change, then torn down while AWS still cleans up ----

TAGS_BEFORE = {"Environment": "test", "Team": "ml"}
TAGS_AFTER = {"Environment": "staging", "CostCenter": "4242"}  # Team removed, Environment changed, CostCenter added
# An instance type offered in two zones of us-east-1 only (c and f in moto's data, as on AWS):
# the network must land there. Not in the sizing table, so MLflow's workers are set by hand.
ZONE_LIMITED = {"aws_server_instance_type": "trn1.2xlarge", "mlflow_workers": 1}
# How long the database's network interface outlives the database (minutes on AWS).
LINGER_SECONDS = 15


def _resource_ids(aws) -> dict[str, list[str]]:
    ec2, rds = aws("ec2"), aws("rds")
    return {
        "vpcs": sorted(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]),
        "subnets": sorted(s["SubnetId"] for s in ec2.describe_subnets()["Subnets"] if not s["DefaultForAz"]),
        "route_tables": sorted(t["RouteTableId"] for t in ec2.describe_route_tables()["RouteTables"]),
        "internet_gateways": sorted(g["InternetGatewayId"] for g in ec2.describe_internet_gateways()["InternetGateways"]),
        "security_groups": sorted(g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]),
        "instances": sorted(i["InstanceId"] for i in server_instances(aws)),
        "addresses": sorted(a["AllocationId"] for a in ec2.describe_addresses()["Addresses"]),
        "key_pairs": sorted(k["KeyPairId"] for k in ec2.describe_key_pairs()["KeyPairs"]),
        "db_instances": sorted(d["DbiResourceId"] for d in rds.describe_db_instances()["DBInstances"]),
        "db_subnet_groups": sorted(g["DBSubnetGroupArn"] for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]),
    }


def _stack_tags(aws) -> dict[str, dict[str, str]]:
    """The tags of every tagged resource of the stack, by resource (Name tags left out)."""
    ec2, rds, iam, s3 = aws("ec2"), aws("rds"), aws("iam"), aws("s3")

    def plain(tags, key="Key", value="Value"):
        return {t[key]: t[value] for t in tags if t[key] != "Name"}

    tags = {}
    for t in ec2.describe_tags(Filters=[{"Name": "key", "Values": ["Project"]}])["Tags"]:
        kind = "elastic-ip" if t["ResourceType"] == "vpc-elastic-ip" else t["ResourceType"]  # moto's name for it
        tags[f"{kind} {t['ResourceId']}"] = plain(
            ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [t["ResourceId"]]}])["Tags"]
        )
    for db in rds.describe_db_instances()["DBInstances"]:
        tags[f"db {db['DBInstanceIdentifier']}"] = plain(rds.list_tags_for_resource(ResourceName=db["DBInstanceArn"])["TagList"])
    for group in rds.describe_db_subnet_groups()["DBSubnetGroups"]:
        tags[f"db-subnet-group {group['DBSubnetGroupName']}"] = plain(
            rds.list_tags_for_resource(ResourceName=group["DBSubnetGroupArn"])["TagList"]
        )
    role = plain(iam.list_role_tags(RoleName=SERVER)["Tags"])
    # IAM names are global: the role also names the region it serves, and the one artifact
    # location it grants (a change of it is refused: tests/aws/test_bad_input.py).
    assert role.pop("StackRegion") == REGION
    assert role.pop("ArtifactLocation") == f"{BUCKET}/{PREFIX}"
    tags[f"role {SERVER}"] = role
    tags[f"bucket {BUCKET}"] = plain(s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"])
    return tags


@pytest.mark.xdist_group("lifecycle")
class TestDestroy:
    """Tags change in the inventory, then the stack is torn down while AWS plays its part:
    it disassociates the Elastic IP when the instance terminates, keeps a network interface
    in the database subnet for a while, and refuses DeleteVpc (DependencyViolation) while
    something it still holds is in the VPC."""

    @pytest.fixture(scope="class")
    @classmethod
    def world(cls, reset_moto, playbook, aws, recorder, tmp_path_factory):
        reset_moto()
        register_debian_image(aws, "debian-13-amd64-20250811-2201")
        base = {**DEBIAN_IMAGES, **ZONE_LIMITED}
        first = _ok(playbook("provision.yml", {**base, "stack_tags": TAGS_BEFORE}), "provision (tags before)")
        ids_before, tags_before = _resource_ids(aws), _stack_tags(aws)

        # A clone without the credentials directory (files store) against the existing stack.
        recorder.start()
        try:
            lost = _timed(playbook("provision.yml", {**base, "stack_tags": TAGS_BEFORE,
                                                     "stack_credentials_dir": str(tmp_path_factory.mktemp("fresh-clone"))}),
                          "provision (credentials directory lost: refused)")
        finally:
            lost_calls = recorder.stop()

        retag = _timed(playbook("provision.yml", {**base, "stack_tags": TAGS_AFTER}), "provision (stack_tags changed)")
        ids_after, tags_after = _resource_ids(aws), _stack_tags(aws)
        subnet_azs = sorted(s["AvailabilityZone"] for s in aws("ec2").describe_subnets()["Subnets"] if not s["DefaultForAz"])

        # The team moves the secrets of the running stack from the files to the parameter store.
        base["stack_secrets_store"] = "ssm"
        moved = _timed(playbook("provision.yml", {**base, "stack_tags": TAGS_AFTER}), "provision (files imported into ssm)")
        local = {n: (playbook.credentials_dir / n).read_text() for n in SECRET_NAMES}
        imported = stored_secrets(aws)

        aws_side = _AwsCleaningUp(aws, recorder)
        recorder.start()
        aws_side.start()
        try:
            destroy = playbook("destroy.yml", {**base, "stack_tags": TAGS_AFTER, "confirm_destroy": STACK})
        finally:
            destroy_calls = recorder.stop()
            aws_side.stop()
        _timed(destroy, "destroy (while AWS cleans up)")
        rds = aws("rds")
        leftovers = stack_leftovers(aws)
        kept = {
            "secrets": sorted(stored_secrets(aws)),
            "buckets": [b["Name"] for b in aws("s3").list_buckets()["Buckets"]],
            "manual_snapshots": [s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]],
            "automated_backups": [
                (b["DBInstanceIdentifier"], b["Status"]) for b in rds.describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"]
            ],
        }
        destroy_again = _timed(playbook("destroy.yml", {**base, "confirm_destroy": STACK}), "destroy (rerun, no-op)")

        # The bucket holds the stack's artifacts (versions and a delete marker) and, under
        # another prefix, another team's object (a bucket shared with it).
        s3 = aws("s3")
        for body in (b"v1", b"v2"):
            s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/1/run/artifacts/model.pkl", Body=body)
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/1/run/artifacts/gone.txt", Body=b"x")
        s3.delete_object(Bucket=BUCKET, Key=f"{PREFIX}/1/run/artifacts/gone.txt")
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}-reports/keep.txt", Body=b"not under mlflow/")
        s3.put_object(Bucket=BUCKET, Key="other-team/keep.txt", Body=b"theirs")
        recorder.start()
        try:
            delete_bucket = _timed(
                playbook("destroy.yml", {**base, "confirm_destroy": STACK, "destroy_delete_bucket": True, "destroy_delete_secrets": True}),
                "destroy (destroy_delete_bucket, destroy_delete_secrets)"
            )
            versions = s3.list_object_versions(Bucket=BUCKET)
            left_in_bucket = sorted(v["Key"] for v in versions.get("Versions", []) + versions.get("DeleteMarkers", []))
            delete_all = _timed(playbook("destroy.yml", {**base, "confirm_destroy": STACK, "destroy_delete_all_artifacts": True}),
                                "destroy (destroy_delete_all_artifacts)")
        finally:
            recorder.stop()
        return {
            "first": first,
            "lost": lost,
            "lost_calls": lost_calls,
            "moved": moved,
            "local": local,
            "imported": imported,
            "retag": retag,
            "ids_before": ids_before,
            "ids_after": ids_after,
            "tags_before": tags_before,
            "tags_after": tags_after,
            "subnet_azs": subnet_azs,
            "aws_side": aws_side,
            "destroy": destroy,
            "destroy_calls": destroy_calls,
            "leftovers": leftovers,
            "kept": kept,
            "destroy_again": destroy_again,
            "delete_bucket": delete_bucket,
            "left_in_bucket": left_in_bucket,
            "delete_all": delete_all,
            "buckets_at_the_end": [b["Name"] for b in aws("s3").list_buckets()["Buckets"]],
            "secrets_at_the_end": sorted(stored_secrets(aws)),
        }

    def test_the_network_lands_in_zones_offering_the_instance_type(self, world):
        assert world["subnet_azs"] == ["us-east-1c", "us-east-1c", "us-east-1f"]

    def test_a_lost_credentials_directory_is_refused_before_any_change(self, world):
        """The files store is one controller's: a clone without it must not generate new secrets."""
        assert world["lost"].returncode != 0
        assert writes(world["lost_calls"]) == [], writes(world["lost_calls"])
        message = " ".join(world["lost"].output.split())
        assert f"The stack already exists (database {DATABASE}, server {SERVER}), but the credentials directory" in message
        assert "set stack_secrets_store: ssm" in message

    def test_switching_to_the_parameter_store_imports_the_files_unchanged(self, world):
        assert _succeeded(world["moved"]).recap["changed"] > 0
        assert set(world["imported"]) == SECRET_NAMES
        assert {n: p["value"].strip() for n, p in world["imported"].items()} == {n: v.strip() for n, v in world["local"].items()}

    def test_changing_stack_tags_retags_every_resource_and_creates_nothing(self, world):
        assert _succeeded(world["retag"]).recap["changed"] > 0
        assert world["ids_after"] == world["ids_before"]
        assert world["tags_before"].keys() == world["tags_after"].keys()
        expected_before = {"Project": STACK, "ManagedBy": "ansible", **TAGS_BEFORE}
        expected_after = {"Project": STACK, "ManagedBy": "ansible", **TAGS_AFTER}
        assert {k: v for k, v in world["tags_before"].items() if v != expected_before} == {}
        assert {k: v for k, v in world["tags_after"].items() if v != expected_after} == {}
        kinds = {name.split()[0] for name in world["tags_after"]}
        assert {"vpc", "subnet", "route-table", "internet-gateway", "security-group", "instance", "volume", "elastic-ip",
                "key-pair", "db", "db-subnet-group", "role", "bucket"} <= kinds, kinds

    def test_destroy_releases_the_address_aws_disassociated_on_termination(self, world):
        _succeeded(world["destroy"])
        assert world["aws_side"].disassociated, "the instance never terminated with its address associated"
        assert world["leftovers"]["addresses"] == []

    def test_destroy_waits_for_lingering_network_interfaces(self, world):
        _succeeded(world["destroy"])
        side = world["aws_side"]
        assert side.eni_deleted_at is not None, "the lingering interface was never deleted"
        # When the interface went, its subnet and security group were still there: destroy waited.
        assert side.eni_dependencies_present_at_deletion == {"subnet": True, "security_group": True}
        assert world["destroy"].seconds > side.eni_deleted_at

    def test_destroy_retries_a_vpc_deletion_refused_with_dependency_violation(self, world):
        _succeeded(world["destroy"])
        side = world["aws_side"]
        assert side.blocker_deleted_at is not None, "the subnet holding the VPC was never deleted"
        assert side.vpc_present_when_blocker_deleted
        refused = [c for c in world["destroy_calls"] if c.action == "DeleteVpc"]
        assert len(refused) >= 2, "DeleteVpc was not retried"
        assert world["leftovers"]["vpcs"] == []

    def test_destroy_removes_everything_tagged_with_the_stack_and_reruns_as_no_op(self, world):
        assert _succeeded(world["destroy"]).recap["changed"] > 0
        assert _succeeded(world["destroy_again"]).recap["changed"] == 0, world["destroy_again"].output[-5000:]
        assert not any(world["leftovers"].values()), world["leftovers"]
        assert BUCKET in world["kept"]["buckets"]

    def test_destroy_keeps_the_final_snapshot_and_the_automated_backups_and_says_what_they_cost(self, world):
        _succeeded(world["destroy"])
        [delete] = [c for c in world["destroy_calls"] if c.action == "DeleteDBInstance"]
        assert delete.params["DeleteAutomatedBackups"] == "false"
        snapshot = delete.params["FinalDBSnapshotIdentifier"]
        assert re.fullmatch(rf"{DATABASE}-final-\d{{14}}", snapshot)
        assert world["kept"]["manual_snapshots"] == [snapshot]
        assert world["kept"]["automated_backups"] == [(DATABASE, "retained")]
        message = " ".join(world["destroy"].output.split())
        assert f"RDS final snapshot {snapshot}" in message
        assert f"Automated backups of {DATABASE} retained for their retention period (7 days)" in message
        assert "billed per GB-month" in message
        assert f"Artifact bucket {BUCKET}" in message
        # The secrets stay with the snapshot whose master password they hold, until asked.
        assert world["kept"]["secrets"] == sorted(SECRET_NAMES)
        assert f"Secrets of the stack in SSM Parameter Store under {SECRETS_PATH} (standard parameters, no charge;" in message

    def test_destroy_delete_bucket_deletes_only_the_stacks_prefix_and_keeps_a_shared_bucket(self, world):
        assert _succeeded(world["delete_bucket"]).recap["changed"] > 0
        # Every version and the delete marker under mlflow/ went; the look-alike prefix did not.
        assert world["left_in_bucket"] == [f"{PREFIX}-reports/keep.txt", "other-team/keep.txt"]
        message = " ".join(world["delete_bucket"].output.split())
        assert (f"Artifact bucket {BUCKET} kept: it holds objects outside the prefix {PREFIX}/ of the stack "
                f"(the artifacts of the stack under {PREFIX}/ are deleted: 4 object versions in this run)") in message
        assert "-e destroy_delete_all_artifacts=true" in message
        assert world["secrets_at_the_end"] == []

    def test_destroy_delete_all_artifacts_empties_and_deletes_the_bucket(self, world):
        assert _succeeded(world["delete_all"]).recap["changed"] > 0
        assert BUCKET not in world["buckets_at_the_end"]
        assert f"Artifact bucket {BUCKET} kept" not in world["delete_all"].output


class _AwsCleaningUp:
    """Plays AWS's part during a destroy, where moto would not:

    - terminating an instance disassociates its Elastic IP (moto keeps the association);
    - the database's network interface outlives the database for a while (here LINGER_SECONDS
      after the database is gone; on AWS minutes), and AWS refuses to delete its subnet and
      security group meanwhile (moto would not refuse: the destroy must wait by itself);
    - something AWS still holds in the VPC makes DeleteVpc fail with DependencyViolation (here a
      subnet, which moto does count as a dependency), gone a moment after the first refusal.
    """

    def __init__(self, aws, recorder):
        self.aws = aws
        self.recorder = recorder
        ec2 = aws("ec2")
        self.vpc_id = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{STACK}-vpc"]}])["Vpcs"][0]["VpcId"]
        db_group = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [f"{STACK}-db"]}])["SecurityGroups"][0]
        self.db_group_id = db_group["GroupId"]
        db_subnets = aws("rds").describe_db_subnet_groups(DBSubnetGroupName=DATABASE)["DBSubnetGroups"][0]["Subnets"]
        self.db_subnet_id = db_subnets[0]["SubnetIdentifier"]
        self.eni_id = ec2.create_network_interface(
            SubnetId=self.db_subnet_id, Groups=[self.db_group_id], Description="RDSNetworkInterface"
        )["NetworkInterface"]["NetworkInterfaceId"]
        self.blocker_id = ec2.create_subnet(VpcId=self.vpc_id, CidrBlock="10.42.200.0/24")["Subnet"]["SubnetId"]
        self.disassociated = []
        self.eni_deleted_at = None
        self.eni_dependencies_present_at_deletion = None
        self.blocker_deleted_at = None
        self.vpc_present_when_blocker_deleted = None
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=f, daemon=True) for f in (self._addresses, self._interface, self._blocker)]

    def start(self):
        self._started = time.monotonic()
        for thread in self._threads:
            thread.start()

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _addresses(self):
        ec2 = self.aws("ec2")
        while not self._stop.wait(0.1):
            for address in ec2.describe_addresses()["Addresses"]:
                if "AssociationId" not in address:
                    continue
                state = ec2.describe_instances(InstanceIds=[address["InstanceId"]])["Reservations"][0]["Instances"][0]["State"]["Name"]
                if state in ("shutting-down", "terminated"):
                    ec2.disassociate_address(AssociationId=address["AssociationId"])
                    self.disassociated.append(address["PublicIp"])

    def _interface(self):
        ec2, rds = self.aws("ec2"), self.aws("rds")
        while rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": [DATABASE]}])["DBInstances"]:
            if self._stop.wait(0.2):
                return
        if self._stop.wait(LINGER_SECONDS):
            return
        subnets = {s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]}
        groups = {g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]}
        self.eni_dependencies_present_at_deletion = {
            "subnet": self.db_subnet_id in subnets,
            "security_group": self.db_group_id in groups,
        }
        ec2.delete_network_interface(NetworkInterfaceId=self.eni_id)
        self.eni_deleted_at = time.monotonic() - self._started

    def _blocker(self):
        ec2 = self.aws("ec2")
        # The blocker goes once the destroy's first DeleteVpc has been refused (seen in the
        # recording): the destroy must retry. Not on a timer: a timer that starts when the
        # stack's subnets are gone raced the destroy on a loaded machine (the blocker went
        # before the first DeleteVpc, which then passed at once: nothing was retried).
        while not self._stop.wait(1):
            if any(call.action == "DeleteVpc" for call in self.recorder.sent()):
                break
        if self._stop.wait(1):
            return
        self.vpc_present_when_blocker_deleted = bool(ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [self.vpc_id]}])["Vpcs"])
        ec2.delete_subnet(SubnetId=self.blocker_id)
        self.blocker_deleted_at = time.monotonic() - self._started
