#!/usr/bin/python
# Copyright: mlflow-ansible contributors
# Apache License 2.0 (see LICENSE)
"""Read the server in one module run: its instances, key pair, Elastic IPs and volumes."""

from __future__ import annotations

DOCUMENTATION = r"""
module: aws_server_info
short_description: Read the server (instances, key pair, Elastic IPs, volumes) at once
description:
  - One module run instead of one per resource (ec2_instance_info, ec2_key_info,
    ec2_eip_info, and the volumes' tags no info module of the role read). Each of those costs
    about a second in boto3's import and the EC2 model; the describe calls inside cost
    milliseconds. Read-only (check mode runs it too).
  - Each resource comes back in the shape its amazon.aws info module returns (snake_case keys,
    C(tags) as a dict), so the role compares them as it compared those.
  - A role-local module. The C(group/amazon.aws.aws) module_defaults group does not reach it,
    so the playbook lists it by name in its module_defaults (region, endpoint, credentials).
options:
  name:
    description:
      - The server's Name tag, which its instances and Elastic IPs carry, and its key pair's
        name (unless the one instance found was launched with another key pair).
    type: str
    required: true
  states:
    description: Instance states to find.
    type: list
    elements: str
    default: [pending, running, stopping, stopped]
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read the server
  aws_server_info:
    name: mlflow-server
  register: server
"""

RETURN = r"""
instances:
  description: The instances tagged Name=O(name) in one of O(states), as ec2_instance_info returns them.
  type: list
  elements: dict
  returned: always
key_pairs:
  description: >-
    The key pair the one instance found was launched with (O(name) when none or several were
    found), with its public key, as ec2_key_info returns it; empty when there is none.
  type: list
  elements: dict
  returned: always
addresses:
  description: The Elastic IPs tagged Name=O(name), as ec2_eip_info returns them (tags always a dict).
  type: list
  elements: dict
  returned: always
volumes:
  description: The volumes attached to the instances found, with an C(id) and their tags as a dict.
  type: list
  elements: dict
  returned: always
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing library

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict


def _shaped(resource):
    """A described resource as amazon.aws's info modules return it: snake_case, tags a dict."""
    tags = boto3_tag_list_to_ansible_dict(resource.pop("Tags", []))
    shaped = camel_dict_to_snake_dict(resource)
    shaped["tags"] = tags
    return shaped


def _pages(client, operation, key, **params):
    return client.get_paginator(operation).paginate(**params).build_full_result()[key]


def read(client, name, states):
    named = {"Name": "tag:Name", "Values": [name]}
    reservations = _pages(client, "describe_instances", "Reservations",
                          Filters=[named, {"Name": "instance-state-name", "Values": states}])
    instances = [instance for reservation in reservations for instance in reservation["Instances"]]
    key_name = (instances[0].get("KeyName") or name) if len(instances) == 1 else name
    key_pairs = client.describe_key_pairs(Filters=[{"Name": "key-name", "Values": [key_name]}],
                                          IncludePublicKey=True)["KeyPairs"]
    addresses = client.describe_addresses(Filters=[named])["Addresses"]
    volumes = []
    if instances:
        volumes = _pages(client, "describe_volumes", "Volumes",
                         Filters=[{"Name": "attachment.instance-id", "Values": [i["InstanceId"] for i in instances]}])
    return dict(
        instances=[_shaped(i) for i in instances],
        key_pairs=[_shaped(k) for k in key_pairs],
        addresses=[_shaped(a) for a in addresses],
        volumes=[dict(_shaped(v), id=v["VolumeId"]) for v in volumes],
    )


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            states=dict(type="list", elements="str", default=["pending", "running", "stopping", "stopped"]),
        ),
        supports_check_mode=True,
    )
    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        found = read(client, module.params["name"], module.params["states"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Failed to read the server")
    module.exit_json(changed=False, **found)


if __name__ == "__main__":
    main()
