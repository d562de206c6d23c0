"""Helpers for the AWS layer tests: run the real playbooks against moto, read back with boto3."""

from __future__ import annotations

import base64
import collections
import json
import os
import re
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = REPO / ".venv" / "bin" / "ansible-playbook"
INVENTORY = REPO / "inventories" / "local"
REGION = "us-east-1"
STACK = "mlflow-local"  # stack_name of inventories/local
BUCKET = "mlflow-local-artifacts"
PREFIX = "mlflow"  # stack_artifact_prefix of inventories/local
SERVER = f"{STACK}-server"
DATABASE = f"{STACK}-db"

# The emulator's account: images a test registers are owned by it, as Debian's are by
# Debian's account on AWS. Point the AMI lookup at them to play Debian's part.
EMULATOR_ACCOUNT = "123456789012"
DEBIAN_IMAGES = {"aws_server_ami_owner": EMULATOR_ACCOUNT, "aws_server_ami_name_pattern": "debian-13-amd64-*"}

# Wall times of the runs worth reporting, printed at the end of the session.
WALL_TIMES: dict[str, float] = {}
# Wall time of each test group (module, or class within it: setup, tests and teardown).
# Each test group's phases (setup, call, teardown) as (start, stop) times: under xdist a group's
# tests may run on both workers at once, so its wall time is the union of these, not their sum.
GROUP_SPANS: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)


def covered_seconds(spans: list[tuple[float, float]]) -> float:
    """The length of the union of time intervals: overlapping ones counted once."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(spans):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total

_RECAP = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@dataclass
class Run:
    returncode: int
    output: str
    seconds: float

    @property
    def recap(self) -> dict[str, int]:
        match = _RECAP.findall(self.output)
        assert match, f"no PLAY RECAP for localhost in:\n{self.output[-3000:]}"
        ok, changed, unreachable, failed = (int(x) for x in match[-1])
        return {"ok": ok, "changed": changed, "unreachable": unreachable, "failed": failed}


# How long a call to moto's own API (reset, recorder) may wait for its reply. `make test` runs
# this layer in the idle CPU class beside the e2e step, whose load can hold the emulator off the
# CPU for long stretches: in CI a reset once took more than 10 s. boto3 waits 60 s per read.
MOTO_API_TIMEOUT = 120


def moto_api(moto_endpoint: str, path: str, method: str = "GET") -> bytes:
    """One call to moto's own API (/moto-api/<path>); returns the reply's body."""
    req = urllib.request.Request(f"{moto_endpoint}/moto-api/{path}", method=method)
    with urllib.request.urlopen(req, timeout=MOTO_API_TIMEOUT) as resp:
        return resp.read()


@pytest.fixture(scope="session")
def aws(moto_endpoint):
    """boto3 clients bound to the emulator."""

    def client(service: str):
        return boto3.client(
            service,
            endpoint_url=moto_endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return client


@pytest.fixture(scope="session")
def reset_moto(moto_endpoint):
    """Forget every resource the emulator holds."""

    def reset():
        moto_api(moto_endpoint, "reset", method="POST")

    return reset


def register_debian_image(aws, name: str) -> str:
    """Publish an image the way Debian does on every point release (owned by the emulator's
    account here); the newest registration is the newest image."""
    return aws("ec2").register_image(Name=name, Description=f"Debian 13 (trixie) {name}")["ImageId"]


def server_instances(aws, states=("pending", "running", "stopping", "stopped")) -> list[dict]:
    """The instances tagged as the stack's server, in the given states."""
    reservations = aws("ec2").describe_instances(
        Filters=[{"Name": "tag:Name", "Values": [SERVER]}, {"Name": "instance-state-name", "Values": list(states)}]
    )["Reservations"]
    return [i for r in reservations for i in r["Instances"]]


def stack_leftovers(aws) -> dict[str, list]:
    """Everything a stack can leave behind in the emulator (the artifact bucket and the RDS
    snapshots and backups are checked by the tests that keep or delete them). Each resource
    type is listed itself: moto's DescribeTags still lists the tags of deleted resources."""
    ec2, rds, iam = aws("ec2"), aws("rds"), aws("iam")
    default_vpcs = {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"]}
    return {
        "instances": [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
                      if i["State"]["Name"] != "terminated"],
        "addresses": [a["PublicIp"] for a in ec2.describe_addresses()["Addresses"]],
        "key_pairs": [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]],
        "network_interfaces": [n["NetworkInterfaceId"] for n in ec2.describe_network_interfaces()["NetworkInterfaces"]
                               if n.get("VpcId") not in default_vpcs],
        "security_groups": [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"] != "default"],
        "subnets": [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"] if s["VpcId"] not in default_vpcs],
        "route_tables": [t["RouteTableId"] for t in ec2.describe_route_tables()["RouteTables"] if t["VpcId"] not in default_vpcs],
        "internet_gateways": [g["InternetGatewayId"] for g in ec2.describe_internet_gateways()["InternetGateways"]
                              if not {a["VpcId"] for a in g.get("Attachments", [])} & default_vpcs],
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]],
        "volumes": [v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]],
        "db_instances": [d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]],
        "db_subnet_groups": [g["DBSubnetGroupName"] for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]],
        "roles": [r["RoleName"] for r in iam.list_roles()["Roles"]],
        "instance_profiles": [p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]],
    }


@dataclass
class Call:
    """One request the emulator received, as moto's recorder saw it."""

    service: str
    method: str
    path: str
    action: str  # the Action of query APIs (EC2, RDS, IAM, ...), "" for REST calls (S3)
    params: dict[str, str]
    agent: str = ""  # the User-Agent: Ansible's AWS modules name themselves in it


def _parse_recorded(entry: dict) -> Call:
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    url = urllib.parse.urlsplit(entry["url"])
    params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
    content_type = next((v for k, v in entry["headers"].items() if k.lower() == "content-type"), "")
    if "x-www-form-urlencoded" in content_type:
        params.update(urllib.parse.parse_qsl(body, keep_blank_values=True))
    authorization = next((v for k, v in entry["headers"].items() if k.lower() == "authorization"), "")
    scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", authorization)
    agent = next((v for k, v in entry["headers"].items() if k.lower() == "user-agent"), "")
    # JSON protocol APIs (SSM, KMS) name the action in a header: "AmazonSSM.PutParameter".
    target = next((v for k, v in entry["headers"].items() if k.lower() == "x-amz-target"), "")
    if target and not params.get("Action"):
        params["Action"] = target.rpartition(".")[2]
        if "json" in content_type:
            params.update({k: json.dumps(v) if not isinstance(v, str) else v for k, v in json.loads(body or "{}").items()})
    return Call(scope.group(1) if scope else "", entry["method"], url.path, params.get("Action", ""), params, agent)


READ_ONLY = re.compile(r"^(Describe|List|Get)")


def writes(calls) -> list[str]:
    """The recorded calls that change something (not a query API read, not an S3 GET/HEAD)."""
    return [f"{c.service} {c.method} {c.action or c.path}" for c in calls
            if not (READ_ONLY.match(c.action) or (not c.action and c.method in ("GET", "HEAD")))]


SECRETS_PATH = f"/{STACK}/secrets"  # the parameter path of the stack's secrets (stack_secrets_store: ssm)


def stored_secrets(aws) -> dict[str, dict]:
    """The stack's parameters in the parameter store, by their name under SECRETS_PATH: the
    decrypted value, the type, the KMS key, the tags."""
    ssm = aws("ssm")
    found = ssm.get_paginator("get_parameters_by_path").paginate(Path=SECRETS_PATH, Recursive=True, WithDecryption=True)
    described = {
        p["Name"]: p for page in ssm.get_paginator("describe_parameters").paginate(
            ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": [SECRETS_PATH]}]) for p in page["Parameters"]
    }
    return {
        p["Name"].removeprefix(SECRETS_PATH + "/"): {
            "value": p["Value"],
            "type": p["Type"],
            "key_id": described.get(p["Name"], {}).get("KeyId"),
            "tags": {t["Key"]: t["Value"] for t in ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=p["Name"])["TagList"]},
        }
        for page in found for p in page["Parameters"]
    }


@pytest.fixture(scope="session")
def recorder(moto_endpoint):
    """moto's request recorder: start() before a run, stop() after it returns what was sent."""

    def post(path: str) -> bytes:
        return moto_api(moto_endpoint, f"recorder/{path}", method="POST")

    class Recorder:
        # Every call recorded in the session (tests/aws/test_stack_permissions.py checks the
        # operator's IAM policy against them).
        seen: list[Call] = []

        def start(self) -> None:
            post("reset-recording")
            post("start-recording")

        def sent(self) -> list[Call]:
            """What was sent since start(), recording going on."""
            lines = moto_api(moto_endpoint, "recorder/download-recording").decode().splitlines()
            return [_parse_recorded(json.loads(line)) for line in lines if line.strip()]

        def stop(self) -> list[Call]:
            post("stop-recording")
            calls = self.sent()
            self.seen.extend(calls)
            return calls

    return Recorder()


def verdict_play(emulator: str, playbook: Path, variables: dict, **env) -> list:
    """One run of a verdict test's playbook (tests/aws/*_verdict.yml) on localhost against the
    test's own emulator, with the roles' plugins given in `env` (ANSIBLE_LIBRARY, ...): the
    tasks of its play, as the json callback reports them."""
    run_env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_ENDPOINT_URL": emulator, "AWS_DEFAULT_REGION": REGION, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
               "ANSIBLE_STDOUT_CALLBACK": "json", **env}
    variables = {"stack_region": REGION, "stack_aws_endpoint_url": emulator,
                 "ansible_python_interpreter": str(ANSIBLE_PLAYBOOK.parent / "python"), **variables}
    run = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", "-e", json.dumps(variables),
                          str(playbook)], capture_output=True, text=True, cwd=REPO, env=run_env, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-3000:]
    return json.loads(run.stdout)["plays"][0]["tasks"]


def playbook_runner(endpoint: str, credentials: Path, access_key: str = "testing", secret_key: str = "testing"):
    """Runs a playbook of the project with the local inventory against the emulator at endpoint."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        # Safety net: anything that escapes module_defaults still lands in the emulator.
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "MLFLOW_STACK_AWS_ENDPOINT": endpoint,
        "ANSIBLE_DISPLAY_TRACEBACK": "error",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
    }
    env.pop("AWS_PROFILE", None)

    def run(name: str, extra_vars: dict | None = None, *args: str, inventory: Path | None = None) -> Run:
        variables = {"stack_credentials_dir": str(credentials), **(extra_vars or {})}
        cmd = [
            str(ANSIBLE_PLAYBOOK),
            "-i",
            str(inventory or INVENTORY),
            str(REPO / "playbooks" / name),
            "-e",
            json.dumps(variables),
            *args,
        ]
        start = time.monotonic()
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
        return Run(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start)

    # Where the generated secrets of every run live.
    run.credentials_dir = credentials
    return run


@pytest.fixture(scope="session")
def playbook(moto_endpoint, tmp_path_factory):
    """Run a playbook of the project with the local inventory against the session's moto."""
    return playbook_runner(moto_endpoint, tmp_path_factory.mktemp("credentials"))


_UNGROUPED = pytest.StashKey[str]()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Under `--dist loadgroup` (make test-aws), a test marked xdist_group must be sent, with the
    rest of its group, to one process: pytest-xdist does that by appending "@<group>" to the
    node id of each item. If it did not (pytest 9.2 keeps node ids where pytest-xdist 3.8 no
    longer writes), every test would be scheduled on its own: a group's class fixture (a whole
    stack) is then built once per process, and test_stack_permissions.py sees only the calls
    of its own process. Every test fails instead (an exit here would not reach the terminal)."""
    if not getattr(config.option, "loadgroup", False):
        return
    ungrouped = [item.nodeid for item in items
                 if (mark := item.get_closest_marker("xdist_group")) and not item.nodeid.endswith(f"@{mark.args[0]}")]
    if ungrouped:
        config.stash[_UNGROUPED] = (
            f"pytest-xdist did not group {len(ungrouped)} test(s) marked xdist_group (first: {ungrouped[0]}): "
            "pytest and pytest-xdist are not the pinned pair of requirements-dev.txt"
        )


@pytest.fixture(scope="session", autouse=True)
def _groups_held_together(request):
    if _UNGROUPED in request.config.stash:
        pytest.fail(request.config.stash[_UNGROUPED], pytrace=False)


def pytest_runtest_logreport(report):
    if "tests/aws/" in report.nodeid:
        # Up to the parameters: an IPv6 address in a test id holds "::" too.
        parts = report.nodeid.split("[")[0].split("::")
        group = "::".join(parts[:2]) if len(parts) > 2 else parts[0]
        GROUP_SPANS[group.removeprefix("tests/aws/")].append((report.start, report.stop))


def pytest_sessionfinish(session):
    """Under pytest-xdist (make test-aws), a worker hands its wall times to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["aws_wall_times"] = dict(WALL_TIMES)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    WALL_TIMES.update(getattr(node, "workeroutput", {}).get("aws_wall_times", {}))


def pytest_terminal_summary(terminalreporter):
    if WALL_TIMES:
        terminalreporter.section("AWS layer wall times (moto)")
        for name, seconds in WALL_TIMES.items():
            terminalreporter.write_line(f"{name:<48} {seconds:6.1f} s")
    if GROUP_SPANS:
        terminalreporter.section("AWS layer wall time per test group (setup + tests + teardown)")
        for name, spans in GROUP_SPANS.items():
            terminalreporter.write_line(f"{name:<72} {covered_seconds(spans):6.1f} s")
