#!/usr/bin/python
# Copyright: mlflow-ansible contributors; Apache License 2.0
"""What a role's files, directories and systemd units are on the host, read in one module run."""

DOCUMENTATION = r"""
module: managed_state_info
short_description: Read many paths (type, mode, owner, checksum) and systemd units at once
description:
  - For each path, what M(ansible.builtin.stat) reports of it without following a symbolic
    link. C(type) is C(file), C(directory), C(link), C(other) or C(absent). C(mode) is the
    permission bits in octal (C(0644)). C(owner) and C(group) are names (the number when the
    host has no name for it). C(checksum) is the SHA-1 of a regular file's bytes, the checksum
    M(ansible.builtin.copy) and M(ansible.builtin.template) compare. C(target) is what a link
    points to.
  - A role reads its paths once and runs each M(ansible.builtin.template),
    M(ansible.builtin.copy) or M(ansible.builtin.file) task only for a path that differs from
    what the task wants (the C(file_as_wanted), C(directory_as_wanted) and C(link_as_wanted)
    tests of C(playbooks/test_plugins/managed_state.py)). A task costs a round trip to the
    host even when it changes nothing; a skipped one costs none. The modules still write,
    validate and report diffs when something differs.
  - For each systemd unit, C(enabled) (systemd's C(UnitFileState), C(enabled) for a unit
    enabled at boot, empty for an unknown one) and C(active) (its C(ActiveState)), read with one
    C(systemctl show). The test C(unit_as_wanted) tells whether a
    M(ansible.builtin.systemd_service) task that enables and starts it would change nothing.
  - For each user, C(exists), its primary C(group) (a name, the number when the host has no
    name for it), C(home), C(shell) and C(comment) (the GECOS field), as
    M(ansible.builtin.user) compares them; for each group, C(exists). The test
    C(user_as_wanted) tells whether a M(ansible.builtin.user) task giving those four would
    change nothing.
  - Read-only; runs in check mode.
options:
  paths:
    description: Absolute paths to read.
    type: list
    elements: path
    default: []
  units:
    description: Names of systemd units to read (C(nginx.service), C(logrotate.timer)).
    type: list
    elements: str
    default: []
  users:
    description: Names of users to read (through the name service, as M(ansible.builtin.user) does).
    type: list
    elements: str
    default: []
  groups:
    description: Names of groups to read.
    type: list
    elements: str
    default: []
  contents:
    description:
      - Paths among C(paths) whose bytes are returned too, base64-encoded in C(content) as
        M(ansible.builtin.slurp) returns them (following a link, as slurp does), for a task
        that edits a file the system owns. No C(content) for a path that cannot be read.
    type: list
    elements: path
    default: []
"""

EXAMPLES = r"""
- name: Read the files this role writes and the units it runs
  managed_state_info:
    paths: [/etc/issue, /etc/issue.net]
    units: [logrotate.timer]
    users: [mlflow]
    groups: [mlflow]
  register: _os_hardening_state
"""

RETURN = r"""
paths:
  description: One C({type, mode, owner, group, checksum, target}) per path given, by path
    (and C(content) for the paths of I(contents)).
  returned: always
  type: dict
units:
  description: One C({enabled, active}) per unit given, by name.
  returned: always
  type: dict
users:
  description: One C({exists, group, home, shell, comment}) per user given, by name (empty
    strings for a user that does not exist).
  returned: always
  type: dict
groups:
  description: One C({exists}) per group given, by name.
  returned: always
  type: dict
"""

import base64
import grp
import hashlib
import os
import pwd
import stat

from ansible.module_utils.basic import AnsibleModule


def _name(lookup, number):
    try:
        return lookup(number)[0]
    except KeyError:
        return str(number)


def path_info(path):
    """{type, mode, owner, group, checksum, target} of one path, the link itself for a link."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return dict(type="absent", mode="", owner="", group="", checksum="", target="")
    if stat.S_ISLNK(st.st_mode):
        kind = "link"
    elif stat.S_ISREG(st.st_mode):
        kind = "file"
    elif stat.S_ISDIR(st.st_mode):
        kind = "directory"
    else:
        kind = "other"
    checksum = ""
    target = os.readlink(path) if kind == "link" else ""
    if kind == "file":
        digest = hashlib.sha1()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(65536), b""):
                digest.update(block)
        checksum = digest.hexdigest()
    return dict(type=kind, mode="%04o" % stat.S_IMODE(st.st_mode), owner=_name(pwd.getpwuid, st.st_uid),
                group=_name(grp.getgrgid, st.st_gid), checksum=checksum, target=target)


UNIT_PROPERTIES = ("Id", "UnitFileState", "ActiveState")


def units_info(names, show_output):
    """{name: {enabled, active}} from `systemctl show --property=Id,UnitFileState,ActiveState
    <names>`, one block per unit in the order given, blocks separated by an empty line."""
    blocks = [dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
              for block in show_output.strip("\n").split("\n\n")] if show_output.strip() else []
    if len(blocks) != len(names):
        raise ValueError("systemctl show returned %d units for %d names" % (len(blocks), len(names)))
    return {name: dict(enabled=block.get("UnitFileState", ""), active=block.get("ActiveState", ""))
            for name, block in zip(names, blocks)}


def user_info(name):
    """{exists, group, home, shell, comment} of one user, as the name service gives them."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return dict(exists=False, group="", home="", shell="", comment="")
    return dict(exists=True, group=_name(grp.getgrgid, entry.pw_gid), home=entry.pw_dir, shell=entry.pw_shell,
                comment=entry.pw_gecos)


def group_info(name):
    """{exists} of one group."""
    try:
        grp.getgrnam(name)
    except KeyError:
        return dict(exists=False)
    return dict(exists=True)


def with_content(found, path):
    """found with the bytes at path (a link followed) as base64 `content`, when they can be read."""
    try:
        with open(path, "rb") as handle:
            return dict(found, content=base64.b64encode(handle.read()).decode("ascii"))
    except OSError:
        return found


def main():
    module = AnsibleModule(argument_spec=dict(paths=dict(type="list", elements="path", default=[]),
                                              units=dict(type="list", elements="str", default=[]),
                                              users=dict(type="list", elements="str", default=[]),
                                              groups=dict(type="list", elements="str", default=[]),
                                              contents=dict(type="list", elements="path", default=[])),
                           supports_check_mode=True)
    relative = [path for path in module.params["paths"] if not os.path.isabs(path)]
    if relative:
        module.fail_json(msg="paths must be absolute: " + ", ".join(relative))
    unread = [path for path in module.params["contents"] if path not in module.params["paths"]]
    if unread:
        module.fail_json(msg="contents must be among paths: " + ", ".join(unread))
    units = {}
    if module.params["units"]:
        systemctl = module.get_bin_path("systemctl", required=True)
        rc, out, err = module.run_command([systemctl, "show", "--property=" + ",".join(UNIT_PROPERTIES), "--"]
                                          + module.params["units"])
        if rc != 0:
            module.fail_json(msg="systemctl show failed: " + err.strip(), rc=rc)
        try:
            units = units_info(module.params["units"], out)
        except ValueError as error:
            module.fail_json(msg=str(error), stdout=out)
    paths = {path: path_info(path) for path in module.params["paths"]}
    for path in module.params["contents"]:
        paths[path] = with_content(paths[path], path)
    module.exit_json(changed=False, paths=paths, units=units,
                     users={name: user_info(name) for name in module.params["users"]},
                     groups={name: group_info(name) for name in module.params["groups"]})


if __name__ == "__main__":
    main()
