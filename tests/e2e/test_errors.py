"""Real errors are shown, in the failing system's own words, with no secret in them (issue
#17 item 3): tasks that hide their output because they hold a password still say why they
failed; a host whose sshd undoes the hardening is named as such."""
from conftest import CREDENTIALS, SERVER, ansible_playbook, docker_exec, psql

CHANGED_ELSEWHERE = "Changed-Behind-The-Stacks-Back-42"
SSHD_CONFIG = "/etc/ssh/sshd_config"


def test_a_wrong_master_password_is_reported_in_postgresqls_words_without_a_secret():
    """RDS's master password was changed outside the stack (console, another clone's run):
    the run stops at the first login and says so, without showing either password."""
    master = (CREDENTIALS / "db_password").read_text().strip()
    psql(f"ALTER ROLE mlflow PASSWORD '{CHANGED_ELSEWHERE}';")
    try:
        run = ansible_playbook("site.yml", "--tags", "mlflow", "-e", "database_users_login_timeout=5")
    finally:
        psql(f"ALTER ROLE mlflow PASSWORD '{master}';")
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert 'password authentication failed for user "mlflow"' in output, output[-3000:]
    assert "cannot log in to mlflow-local-postgres:5432/mlflow" in " ".join(output.split())
    assert master not in output and CHANGED_ELSEWHERE not in output


def test_an_sshd_match_block_that_undoes_the_hardening_stops_the_run_and_names_it():
    """Someone adds a Match block for the login to sshd_config (it wins over the role's drop-in
    for that login): the run stops before anything trusts the hardening, and says which setting
    sshd really applies."""
    original = docker_exec(SERVER, "cat", SSHD_CONFIG).stdout
    docker_exec(SERVER, "sh", "-c", f"printf 'Match User admin\\n    X11Forwarding yes\\n' >> {SSHD_CONFIG}")
    try:
        run = ansible_playbook("site.yml", "--tags", "ssh_hardening")
    finally:
        docker_exec(SERVER, "sh", "-c", f"cat > {SSHD_CONFIG}", input_text=original)
    output = " ".join((run.stdout + run.stderr).split())
    assert run.returncode != 0
    assert "sshd applies other values than the role's" in output, output[-3000:]
    assert "'x11forwarding': ['no', 'yes']" in output, output[-3000:]
    assert docker_exec(SERVER, "cat", SSHD_CONFIG).stdout == original
