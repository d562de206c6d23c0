#!/usr/bin/python
# Copyright: mlflow-ansible contributors
# Apache License 2.0 (see LICENSE)
"""Delete every version and delete marker of the objects under a prefix of a versioned bucket."""

from __future__ import annotations

DOCUMENTATION = r"""
module: s3_prefix_delete
short_description: Delete every version of the objects under one prefix of an S3 bucket
description:
  - Lists the object versions and delete markers whose key starts with I(prefix) and deletes
    them, 1000 per DeleteObjects request. In a versioned bucket this is what removes the data
    (a plain DeleteObject only adds a delete marker).
  - amazon.aws.s3_bucket's C(force) empties the whole bucket and amazon.aws.s3_object deletes
    one key at a time without its versions: neither deletes one prefix of a shared bucket.
  - Reports whether the bucket still holds anything afterwards, so the caller decides whether
    the bucket itself can go.
  - A role-local module. The C(group/amazon.aws.aws) module_defaults group does not reach it,
    so the playbook lists it by name in its module_defaults (region, endpoint, credentials).
options:
  bucket:
    description: Name of the bucket.
    type: str
    required: true
  prefix:
    description:
      - Key prefix whose objects go, normally ending in C(/) (C(mlflow/) does not match
        C(mlflow-other/...)). The empty string means every object of the bucket.
    type: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Delete the stack's artifacts, every version, and nothing else
  s3_prefix_delete:
    bucket: shared-ml-artifacts
    prefix: mlflow-prod/
"""

RETURN = r"""
deleted:
  description: Object versions and delete markers deleted (in check mode, that would be).
  type: int
  returned: always
bucket_empty:
  description: Whether the bucket holds no object version or delete marker afterwards.
  type: bool
  returned: always
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing library

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

_BATCH = 1000  # DeleteObjects takes at most 1000 keys


def _versions(client, bucket, prefix):
    paginator = client.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            yield {"Key": item["Key"], "VersionId": item["VersionId"]}


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            bucket=dict(type="str", required=True),
            prefix=dict(type="str", required=True, no_log=False),
        ),
        supports_check_mode=True,
    )
    bucket, prefix = module.params["bucket"], module.params["prefix"]
    client = module.client("s3", retry_decorator=AWSRetry.jittered_backoff())
    try:
        doomed = list(_versions(client, bucket, prefix))
        if doomed and not module.check_mode:
            for start in range(0, len(doomed), _BATCH):
                answer = client.delete_objects(
                    Bucket=bucket, Delete={"Objects": doomed[start:start + _BATCH], "Quiet": True}, aws_retry=True
                )
                errors = answer.get("Errors", [])
                if errors:
                    first = errors[0]
                    module.fail_json(
                        msg=f"{len(errors)} object versions under s3://{bucket}/{prefix} were not deleted; first: "
                        f"{first.get('Key')} ({first.get('Code')}: {first.get('Message')})"
                    )
        # Afterwards (in check mode: what would be left) the bucket is empty when it holds no
        # version beyond the deleted ones; the deleted ones are a subset of the bucket's.
        look = client.list_object_versions(Bucket=bucket, MaxKeys=len(doomed) + 1 if module.check_mode else 1,
                                           aws_retry=True)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to delete the object versions under s3://{bucket}/{prefix}")
    seen = len(look.get("Versions", [])) + len(look.get("DeleteMarkers", []))
    if module.check_mode:
        empty = not look.get("IsTruncated") and seen <= len(doomed)
    else:
        empty = seen == 0
    module.exit_json(changed=bool(doomed), deleted=len(doomed), bucket_empty=empty)


if __name__ == "__main__":
    main()
