"""Every role describes itself the same way (meta/main.yml), declares its inputs
(meta/argument_specs.yml), and the defaults it declares there are the ones it runs with
(defaults/main.yml): the specs feed docs/roles.md, so a spec default that drifted from the real
default would publish a wrong value."""
import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir())

GALAXY_INFO_KEYS = [
    "role_name",
    "namespace",
    "author",
    "description",
    "license",
    "min_ansible_version",
    "platforms",
    "galaxy_tags",
]
GALAXY_INFO_VALUES = {
    "namespace": "mlflow_stack",
    "author": "mlflow-ansible contributors",
    "license": "Apache-2.0",
    "min_ansible_version": "2.19",
}
# Only what the molecule scenarios run (Debian 12 and 13 containers); nothing else is claimed.
PLATFORMS = [{"name": "Debian", "versions": ["bookworm", "trixie"]}]
# Galaxy accepts lowercase letters and digits only.
GALAXY_TAG = re.compile(r"^[a-z0-9]+$")


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads Ansible's own tags (!unsafe, !vault) as plain values."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: loader.construct_scalar(node)
                              if isinstance(node, yaml.ScalarNode) else None)


def load(path):
    with open(path, encoding="utf-8") as stream:
        return yaml.load(stream, Loader=_Loader)


def entry_points(role):
    return load(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]


def has_jinja(value):
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(has_jinja(k) or has_jinja(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_jinja(v) for v in value)
    return False


@pytest.mark.parametrize("role", ROLES)
def test_role_has_meta_and_argument_specs(role):
    meta = ROOT / "roles" / role / "meta"
    assert (meta / "main.yml").is_file(), f"{role}: no meta/main.yml"
    assert (meta / "argument_specs.yml").is_file(), f"{role}: no meta/argument_specs.yml"
    assert "main" in entry_points(role), f"{role}: argument_specs has no main entry point"


@pytest.mark.parametrize("role", ROLES)
def test_role_metadata_is_the_same_everywhere(role):
    meta = load(ROOT / "roles" / role / "meta" / "main.yml")
    assert list(meta) == ["galaxy_info", "dependencies"], f"{role}: top-level keys"
    info = meta["galaxy_info"]
    assert list(info) == GALAXY_INFO_KEYS, f"{role}: galaxy_info keys or their order"
    assert info["role_name"] == role
    for key, value in GALAXY_INFO_VALUES.items():
        assert info[key] == value, f"{role}: galaxy_info.{key} is {info[key]!r}, not {value!r}"
    assert info["platforms"] == PLATFORMS, f"{role}: platforms claim what no test runs"
    assert info["galaxy_tags"] and all(GALAXY_TAG.match(str(t)) for t in info["galaxy_tags"]), (
        f"{role}: galaxy_tags {info['galaxy_tags']!r}")
    short = entry_points(role)["main"].get("short_description")
    assert info["description"] == short, (
        f"{role}: meta description {info['description']!r} differs from the main entry point's "
        f"short_description {short!r}")
    assert isinstance(meta["dependencies"], list)


@pytest.mark.parametrize("role", ROLES)
def test_argument_spec_defaults_are_the_role_defaults(role):
    defaults_file = ROOT / "roles" / role / "defaults" / "main.yml"
    text = defaults_file.read_text(encoding="utf-8") if defaults_file.is_file() else ""
    defaults = (yaml.load(text, Loader=_Loader) if text else None) or {}
    problems = []
    for entry, spec in entry_points(role).items():
        for name, option in ((spec or {}).get("options") or {}).items():
            if not isinstance(option, dict) or "default" not in option:
                continue
            if name not in defaults:
                # A variable documented as a comment (required ones are) has no default to match.
                if re.search(rf"^\s*#\s*{re.escape(name)}\s*:", text, re.MULTILINE):
                    continue
                problems.append(f"{entry}: {name} has a spec default but is not in defaults/main.yml")
            elif has_jinja(defaults[name]):
                continue
            elif defaults[name] != option["default"]:
                problems.append(f"{entry}: {name}: argument_specs default {option['default']!r}, "
                                f"defaults/main.yml {defaults[name]!r}")
    assert not problems, f"{role}:\n  " + "\n  ".join(problems)
