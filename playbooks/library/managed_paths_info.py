#!/usr/bin/python
# Copyright: mlflow-ansible contributors; Apache License 2.0
"""What a role's files and directories are on the host, read in one module run."""

DOCUMENTATION = r"""
module: managed_paths_info
short_description: Read the type, mode, owner, group and checksum of many paths at once
description:
  - For each path, what M(ansible.builtin.stat) reports of it without following a symbolic
    link. C(type) is C(file), C(directory), C(link), C(other) or C(absent). C(mode) is the
    permission bits in octal (C(0644)). C(owner) and C(group) are names (the number when the
    host has no name for it). C(checksum) is the SHA-1 of a regular file's bytes, the checksum
    M(ansible.builtin.copy) and M(ansible.builtin.template) compare. C(target) is what a link points to.
  - A role reads its paths once and runs each M(ansible.builtin.template),
    M(ansible.builtin.copy) or M(ansible.builtin.file) task only for a path that differs from
    what the task wants (the C(file_as_wanted), C(directory_as_wanted) and C(link_as_wanted)
    tests of C(playbooks/test_plugins/managed_paths.py)). A task costs a round trip to the host even when it changes
    nothing; a skipped one costs none. The modules still write, validate and report diffs
    when something differs.
  - Read-only; runs in check mode.
options:
  paths:
    description: Absolute paths to read.
    type: list
    elements: path
    required: true
"""

EXAMPLES = r"""
- name: Read the files this role writes
  managed_paths_info:
    paths: [/etc/issue, /etc/issue.net]
  register: _os_hardening_paths
"""

RETURN = r"""
paths:
  description: One C({type, mode, owner, group, checksum, target}) per path given, by path.
  returned: always
  type: dict
"""

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


def main():
    module = AnsibleModule(argument_spec=dict(paths=dict(type="list", elements="path", required=True)),
                           supports_check_mode=True)
    relative = [path for path in module.params["paths"] if not os.path.isabs(path)]
    if relative:
        module.fail_json(msg="paths must be absolute: " + ", ".join(relative))
    module.exit_json(changed=False, paths={path: path_info(path) for path in module.params["paths"]})


if __name__ == "__main__":
    main()
