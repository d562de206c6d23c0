"""Lookup: whether paths exist on the controller, their type and their permission bits."""

from __future__ import annotations

DOCUMENTATION = r"""
name: controller_file_modes
short_description: Whether each path exists on the controller, its type and permission bits
description:
  - For each path, C({path, exists, type, mode}) as the controller sees it, following symbolic
    links as ssh does when it checks a private key. C(type) is C(directory), C(file) or
    C(other); C(mode) is the permission bits in octal (C(0600)). Both are empty when the path
    does not exist.
  - What a C(stat) task on localhost returns of these, without starting a module (a Python
    process and a module payload per path). The preflight checks the SSH key's mode with it,
    and the roles that write on the controller (credentials, client_env) skip a directory or
    file they find as wanted.
options:
  _terms:
    description: Paths on the controller.
    required: true
"""

RETURN = r"""
_raw:
  description: One C({path, exists, type, mode}) per path, in the order given.
  type: list
  elements: dict
"""

import os
import stat

from ansible.plugins.lookup import LookupBase


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        results = []
        for term in terms:
            path = str(term)
            try:
                st = os.stat(path)
            except OSError:
                results.append({"path": path, "exists": False, "type": "", "mode": ""})
                continue
            kind = "directory" if stat.S_ISDIR(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) else "other"
            results.append({"path": path, "exists": True, "type": kind, "mode": "%04o" % stat.S_IMODE(st.st_mode)})
        return results
