#!/usr/bin/python
# Copyright: mlflow-ansible contributors
# Apache License 2.0 (see LICENSE)
"""Read the stack's network in one module run: its VPC, subnets, internet gateway, public route
table and security groups."""

from __future__ import annotations

DOCUMENTATION = r"""
module: aws_network_info
short_description: Read the stack's network (VPC, subnets, gateway, route table, security groups) at once
description:
  - One module run instead of one per resource (ec2_vpc_net_info, ec2_vpc_subnet_info,
    ec2_vpc_igw_info, ec2_vpc_route_table_info, ec2_security_group_info). Each of those costs
    about a second in boto3's import and the EC2 model; the describe calls inside cost
    milliseconds. Read-only (check mode runs it too).
  - Each resource comes back in the shape its amazon.aws info module returns (snake_case keys,
    C(tags) as a dict, an C(id)), so the role compares them as it compared those.
  - A role-local module. The C(group/amazon.aws.aws) module_defaults group does not reach it,
    so the playbook lists it by name in its module_defaults (region, endpoint, credentials).
options:
  name:
    description:
      - The stack's network name. The VPC is the one tagged C(Name=<name>-vpc) (unless
        O(vpc_id) is given), the route table the one tagged C(Name=<name>-public) in it.
    type: str
    required: true
  vpc_id:
    description: A given VPC to read instead of the one found by its Name tag.
    type: str
    default: ""
  security_groups:
    description: Names of the security groups to read in the VPC.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read the stack's network
  aws_network_info:
    name: mlflow
    security_groups: [mlflow-web, mlflow-db]
  register: network
"""

RETURN = r"""
vpcs:
  description: The VPCs found (by Name tag, or the given one), with enable_dns_support and enable_dns_hostnames.
  type: list
  elements: dict
  returned: always
subnets:
  description: The subnets of the first VPC found.
  type: list
  elements: dict
  returned: always
internet_gateways:
  description: The internet gateways attached to the first VPC found.
  type: list
  elements: dict
  returned: always
route_tables:
  description: The route tables of the first VPC found tagged Name=<name>-public.
  type: list
  elements: dict
  returned: always
security_groups:
  description: The security groups of the first VPC found with one of the names asked for.
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


def _shaped(resource, id_key):
    """A described resource as its amazon.aws info module returns it: snake_case, tags a dict, an id."""
    tags = boto3_tag_list_to_ansible_dict(resource.pop("Tags", []))
    shaped = camel_dict_to_snake_dict(resource)
    shaped["tags"] = tags
    shaped["id"] = resource[id_key]
    return shaped


def _describe(client, operation, key, **params):
    return client.get_paginator(operation).paginate(**params).build_full_result()[key]


def read(client, name, vpc_id, group_names):
    found = dict(vpcs=[], subnets=[], internet_gateways=[], route_tables=[], security_groups=[])
    if vpc_id:
        vpcs = client.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    else:
        vpcs = _describe(client, "describe_vpcs", "Vpcs", Filters=[{"Name": "tag:Name", "Values": [f"{name}-vpc"]}])
    for vpc in vpcs:
        shaped = _shaped(vpc, "VpcId")
        for attribute, key, field in (("enableDnsSupport", "EnableDnsSupport", "enable_dns_support"),
                                      ("enableDnsHostnames", "EnableDnsHostnames", "enable_dns_hostnames")):
            shaped[field] = client.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute=attribute)[key]["Value"]
        found["vpcs"].append(shaped)
    if not vpcs:
        return found
    in_vpc = {"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}
    found["subnets"] = [_shaped(s, "SubnetId") for s in _describe(client, "describe_subnets", "Subnets", Filters=[in_vpc])]
    found["internet_gateways"] = [
        _shaped(g, "InternetGatewayId")
        for g in _describe(client, "describe_internet_gateways", "InternetGateways",
                           Filters=[{"Name": "attachment.vpc-id", "Values": [vpcs[0]["VpcId"]]}])
    ]
    found["route_tables"] = [
        _shaped(t, "RouteTableId")
        for t in _describe(client, "describe_route_tables", "RouteTables",
                           Filters=[in_vpc, {"Name": "tag:Name", "Values": [f"{name}-public"]}])
    ]
    if group_names:
        found["security_groups"] = [
            _shaped(g, "GroupId")
            for g in _describe(client, "describe_security_groups", "SecurityGroups",
                               Filters=[in_vpc, {"Name": "group-name", "Values": group_names}])
        ]
    return found


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            vpc_id=dict(type="str", default=""),
            security_groups=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    client = module.client("ec2", retry_decorator=AWSRetry.jittered_backoff())
    try:
        found = read(client, module.params["name"], module.params["vpc_id"], module.params["security_groups"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Failed to read the stack's network")
    module.exit_json(changed=False, **found)


if __name__ == "__main__":
    main()
