"""The opt-in Mitogen strategy (README, Speed): `ANSIBLE_STRATEGY=mitogen_linear` converges
the same stack to the same state. On a drifted stack (an extra ufw rule) one run under Mitogen
repairs exactly that drift and reports nothing else to change on any host; the run really went
through Mitogen: its interpreter (`python3(mitogen:...)`) ran on the server."""
import threading

from conftest import SERVER, ansible_playbook, changed_tasks, docker_exec, recap

STRAY_RULE = ["ufw", "allow", "from", "198.51.100.8", "to", "any", "port", "8081", "proto", "tcp"]
FIREWALL_TASK = "firewall : Bring ufw to the wanted rules, default policies, logging level and state"


def test_a_run_under_mitogen_repairs_the_drift_and_changes_nothing_else():
    docker_exec(SERVER, *STRAY_RULE)
    seen, done = [], threading.Event()

    def sample():
        while not done.wait(1):
            found = docker_exec(SERVER, "pgrep", "-af", "[(]mitogen:", check=False).stdout.strip()
            if found:
                seen.append(found)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        run = ansible_playbook("site.yml", env_extra={"ANSIBLE_STRATEGY": "mitogen_linear"})
    finally:
        done.set()
        sampler.join()
    assert run.returncode == 0, run.stdout[-4000:]
    assert seen, "no Mitogen interpreter ran on the server during the run"
    assert changed_tasks(run.stdout) == {(FIREWALL_TASK, SERVER)}, run.stdout[-4000:]
    for host, counts in recap(run.stdout).items():
        counts.pop("ok")
        assert counts == {"changed": 1 if host == SERVER else 0, "unreachable": 0, "failed": 0}, (host, run.stdout[-4000:])
    assert "198.51.100.8" not in docker_exec(SERVER, "ufw", "status").stdout
