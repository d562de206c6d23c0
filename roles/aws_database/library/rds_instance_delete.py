#!/usr/bin/python
# Copyright: mlflow-ansible contributors
# Apache License 2.0 (see LICENSE)
"""Delete an RDS DB instance, choosing whether its automated backups are kept."""

from __future__ import annotations

DOCUMENTATION = r"""
module: rds_instance_delete
short_description: Delete an RDS DB instance, choosing whether its automated backups are kept
description:
  - Calls DeleteDBInstance with an explicit C(DeleteAutomatedBackups). amazon.aws.rds_instance
    (10.1.2) has no such option, so the API's default applies there, which deletes them.
  - Does nothing when the instance does not exist; waits for an instance already being deleted.
  - Deletion protection is not turned off here (amazon.aws.rds_instance does that).
  - A role-local module. The C(group/amazon.aws.aws) module_defaults group does not reach it,
    so the playbook lists it by name in its module_defaults (region, endpoint, credentials).
options:
  db_instance_identifier:
    description: Identifier of the DB instance.
    type: str
    required: true
  skip_final_snapshot:
    description: Delete without a final snapshot.
    type: bool
    default: false
  final_db_snapshot_identifier:
    description: Name of the final snapshot; required unless I(skip_final_snapshot).
    type: str
  delete_automated_backups:
    description:
      - Delete the automated backups with the instance. C(false) keeps them for the instance's
        backup retention period (point-in-time restore stays possible), billed as backup storage.
    type: bool
    default: false
  wait:
    description: Wait until the instance is gone.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the deletion.
    type: int
    default: 3600
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Delete the database, keep its automated backups, take a final snapshot
  rds_instance_delete:
    db_instance_identifier: mlflow-prod-db
    final_db_snapshot_identifier: mlflow-prod-db-final-20250101000000
    delete_automated_backups: false
"""

RETURN = r"""
deleted:
  description: Whether this run deleted (or, in check mode, would delete) the instance.
  type: bool
  returned: always
final_snapshot_identifier:
  description: Name of the final snapshot taken, empty without one.
  type: str
  returned: always
backup_retention_period:
  description: Days the automated backups are kept (the instance's retention), 0 when none.
  type: int
  returned: always
automated_backups_retained:
  description: Whether automated backups outlive the instance.
  type: bool
  returned: always
"""

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing library

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def describe(client, module, identifier):
    try:
        return client.describe_db_instances(DBInstanceIdentifier=identifier, aws_retry=True)["DBInstances"][0]
    except is_boto3_error_code("DBInstanceNotFound"):
        return None
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to describe DB instance {identifier}")


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            db_instance_identifier=dict(type="str", required=True),
            skip_final_snapshot=dict(type="bool", default=False),
            final_db_snapshot_identifier=dict(type="str"),
            delete_automated_backups=dict(type="bool", default=False),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=3600),
        ),
        required_if=[("skip_final_snapshot", False, ("final_db_snapshot_identifier",))],
        supports_check_mode=True,
    )
    params = module.params
    identifier = params["db_instance_identifier"]
    client = module.client("rds", retry_decorator=AWSRetry.jittered_backoff())
    instance = describe(client, module, identifier)
    result = dict(
        changed=False,
        deleted=False,
        final_snapshot_identifier="",
        backup_retention_period=0,
        automated_backups_retained=False,
    )
    if instance is None:
        module.exit_json(**result)

    retention = int(instance.get("BackupRetentionPeriod") or 0)
    result.update(
        changed=True,
        deleted=True,
        final_snapshot_identifier="" if params["skip_final_snapshot"] else params["final_db_snapshot_identifier"],
        backup_retention_period=retention,
        automated_backups_retained=retention > 0 and not params["delete_automated_backups"],
    )
    if module.check_mode:
        module.exit_json(**result)

    if instance.get("DBInstanceStatus") == "deleting":
        # Deleted by an earlier run that did not wait: nothing to send, only to wait for.
        result.update(changed=False, deleted=False, final_snapshot_identifier="")
    else:
        request = dict(
            DBInstanceIdentifier=identifier,
            SkipFinalSnapshot=params["skip_final_snapshot"],
            DeleteAutomatedBackups=params["delete_automated_backups"],
        )
        if not params["skip_final_snapshot"]:
            request["FinalDBSnapshotIdentifier"] = params["final_db_snapshot_identifier"]
        try:
            client.delete_db_instance(aws_retry=True, **request)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg=f"Failed to delete DB instance {identifier}")

    if params["wait"]:
        delay = 30
        try:
            client.get_waiter("db_instance_deleted").wait(
                DBInstanceIdentifier=identifier,
                WaiterConfig={"Delay": delay, "MaxAttempts": max(1, params["wait_timeout"] // delay)},
            )
        except (botocore.exceptions.WaiterError, botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg=f"DB instance {identifier} was not deleted within {params['wait_timeout']} s")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
