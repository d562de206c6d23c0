"""The opt-in Mitogen strategy (README, Speed): `ANSIBLE_STRATEGY=mitogen_linear` converges
the same stack to the same state. On a drifted stack (an extra ufw rule, a kernel parameter set
back by hand, and the drain flag a restart that failed halfway leaves, which keeps nginx away
from that instance) one run under
Mitogen repairs exactly that drift and reports nothing else to change on any host; the run
really went through Mitogen: its interpreter (`python3(mitogen:...)`) ran on the server."""
from conftest import SERVER, ansible_playbook, assert_changed_exactly, docker_exec
from lifecycle import ProcessSampler

STRAY_RULE = ["ufw", "allow", "from", "198.51.100.8", "to", "any", "port", "8081", "proto", "tcp"]
FIREWALL_TASK = "firewall : Bring ufw to the wanted rules, default policies, logging level and state"
DRAIN_DIR = "/run/mlflow-drain"  # mlflow_drain_flag_dir's default
ROTATION_TASK = "mlflow : Put every MLflow instance in nginx's rotation"
SYSCTL_TASK = "os_hardening : Apply the kernel parameters that differ from the wanted values"
# A key of the container's own network namespace (the others are the machine's kernel's).
DRIFTED_KEY = "net.ipv4.conf.all.log_martians"


def test_a_run_under_mitogen_repairs_the_drift_and_changes_nothing_else():
    docker_exec(SERVER, *STRAY_RULE)
    docker_exec(SERVER, "sh", "-c", f"mkdir -p {DRAIN_DIR} && touch {DRAIN_DIR}/5001")
    docker_exec(SERVER, "sysctl", "-w", f"{DRIFTED_KEY}=0")
    sampler = ProcessSampler()
    sampler.start()
    try:
        run = ansible_playbook("site.yml", env_extra={"ANSIBLE_STRATEGY": "mitogen_linear"})
    finally:
        sampler.stop()
    assert run.returncode == 0, run.stdout[-4000:]
    assert sampler.reads > 0, "the server's command lines were never read"
    assert any("(mitogen:" in sample for sample in sampler.samples), "no Mitogen interpreter ran on the server during the run"
    assert_changed_exactly(run.stdout, {(FIREWALL_TASK, SERVER), (ROTATION_TASK, SERVER), (SYSCTL_TASK, SERVER)})
    assert docker_exec(SERVER, "sysctl", "-n", DRIFTED_KEY).stdout.strip() == "1"
    assert "198.51.100.8" not in docker_exec(SERVER, "ufw", "status").stdout
    assert docker_exec(SERVER, "test", "-e", DRAIN_DIR, check=False).returncode == 1, f"{DRAIN_DIR} is still there"
