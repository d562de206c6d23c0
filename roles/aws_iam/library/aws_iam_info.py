#!/usr/bin/python
# Copyright: mlflow-ansible contributors
# Apache License 2.0 (see LICENSE)
"""Read an IAM role with the documents of its inline policies in one module run."""

from __future__ import annotations

DOCUMENTATION = r"""
module: aws_iam_info
short_description: Read an IAM role and its inline policy documents at once
description:
  - The role as amazon.aws.iam_role_info returns it (snake_case keys, C(tags) as a dict,
    C(assume_role_policy_document) decoded, C(inline_policies) by name, C(managed_policies),
    C(instance_profiles)), plus what iam_role_info does not read, the documents of its inline
    policies. One module run where iam_role_info and amazon.aws.iam_policy each cost one (about
    a second each: boto3's import and the IAM model). Read-only (check mode runs it too).
  - iam_role_info's deprecated C(assume_role_policy_document_raw) copy is left out.
  - A role-local module. The C(group/amazon.aws.aws) module_defaults group does not reach it,
    so the playbook lists it by name in its module_defaults (region, endpoint, credentials).
options:
  name:
    description: The role's name.
    type: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read the server role and its inline policies
  aws_iam_info:
    name: mlflow-server
  register: role
"""

RETURN = r"""
iam_roles:
  description: >-
    The role (none when there is no role of that name), as iam_role_info returns it, with
    C(inline_policy_documents), a dict of each inline policy's name to its document (decoded,
    as AWS holds it).
  type: list
  elements: dict
  returned: always
"""

from ansible_collections.amazon.aws.plugins.module_utils.iam import AnsibleIAMError
from ansible_collections.amazon.aws.plugins.module_utils.iam import IAMErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.iam import get_iam_role
from ansible_collections.amazon.aws.plugins.module_utils.iam import list_iam_instance_profiles
from ansible_collections.amazon.aws.plugins.module_utils.iam import list_iam_role_attached_policies
from ansible_collections.amazon.aws.plugins.module_utils.iam import list_iam_role_policies
from ansible_collections.amazon.aws.plugins.module_utils.iam import normalize_iam_role
from ansible_collections.amazon.aws.plugins.module_utils.iam import validate_iam_identifiers
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


# A policy deleted between the listing and this read is left out (None), as a role is.
@IAMErrorHandler.list_error_handler("get role policy")
@AWSRetry.jittered_backoff()
def _get_role_policy(client, role_name, policy_name):
    return client.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]


def read(client, name):
    """[the role], as iam_role_info's describe_iam_roles builds it, with its inline documents."""
    role = get_iam_role(client, name)
    if role is None:
        return []
    role["InlinePolicies"] = inline = list_iam_role_policies(client, name)
    role["ManagedPolicies"] = list_iam_role_attached_policies(client, name)
    role["InstanceProfiles"] = list_iam_instance_profiles(client, role=name)
    shaped = normalize_iam_role(role)
    # Added after the snake_case conversion: the documents' own keys stay as AWS has them.
    documents = {policy: _get_role_policy(client, name, policy) for policy in inline}
    shaped["inline_policy_documents"] = {policy: doc for policy, doc in documents.items() if doc is not None}
    return [shaped]


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(name=dict(type="str", required=True, aliases=["role_name"])),
        supports_check_mode=True,
    )
    problem = validate_iam_identifiers("role", name=module.params["name"])
    if problem:
        module.fail_json(msg=problem)
    client = module.client("iam", retry_decorator=AWSRetry.jittered_backoff())
    try:
        module.exit_json(changed=False, iam_roles=read(client, module.params["name"]))
    except AnsibleIAMError as e:
        module.fail_json_aws_error(e)


if __name__ == "__main__":
    main()
