"""README's "Settings" table is a promise: each setting there can be set from an inventory and
takes effect. Checked here without a server: each one is declared (a role's argument spec,
with the default README states, or the preflight's `stack_*` inputs), is not set by the wiring
(which would outrank the inventory), is listed in the production example, and each role
setting is set in molecule's inventory to a value other than its default (where
molecule/default/tests/test_settings.py observes its effect)."""
import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
TABLE = re.search(r"<!-- settings:begin -->\n(.*?)<!-- settings:end -->", README, re.S).group(1)
ROWS = [
    (m.group(1), m.group(2))
    for m in re.finditer(r"^\| `([a-z0-9_]+)` \| ([^|]+?) \|", TABLE, re.M)
]
PRODUCTION = (ROOT / "inventories" / "production" / "group_vars" / "all" / "main.yml").read_text(encoding="utf-8")
MOLECULE = ROOT / "molecule" / "default" / "inventory"


class _Loader(yaml.SafeLoader):
    """Reads Ansible YAML (vault tags) as plain YAML."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _load(path):
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}


def _specs():
    options = {}
    for spec_file in (ROOT / "roles").glob("*/meta/argument_specs.yml"):
        role = spec_file.parts[-3]
        for entry in (_load(spec_file).get("argument_specs") or {}).values():
            for name, option in ((entry or {}).get("options") or {}).items():
                options.setdefault(name, (role, option))
    return options


SPECS = _specs()
WIRING = _load(ROOT / "group_vars" / "all" / "wiring.yml")
MOLECULE_VARS = {
    **_load(MOLECULE / "group_vars" / "all.yml"),
    **{k: v for f in sorted((MOLECULE / "host_vars").glob("*.yml")) for k, v in _load(f).items()},
}


def test_the_table_lists_settings():
    assert len(ROWS) >= 15, TABLE


@pytest.mark.parametrize(("name", "default"), ROWS, ids=[r[0] for r in ROWS])
def test_each_setting_is_declared_settable_and_in_the_example(name, default):
    assert name in SPECS, f"{name}: no role declares it in meta/argument_specs.yml"
    assert name not in WIRING, f"{name}: group_vars/all/wiring.yml sets it, so an inventory cannot"
    assert re.search(rf"^#? ?{name}:", PRODUCTION, re.M), f"{name}: not in inventories/production's example"
    role, _ = SPECS[name]
    if name.startswith("stack_"):
        assert role == "preflight" and default == "unset", (name, role, default)
        return
    defaults = _load(ROOT / "roles" / role / "defaults" / "main.yml")
    stated = yaml.safe_load(default.strip().strip("`"))
    assert stated == defaults[name], f"{name}: README says {stated!r}, roles/{role}/defaults has {defaults[name]!r}"


@pytest.mark.parametrize("name", [n for n, _ in ROWS if not n.startswith("stack_")])
def test_molecule_sets_each_role_setting_to_a_non_default_value(name):
    role, _ = SPECS[name]
    defaults = _load(ROOT / "roles" / role / "defaults" / "main.yml")
    assert name in MOLECULE_VARS, f"{name}: molecule/default's inventory does not set it, so no test observes it"
    assert MOLECULE_VARS[name] != defaults[name], f"{name}: molecule sets the default value, which shows nothing"
