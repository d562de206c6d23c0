"""Lookup: the variables an inventory sets, and in which file (for the preflight role)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: preflight_inventory_variables
short_description: The variables an inventory sets, with the file that sets each
description:
  - Reads, without templating or decrypting anything, the inventory variables that a
    playbook's C(group_vars/all) outranks (Ansible's variable precedence) - the C(group_vars/all)
    next to each inventory source (a file or a directory of files) and the group C(vars) of a
    YAML or INI inventory file. Host variables and C(group_vars/<group>) outrank a playbook's
    C(group_vars/all) and are not returned.
  - Returns one item per variable and file, C({name, file}). A file encrypted as a whole with
    ansible-vault is skipped (its variable names cannot be read without the password); an
    inline C(!vault) value is read as a name only.
  - Used to find variables an inventory sets that the playbooks' wiring sets too, where the
    inventory's value would be ignored.
options:
  _terms:
    description: Inventory sources (C(ansible_inventory_sources)).
    required: true
"""

RETURN = r"""
_raw:
  description: One C({name, file}) per variable set for all hosts in a file of the inventory.
  type: list
  elements: dict
"""

import os

import yaml
from ansible.plugins.lookup import LookupBase

_VARS_EXTENSIONS = ("", ".yml", ".yaml", ".json")


class _AnyTagLoader(yaml.SafeLoader):
    """A safe loader that reads tagged values (!vault, !unsafe) as plain values."""


def _any_tag(loader, tag_suffix, node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)


_AnyTagLoader.add_multi_constructor("!", _any_tag)


def _read_yaml(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    if text.lstrip().startswith("$ANSIBLE_VAULT"):
        return None
    try:
        return yaml.load(text, Loader=_AnyTagLoader)  # noqa: S506 (safe loader subclass)
    except yaml.YAMLError:
        return None


def _vars_files(directory, group):
    """The files Ansible reads for a group in group_vars/: group(.yml|.yaml|.json) or group/."""
    found = []
    if not os.path.isdir(directory):
        return found
    for entry in sorted(os.listdir(directory)):
        if entry.startswith(".") or os.path.splitext(entry)[0] != group:
            continue
        path = os.path.join(directory, entry)
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.extend(
                    os.path.join(root, name)
                    for name in sorted(files)
                    if not name.startswith(".") and os.path.splitext(name)[1] in _VARS_EXTENSIONS
                )
        elif os.path.splitext(entry)[1] in _VARS_EXTENSIONS:
            found.append(path)
    return found


def _yaml_inventory_vars(node, seen):
    """Variable names of the groups in a YAML inventory (host variables outrank the wiring)."""
    if not isinstance(node, dict):
        return
    for group in node.values():
        if not isinstance(group, dict):
            continue
        if isinstance(group.get("vars"), dict):
            seen.update(group["vars"])
        if isinstance(group.get("children"), dict):
            _yaml_inventory_vars(group["children"], seen)


def _ini_inventory_vars(path):
    names = set()
    section_is_vars = False
    with open(path, encoding="utf-8", errors="replace") as handle:
        for raw in handle:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section_is_vars = line.rstrip("]").endswith(":vars")
                continue
            if section_is_vars:
                names.add(line.split("=", 1)[0].strip())
    return names


def _inventory_file_vars(path):
    if os.path.splitext(path)[1] in (".yml", ".yaml", ".json"):
        seen = set()
        _yaml_inventory_vars(_read_yaml(path), seen)
        return seen
    if os.access(path, os.X_OK):
        return set()  # a script: its variables exist only when it runs
    return _ini_inventory_vars(path)


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        sources = []
        for term in terms:
            sources.extend(term if isinstance(term, (list, tuple)) else [term])
        results = []
        for source in sources:
            source = os.path.realpath(str(source))
            if os.path.isdir(source):
                base = source
                inventory_files = [
                    os.path.join(source, name)
                    for name in sorted(os.listdir(source))
                    if os.path.isfile(os.path.join(source, name)) and not name.startswith(".")
                ]
            elif os.path.isfile(source):
                base = os.path.dirname(source)
                inventory_files = [source]
            else:
                continue
            for path in inventory_files:
                results.extend({"name": name, "file": path} for name in sorted(_inventory_file_vars(path)))
            for path in _vars_files(os.path.join(base, "group_vars"), "all"):
                data = _read_yaml(path)
                if isinstance(data, dict):
                    results.extend({"name": str(name), "file": path} for name in data)
        return results
