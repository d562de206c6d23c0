#!/usr/bin/python
# Copyright: mlflow-ansible contributors
# Apache License 2.0 (see LICENSE)
"""List where EC2 instance types are offered (ec2:DescribeInstanceTypeOfferings)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: ec2_instance_type_offerings_info
short_description: List where EC2 instance types are offered
description:
  - Wraps ec2:DescribeInstanceTypeOfferings, for which neither amazon.aws 10.1.2 nor
    community.aws 10.0.0 has a module. Read-only (check mode runs it too).
  - A role-local module. The C(group/amazon.aws.aws) module_defaults group does not reach it,
    so the playbook lists it by name in its module_defaults (region, endpoint, credentials).
options:
  location_type:
    description: What a location is (a region, an availability zone name or an availability zone id).
    type: str
    default: availability-zone
    choices: [region, availability-zone, availability-zone-id]
  instance_types:
    description: Instance types to look up (e.g. t3.small); all types when empty.
    type: list
    elements: str
    default: []
  locations:
    description: Locations to look in (e.g. us-east-1a); all when empty.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Find the availability zones offering t3.small
  ec2_instance_type_offerings_info:
    instance_types: [t3.small]
  register: offerings
# offerings.locations_by_type['t3.small'] == ['us-east-1a', 'us-east-1b', ...]
"""

RETURN = r"""
offerings:
  description: Every offering found.
  type: list
  elements: dict
  returned: always
  contains:
    instance_type: {description: Instance type., type: str}
    location: {description: Region, zone name or zone id., type: str}
    location_type: {description: Kind of location., type: str}
locations_by_type:
  description: For each instance type found, the sorted locations offering it.
  type: dict
  returned: always
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing library

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            location_type=dict(
                type="str", default="availability-zone", choices=["region", "availability-zone", "availability-zone-id"]
            ),
            instance_types=dict(type="list", elements="str", default=[]),
            locations=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    filters = []
    if module.params["instance_types"]:
        filters.append({"Name": "instance-type", "Values": module.params["instance_types"]})
    if module.params["locations"]:
        filters.append({"Name": "location", "Values": module.params["locations"]})
    try:
        pages = client.get_paginator("describe_instance_type_offerings").paginate(
            LocationType=module.params["location_type"], Filters=filters
        )
        offerings = pages.build_full_result()["InstanceTypeOfferings"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Failed to describe instance type offerings")
    by_type = {}
    for offering in offerings:
        by_type.setdefault(offering["InstanceType"], []).append(offering["Location"])
    module.exit_json(
        changed=False,
        offerings=[
            {"instance_type": o["InstanceType"], "location": o["Location"], "location_type": o["LocationType"]}
            for o in offerings
        ],
        locations_by_type={k: sorted(v) for k, v in by_type.items()},
    )


if __name__ == "__main__":
    main()
