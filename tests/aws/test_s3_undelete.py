"""Deleted artifacts come back (`playbooks/restore.yml -e undelete_prefix=...`, the project's
s3_undelete module): in a versioned bucket every key under the prefix whose newest version is a
delete marker is the object again, with its newest content, however many times it was deleted;
nothing outside the prefix, no live object and no key that never held an object is touched.
`--check` names the keys and changes nothing; a rerun changes nothing. Run on an emulator of its
own (no other test's stack in it), through tests/aws/undelete.yml."""
from __future__ import annotations

import json
import re

import boto3
import pytest
from conftest import REGION, WALL_TIMES, playbook_runner

BUCKET = "undelete-test-artifacts"
PREFIX = "mlflow/1/run-a/"


@pytest.fixture(scope="module")
def emulator(start_moto, tmp_path_factory):
    with start_moto(tmp_path_factory.mktemp("moto-undelete")) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def s3(emulator):
    return boto3.client("s3", endpoint_url=emulator, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def undelete(emulator, tmp_path, bucket, *args):
    run = playbook_runner(emulator, tmp_path / "credentials")(
        "../tests/aws/undelete.yml", {"undelete_bucket": bucket, "undelete_prefix": PREFIX}, *args)
    WALL_TIMES[f"s3_undelete {' '.join(args) or '(run)'}"] = run.seconds
    # The debug line is folded at spaces: read it with the whitespace collapsed.
    found = re.search(r"undeleted=(\[.*?\])", " ".join(run.output.split()))
    return run, json.loads(found.group(1)) if found else None


def versions(s3, key):
    """(object version ids, delete marker ids) of one key."""
    listed = s3.list_object_versions(Bucket=BUCKET, Prefix=key)
    return ([v["VersionId"] for v in listed.get("Versions", []) if v["Key"] == key],
            [m["VersionId"] for m in listed.get("DeleteMarkers", []) if m["Key"] == key])


def body(s3, key):
    try:
        return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None


def test_deleted_objects_under_the_prefix_come_back_and_nothing_else_moves(emulator, s3, tmp_path):
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    model, notes, kept = PREFIX + "artifacts/model.pkl", PREFIX + "artifacts/notes.txt", PREFIX + "artifacts/kept.txt"
    ghost, other = PREFIX + "artifacts/expired.txt", "mlflow/1/run-b/artifacts/model.pkl"
    s3.put_object(Bucket=BUCKET, Key=model, Body=b"model v1")
    s3.put_object(Bucket=BUCKET, Key=model, Body=b"model v2")
    s3.delete_object(Bucket=BUCKET, Key=model)
    s3.put_object(Bucket=BUCKET, Key=notes, Body=b"notes")
    s3.delete_object(Bucket=BUCKET, Key=notes)
    s3.delete_object(Bucket=BUCKET, Key=notes)  # deleted twice: two delete markers on top
    s3.put_object(Bucket=BUCKET, Key=kept, Body=b"kept")
    # A delete marker and no object beneath: the lifecycle expired the noncurrent version.
    expired = s3.put_object(Bucket=BUCKET, Key=ghost, Body=b"expired")["VersionId"]
    s3.delete_object(Bucket=BUCKET, Key=ghost)
    s3.delete_object(Bucket=BUCKET, Key=ghost, VersionId=expired)
    s3.put_object(Bucket=BUCKET, Key=other, Body=b"other run")
    s3.delete_object(Bucket=BUCKET, Key=other)
    assert len(versions(s3, notes)[1]) == 2
    assert [len(found) for found in versions(s3, ghost)] == [0, 1]
    before = {key: versions(s3, key) for key in (model, notes, kept, ghost, other)}

    check, named = undelete(emulator, tmp_path, BUCKET, "--check")
    assert check.returncode == 0 and "changed=1" in check.output, check.output[-3000:]
    assert named == sorted([model, notes]), check.output[-3000:]
    assert {key: versions(s3, key) for key in before} == before  # --check changed nothing

    run, undeleted = undelete(emulator, tmp_path, BUCKET)
    assert run.returncode == 0 and "changed=1" in run.output, run.output[-3000:]
    assert undeleted == sorted([model, notes])
    assert body(s3, model) == b"model v2"  # the newest content, not the first
    assert body(s3, notes) == b"notes"
    # Only the markers went: every object version is still there.
    assert versions(s3, model) == (before[model][0], []) and versions(s3, notes) == (before[notes][0], [])
    # Outside the prefix, live objects and keys without an object: as they were.
    assert body(s3, other) is None and versions(s3, other) == before[other]
    assert versions(s3, kept) == before[kept] and body(s3, kept) == b"kept"
    assert versions(s3, ghost) == before[ghost]

    rerun, again = undelete(emulator, tmp_path, BUCKET)
    assert rerun.returncode == 0 and "changed=0" in rerun.output and again == [], rerun.output[-3000:]


def test_a_bucket_without_versioning_is_refused_with_the_reason(emulator, s3, tmp_path):
    s3.create_bucket(Bucket="undelete-test-unversioned")
    run, _ = undelete(emulator, tmp_path, "undelete-test-unversioned")
    assert run.returncode != 0
    assert "Bucket undelete-test-unversioned is not versioned: its deleted objects cannot come back." in " ".join(run.output.split())
