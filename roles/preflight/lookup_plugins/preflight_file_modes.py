"""Lookup: whether files exist on the controller and their permission bits (for the preflight role)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: preflight_file_modes
short_description: Whether each file exists on the controller, and its permission bits
description:
  - For each path, C({path, exists, mode}) as the controller sees it, following symbolic links
    as ssh does when it checks a private key; C(mode) is the permission bits in octal (C(0600)),
    empty when the file does not exist.
  - The preflight runs on the controller, so this is what a C(stat) task on localhost returns,
    without starting a module (a Python process and a module payload per file).
options:
  _terms:
    description: Paths on the controller.
    required: true
"""

RETURN = r"""
_raw:
  description: One C({path, exists, mode}) per path, in the order given.
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
                mode = "%04o" % stat.S_IMODE(os.stat(path).st_mode)
            except OSError:
                results.append({"path": path, "exists": False, "mode": ""})
            else:
                results.append({"path": path, "exists": True, "mode": mode})
        return results
