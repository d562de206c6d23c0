#!/usr/bin/python
# Copyright: mlflow-ansible contributors
# Apache License 2.0 (see LICENSE)
"""Read the database instance and its DB subnet group (with its tags) in one module run."""

from __future__ import annotations

DOCUMENTATION = r"""
module: aws_database_info
short_description: Read an RDS instance and a DB subnet group with its tags at once
description:
  - The instance as amazon.aws.rds_instance_info returns it (snake_case keys, C(tags) as a
    dict), and the DB subnet group as amazon.aws.rds_subnet_group reads it before it compares
    (snake_case keys, C(tags) as a dict), which no info module of amazon.aws returns with its
    tags. One module run where rds_instance_info and rds_subnet_group each cost one (about a
    second each: boto3's import and the RDS model). Read-only (check mode runs it too).
  - A role-local module. The C(group/amazon.aws.aws) module_defaults group does not reach it,
    so the playbook lists it by name in its module_defaults (region, endpoint, credentials).
options:
  db_instance_identifier:
    description: The instance's identifier.
    type: str
    required: true
  db_subnet_group_name:
    description: The DB subnet group's name (RDS holds it in lower case, as rds_subnet_group asks for it).
    type: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read the database and its subnet group
  aws_database_info:
    db_instance_identifier: mlflow-db
    db_subnet_group_name: mlflow-db
  register: database
"""

RETURN = r"""
instances:
  description: The instance (none when there is no instance of that identifier), as rds_instance_info returns it.
  type: list
  elements: dict
  returned: always
subnet_groups:
  description: >-
    The DB subnet group (none when there is none of that name), with C(subnets) (each with its
    C(subnet_identifier)), C(db_subnet_group_description) and C(tags) as a dict.
  type: list
  elements: dict
  returned: always
"""

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.rds import AnsibleRDSError
from ansible_collections.amazon.aws.plugins.module_utils.rds import RDSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.rds import describe_db_instances
from ansible_collections.amazon.aws.plugins.module_utils.rds import list_tags_for_resource
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict


class _SubnetGroupErrorHandler(RDSErrorHandler):
    """RDSErrorHandler's missing resources do not include a DB subnet group."""

    @classmethod
    def _is_missing(cls):
        return is_boto3_error_code("DBSubnetGroupNotFoundFault")


# A missing group is an empty list, as a missing instance is.
@_SubnetGroupErrorHandler.list_error_handler("describe db subnet groups", [])
@AWSRetry.jittered_backoff()
def _describe_db_subnet_groups(client, **params):
    return client.get_paginator("describe_db_subnet_groups").paginate(**params).build_full_result()["DBSubnetGroups"]


def _shaped(resource, tags):
    """As rds_instance_info returns an instance: snake_case, the tags a dict left as they are."""
    resource["Tags"] = boto3_tag_list_to_ansible_dict(tags)
    return camel_dict_to_snake_dict(resource, ignore_list=["Tags"])


def read(client, instance_identifier, subnet_group_name):
    instances = describe_db_instances(client, DBInstanceIdentifier=instance_identifier)
    groups = _describe_db_subnet_groups(client, DBSubnetGroupName=subnet_group_name.lower())
    return dict(
        instances=[_shaped(i, i.pop("TagList", [])) for i in instances],
        subnet_groups=[_shaped(g, list_tags_for_resource(client, g["DBSubnetGroupArn"])) for g in groups],
    )


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            db_instance_identifier=dict(type="str", required=True, aliases=["id"]),
            db_subnet_group_name=dict(type="str", required=True),
        ),
        supports_check_mode=True,
    )
    client = module.client("rds")
    try:
        found = read(client, module.params["db_instance_identifier"], module.params["db_subnet_group_name"])
    except AnsibleRDSError as e:
        module.fail_json_aws_error(e)
    module.exit_json(changed=False, **found)


if __name__ == "__main__":
    main()
