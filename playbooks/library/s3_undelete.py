#!/usr/bin/python
# Copyright: mlflow-ansible contributors; Apache License 2.0
"""Bring back objects deleted under a prefix of a versioned bucket."""

DOCUMENTATION = r"""
module: s3_undelete
short_description: Undelete the objects under a prefix of a versioned S3 bucket
description:
  - In a versioned bucket a delete only adds a delete marker on top of the object's versions.
    For every key under a prefix whose newest version is a delete marker and which still has an
    object version beneath, this removes the delete markers above its newest object version (a
    key deleted twice has two), so that version is the object again. Keys whose object versions
    are all gone (expired by a lifecycle rule) keep their markers; nothing else is touched.
options:
  bucket:
    description: Name of the versioned bucket.
    type: str
    required: true
  prefix:
    description: Key prefix whose deleted objects come back (e.g. mlflow/3/<run id>/).
    type: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Bring back the artifacts of a run deleted by mistake
  s3_undelete:
    bucket: example-corp-mlflow-artifacts
    prefix: mlflow/3/0f4c6d2e9b7a4b7c8d1e2f3a4b5c6d7e/
"""

RETURN = r"""
undeleted:
  description: Keys that are objects again.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def deleted_keys(client, bucket, prefix):
    """{key: version id of its newest delete marker} of the keys under prefix whose newest version
    is a delete marker with an object version beneath it (there is something to bring back)."""
    markers, stored = {}, set()
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        markers.update((m["Key"], m["VersionId"]) for m in page.get("DeleteMarkers", []) if m.get("IsLatest"))
        stored.update(v["Key"] for v in page.get("Versions", []))
    return {key: version for key, version in markers.items() if key in stored}


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(bucket=dict(type="str", required=True), prefix=dict(type="str", required=True)),
        supports_check_mode=True,
    )
    client = module.client("s3", retry_decorator=AWSRetry.jittered_backoff())
    bucket, prefix = module.params["bucket"], module.params["prefix"]
    try:
        if client.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
            module.fail_json(msg=f"Bucket {bucket} is not versioned: its deleted objects cannot come back.")
        found = deleted_keys(client, bucket, prefix)
        undeleted = set(found)
        # One marker per key and pass: a key deleted twice shows its next marker in the next
        # listing (their times are not precise enough to order them in one).
        while found and not module.check_mode:
            for key, version in found.items():
                client.delete_object(Bucket=bucket, Key=key, VersionId=version)
            found = deleted_keys(client, bucket, prefix)
            undeleted.update(found)
    except Exception as error:  # botocore's ClientError / BotoCoreError
        module.fail_json_aws(error, msg=f"Could not undelete s3://{bucket}/{prefix}")
    module.exit_json(changed=bool(undeleted), undeleted=sorted(undeleted))


if __name__ == "__main__":
    main()
