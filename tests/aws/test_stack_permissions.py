"""The operator's IAM policy (docs/iam-operator-policy.json, README "Prerequisites") allows every
AWS action the stack's playbooks call. The calls are the ones moto's recorder saw during this
session (tests/aws/test_stack.py records provisioning, a rerun, a rotation, a major upgrade,
a destroy with and without the bucket); run alone, this module records a lifecycle itself.
Query APIs (EC2, RDS, IAM, STS) name their action; S3's REST calls are mapped to the IAM
action AWS documents for them, and an S3 call this mapping does not know fails the test."""
from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest
from conftest import DEBIAN_IMAGES, STACK, register_debian_image

# With the stack groups of test_stack.py (same process, same recorder) under pytest-xdist.
pytestmark = pytest.mark.xdist_group("lifecycle")

POLICY = Path(__file__).resolve().parents[2] / "docs" / "iam-operator-policy.json"

# S3 subresources (query keys) -> the IAM action name without its verb.
_S3_SUBRESOURCES = {
    "versioning": "BucketVersioning",
    "encryption": "EncryptionConfiguration",
    "publicAccessBlock": "BucketPublicAccessBlock",
    "ownershipControls": "BucketOwnershipControls",
    "policy": "BucketPolicy",
    "lifecycle": "LifecycleConfiguration",
    "tagging": "BucketTagging",
    "acl": "BucketAcl",
    "requestPayment": "BucketRequestPayment",
    "object-lock": "BucketObjectLockConfiguration",
    "website": "BucketWebsite",
    "cors": "BucketCORS",
    "logging": "BucketLogging",
    "notification": "BucketNotification",
    "accelerate": "AccelerateConfiguration",
    "replication": "ReplicationConfiguration",
    "inventory": "InventoryConfiguration",
}


def _s3_actions(method: str, path: str, query: set[str]) -> list[str]:
    parts = [p for p in path.split("/") if p]
    if not parts:
        return ["s3:ListAllMyBuckets"] if method == "GET" else [f"s3:UNKNOWN {method} {path}"]
    if len(parts) > 1:  # an object
        if method == "DELETE":
            return ["s3:DeleteObjectVersion" if "versionId" in query else "s3:DeleteObject"]
        return {"GET": ["s3:GetObject"], "HEAD": ["s3:GetObject"], "PUT": ["s3:PutObject"]}.get(
            method, [f"s3:UNKNOWN {method} object"])
    known = query & set(_S3_SUBRESOURCES)
    if known:
        name = _S3_SUBRESOURCES[known.pop()]
        if method == "GET":
            return [f"s3:Get{name}"]
        if method == "PUT":
            return [f"s3:Put{name}"]
        if method == "DELETE":  # DeleteBucketPolicy has its own action; the others are a Put
            return ["s3:DeleteBucketPolicy" if name == "BucketPolicy" else f"s3:Put{name}"]
    if "delete" in query and method == "POST":
        return ["s3:DeleteObject", "s3:DeleteObjectVersion"]
    if "versions" in query:
        return ["s3:ListBucketVersions"]
    if "location" in query:
        return ["s3:GetBucketLocation"]
    plain = {"HEAD": "s3:ListBucket", "GET": "s3:ListBucket", "PUT": "s3:CreateBucket", "DELETE": "s3:DeleteBucket"}
    if method in plain and not query - {"list-type", "prefix", "max-keys", "encoding-type", "continuation-token",
                                        "key-marker", "version-id-marker", "delimiter"}:
        return [plain[method]]
    return [f"s3:UNKNOWN {method} ?{'&'.join(sorted(query))}"]


def _required_actions(calls) -> set[str]:
    required = set()
    # The playbooks' calls only: the tests' own boto3 calls (playing AWS's part) are recorded too.
    for call in (c for c in calls if "Ansible" in c.agent):
        if call.action:
            required.add(f"{call.service}:{call.action}")
            # Launching with an instance profile hands its role to EC2.
            if call.action == "RunInstances" and any(k.startswith("IamInstanceProfile") for k in call.params):
                required.add("iam:PassRole")
        elif call.service == "s3":
            required.update(_s3_actions(call.method, call.path, set(call.params)))
    return required


def _allowed(policy: dict) -> list[str]:
    patterns = []
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        patterns.extend([actions] if isinstance(actions, str) else actions)
    return patterns


@pytest.fixture(scope="module")
def recorded(recorder, reset_moto, playbook, aws):
    if not any(c.action == "RunInstances" for c in recorder.seen):
        # Run alone: record a lifecycle of our own.
        reset_moto()
        register_debian_image(aws, "debian-13-amd64-20250811-2201")
        recorder.start()
        try:
            ssm = {**DEBIAN_IMAGES, "stack_secrets_store": "ssm"}
            assert playbook("provision.yml", ssm).returncode == 0
            assert playbook("destroy.yml", {**ssm, "confirm_destroy": STACK, "destroy_delete_bucket": True,
                                            "destroy_delete_secrets": True}).returncode == 0
        finally:
            recorder.stop()
    return list(recorder.seen)


def test_the_policy_is_a_policy_without_service_wide_wildcards():
    policy = json.loads(POLICY.read_text())
    assert policy["Version"] == "2012-10-17"
    patterns = _allowed(policy)
    # Read-only wildcards (Describe*) are fine; a service's every action is not.
    assert not [p for p in patterns if p == "*" or p.endswith(":*")], patterns


def test_the_policy_allows_every_action_the_playbooks_call(recorded):
    required = _required_actions(recorded)
    assert "ec2:RunInstances" in required and "rds:CreateDBInstance" in required and "s3:CreateBucket" in required
    assert "ssm:PutParameter" in required and "ssm:GetParametersByPath" in required and "ssm:DeleteParameter" in required
    patterns = [p.lower() for p in _allowed(json.loads(POLICY.read_text()))]
    missing = sorted(a for a in required if not any(fnmatch.fnmatchcase(a.lower(), p) for p in patterns))
    assert not missing, f"docs/iam-operator-policy.json lacks: {missing}"
