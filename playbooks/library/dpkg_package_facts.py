#!/usr/bin/python
# Copyright: mlflow-ansible contributors; Apache License 2.0
"""The packages dpkg has installed, as ansible.builtin.package_facts returns them."""

DOCUMENTATION = r"""
module: dpkg_package_facts
short_description: List the packages dpkg has installed, in package_facts' shape
description:
  - Reads dpkg's status database with C(dpkg-query) and sets C(ansible_facts.packages) as
    M(ansible.builtin.package_facts) does (a list of C(name), C(version), C(arch),
    C(source) per package name).
  - M(ansible.builtin.package_facts) with C(manager=apt) opens python3-apt's cache, which reads
    every package list of the configured archives (0.5 s on the local stand-in, longer on a
    cloud image whose lists are full); C(dpkg-query) reads only what is installed.
  - A package counts as installed only in dpkg's state C(installed). One left half-configured,
    unpacked or with only its configuration files is left out, so the task that installs it
    runs again.
options: {}
"""

EXAMPLES = r"""
- name: List the installed packages
  dpkg_package_facts:
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: always
  type: complex
  contains:
    packages:
      description: The installed packages, by name, each a list of its installed versions.
      returned: always
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule

# db:Status-Abbrev is three letters: the wanted action, the current state, an error flag.
QUERY_FORMAT = "${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n"


def installed_packages(listing):
    """{name: [{name, version, arch, source}]} of the lines of dpkg-query whose state is installed."""
    packages = {}
    for line in listing.splitlines():
        status, name, version, arch = line.split("\t")
        if status[1:2] == "i":
            packages.setdefault(name, []).append(dict(name=name, version=version, arch=arch, source="apt"))
    return packages


def main():
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    dpkg_query = module.get_bin_path("dpkg-query", required=True)
    rc, out, err = module.run_command([dpkg_query, "--show", "--showformat", QUERY_FORMAT])
    if rc != 0:
        module.fail_json(msg="dpkg-query failed: " + err.strip(), rc=rc)
    module.exit_json(changed=False, ansible_facts=dict(packages=installed_packages(out)))


if __name__ == "__main__":
    main()
