# Opt-in speed-up: ANSIBLE_STRATEGY=mitogen_linear runs the playbooks with Mitogen for Ansible
# (pip install mitogen; requirements.txt pins it). Mitogen keeps one Python interpreter per
# host for the whole run and sends modules to it over the SSH connection, instead of starting an
# interpreter per task: a no-op rerun of site.yml takes about half the time (README, Speed).
# This file only makes the strategy findable from ansible.cfg (strategy_plugins) wherever pip
# put the package; without ANSIBLE_STRATEGY set, Ansible never loads it.
from __future__ import annotations

try:
    import ansible_mitogen.loaders
    import ansible_mitogen.strategy
except ImportError as exc:  # pragma: no cover - the message is what the operator needs
    from ansible.errors import AnsibleError

    raise AnsibleError(
        "ANSIBLE_STRATEGY=mitogen_linear needs Mitogen for Ansible in the controller's Python: "
        "pip install mitogen (the version pinned in requirements.txt)"
    ) from exc

Base = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, Base):
    """Ansible's linear strategy, over Mitogen's connections."""
