"""Tests: whether a path read by managed_state_info is already what a file task would make it.

`found is file_as_wanted(content, mode, owner='root', group='root')`: `found` (one value of
managed_state_info's `paths`) is a regular file, not a link, whose bytes are `content` (UTF-8,
as ansible.builtin.template and ansible.builtin.copy write it; `none`: any bytes, for a file
task that only creates a file), with that mode (an octal string, "0644"), owner and group.
`found is directory_as_wanted(mode, owner, group)`: the same for a directory.
`found is link_as_wanted(target, owner, group)`: a symbolic link to `target`.
When one of these is true, the file task would change nothing and is skipped. Anything else
(absent, a link where a file is wanted, other bytes, mode, owner or group) is false, and the
task runs.

`unit is unit_as_wanted`: a systemd unit (one value of managed_state_info's `units`) enabled
at boot and active, which a systemd_service task with `enabled: true, state: started` leaves as
it is. The module also takes other enabled states (static, indirect) as enabled: those make
the task run, and it changes nothing.

`user is user_as_wanted(group, home, shell, comment)`: a user (one value of
managed_state_info's `users`) that exists with that primary group, home, shell and GECOS
comment, which an ansible.builtin.user task giving those four (and nothing it would compare
besides) leaves as it is.

Arguments of the wrong kind are an error, never a verdict.
"""

from __future__ import annotations

import hashlib

from ansible.errors import AnsibleFilterError


def _attributes_as_wanted(found, kind, mode, owner, group):
    if not isinstance(found, dict) or "type" not in found:
        raise AnsibleFilterError("expects what managed_state_info read of one path, got %r" % (found,))
    if not isinstance(mode, str):
        raise AnsibleFilterError("mode must be an octal string such as '0644', got %r" % (mode,))
    return (found["type"] == kind and found["mode"] != "" and int(found["mode"], 8) == int(mode, 8)
            and found["owner"] == owner and found["group"] == group)


def file_as_wanted(found, content, mode, owner="root", group="root"):
    if content is not None and not isinstance(content, str):
        raise AnsibleFilterError("content must be text, got %s" % type(content).__name__)
    return (_attributes_as_wanted(found, "file", mode, owner, group)
            and (content is None or found["checksum"] == hashlib.sha1(content.encode("utf-8")).hexdigest()))


def directory_as_wanted(found, mode, owner="root", group="root"):
    return _attributes_as_wanted(found, "directory", mode, owner, group)


def unit_as_wanted(unit):
    if not isinstance(unit, dict) or "enabled" not in unit or "active" not in unit:
        raise AnsibleFilterError("expects what managed_state_info read of one unit, got %r" % (unit,))
    return unit["enabled"] == "enabled" and unit["active"] == "active"


def link_as_wanted(found, target, owner="root", group="root"):
    # A link's own mode is always 0777 on Linux.
    return _attributes_as_wanted(found, "link", "0777", owner, group) and found["target"] == target


def user_as_wanted(user, group, home, shell, comment):
    if not isinstance(user, dict) or "exists" not in user:
        raise AnsibleFilterError("expects what managed_state_info read of one user, got %r" % (user,))
    return bool(user["exists"]) and (user["group"], user["home"], user["shell"], user["comment"]) == (
        group, home, shell, comment)


class TestModule:
    def tests(self):
        return {"file_as_wanted": file_as_wanted, "directory_as_wanted": directory_as_wanted,
                "link_as_wanted": link_as_wanted, "unit_as_wanted": unit_as_wanted,
                "user_as_wanted": user_as_wanted}
