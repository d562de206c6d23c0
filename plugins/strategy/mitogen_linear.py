# Copyright: mlflow-ansible contributors
# Apache License 2.0 (see LICENSE)
"""The project's default strategy (ansible.cfg): Mitogen's linear strategy when the Mitogen
package is installed (requirements-dev.txt pins it), Ansible's own linear strategy otherwise.

Mitogen keeps one Python interpreter per host for the whole run and sends modules over that
channel, instead of starting a new interpreter (and re-importing boto3) for every task: a no-op
rerun of site.yml takes about a third less time (README, "Performance"). Task order, results
and check mode are the linear strategy's. With Mitogen, module arguments never appear on a
command line of the controller or the server (no `/bin/sh -c` per task).

Without the package (e.g. a system-wide Ansible), or with ANSIBLE_STRATEGY=linear, plays run
exactly as before, only slower.
"""
from __future__ import annotations

from ansible.plugins.loader import strategy_loader
from ansible.utils.display import Display

try:
    import ansible_mitogen.loaders
    import ansible_mitogen.strategy
except ImportError:
    ansible_mitogen = None

if ansible_mitogen is not None:
    Base = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)

    class StrategyModule(ansible_mitogen.strategy.StrategyMixin, Base):
        """Mitogen's linear strategy."""

else:
    Base = strategy_loader.get("linear", class_only=True)

    class StrategyModule(Base):
        """Ansible's linear strategy: Mitogen is not installed (pip install -r requirements-dev.txt)."""

        def __init__(self, *args, **kwargs):
            Display().warning("Mitogen is not installed: running with Ansible's linear strategy (slower). "
                              "pip install -r requirements-dev.txt installs it.")
            super().__init__(*args, **kwargs)
