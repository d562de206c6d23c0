#!/usr/bin/python
# Copyright: mlflow-ansible contributors; Apache License 2.0
"""Bring back objects deleted under a prefix of a versioned bucket."""

DOCUMENTATION = r"""
module: s3_undelete
short_description: Undelete the objects under a prefix of a versioned S3 bucket
description:
  - In a versioned bucket a delete only adds a delete marker on top of the object's versions.
    This removes the delete markers that are the latest version of their key under a prefix,
    so the previous version is the object again. Nothing else is touched.
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
        markers = []
        for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
            markers += [m for m in page.get("DeleteMarkers", []) if m.get("IsLatest")]
        if not module.check_mode:
            for marker in markers:
                client.delete_object(Bucket=bucket, Key=marker["Key"], VersionId=marker["VersionId"])
    except Exception as error:  # botocore's ClientError / BotoCoreError
        module.fail_json_aws(error, msg=f"Could not undelete s3://{bucket}/{prefix}")
    module.exit_json(changed=bool(markers), undeleted=sorted(m["Key"] for m in markers))


if __name__ == "__main__":
    main()
