"""The firewall role's plan (roles/firewall/filter_plugins/firewall_filters.py): from ufw's own
files to the ufw commands that bring them to the wanted rule set, and nothing when they match.
ufw_state_converged.txt is what the role reads on the converged local stand-in."""
import importlib.util
import pathlib

import pytest

HERE = pathlib.Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location(
    "firewall_filters", HERE.parents[1] / "roles" / "firewall" / "filter_plugins" / "firewall_filters.py")
filters = importlib.util.module_from_spec(spec)
spec.loader.exec_module(filters)

STATE = (HERE / "ufw_state_converged.txt").read_text()
WANTED = filters.firewall_rule_set(["172.30.77.1/32"], ["172.30.77.0/24"], 22, [80, 443])
DEFAULTS = {"incoming": "deny", "outgoing": "allow", "routed": "deny"}


def plan(state=STATE, wanted=WANTED, logging="low", prune=True):
    return filters.firewall_plan(state, wanted, DEFAULTS, logging, prune)


def test_a_converged_firewall_needs_nothing():
    assert plan() == {"commands": [], "describe": []}


def test_a_stray_allow_rule_is_deleted_and_a_missing_one_added():
    stray = STATE.replace("### END RULES ###", "### tuple ### allow tcp 8080 0.0.0.0/0 any 198.51.100.7 in\n"
                          "-A ufw-user-input -p tcp --dport 8080 -s 198.51.100.7 -j ACCEPT\n\n### END RULES ###", 1)
    result = plan(stray, WANTED + filters.firewall_rule_set(["10.9.0.0/16"], [], 22, []))
    assert result["commands"] == [
        ["ufw", "delete", "allow", "proto", "tcp", "from", "198.51.100.7", "to", "0.0.0.0/0", "port", "8080"],
        ["ufw", "allow", "proto", "tcp", "from", "10.9.0.0/16", "to", "0.0.0.0/0", "port", "22", "comment", "ssh"],
    ]
    # Not pruning leaves the stray rule.
    assert len(plan(stray, prune=False)["commands"]) == 0


def test_deny_and_reject_rules_are_left_alone():
    blocked = STATE.replace("### END RULES ###", "### tuple ### deny any any 0.0.0.0/0 any 203.0.113.9 in\n"
                            "-A ufw-user-input -s 203.0.113.9 -j DROP\n\n### END RULES ###", 1)
    assert plan(blocked)["commands"] == []


@pytest.mark.parametrize(("old", "new", "command"), [
    ('DEFAULT_INPUT_POLICY="DROP"', 'DEFAULT_INPUT_POLICY="ACCEPT"', ["ufw", "default", "deny", "incoming"]),
    ("LOGLEVEL=low", "LOGLEVEL=off", ["ufw", "logging", "low"]),
    ("ENABLED=yes", "ENABLED=no", ["ufw", "--force", "enable"]),
])
def test_settings_that_drifted_are_set_back(old, new, command):
    assert old in STATE
    assert plan(STATE.replace(old, new))["commands"] == [command]
