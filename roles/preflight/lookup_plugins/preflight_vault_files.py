"""Lookup: the vault files of inventory folders and whether each is encrypted (for the preflight role)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: preflight_vault_files
short_description: The vault files under inventory folders, and whether each is encrypted
description:
  - Walks each folder given (missing ones are skipped) for files named C(vault.yml) or
    C(vault.yaml) and returns C({path, encrypted}) for each, C(encrypted) meaning the file
    starts with ansible-vault's C($ANSIBLE_VAULT;) header. Symbolic links to files and to
    folders are followed, as Ansible follows them when it loads group_vars and host_vars (each
    folder is walked once, whatever links lead to it); C(path) is the path under the folder
    given. Nothing is decrypted, and only the header is read.
options:
  _terms:
    description: Folders on the controller (an inventory's group_vars and host_vars), or lists of them.
    required: true
"""

RETURN = r"""
_raw:
  description: One C({path, encrypted}) per vault file, sorted by path.
  type: list
  elements: dict
"""

import os

from ansible.plugins.lookup import LookupBase

_NAMES = ("vault.yml", "vault.yaml")
_HEADER = b"$ANSIBLE_VAULT;"


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        folders = []
        for term in terms:
            folders.extend(term if isinstance(term, (list, tuple)) else [term])
        found = set()
        walked = set()
        for folder in folders:
            for root, dirs, files in os.walk(str(folder), followlinks=True):
                real = os.path.realpath(root)
                if real in walked:
                    dirs[:] = []
                    continue
                walked.add(real)
                for name in files:
                    path = os.path.join(root, name)
                    if name in _NAMES and os.path.isfile(path):
                        found.add(path)
        results = []
        for path in sorted(found):
            with open(path, "rb") as handle:
                results.append({"path": path, "encrypted": handle.read(len(_HEADER)) == _HEADER})
        return results
