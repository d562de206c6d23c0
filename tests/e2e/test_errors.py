"""Real errors are shown, in the failing system's own words, with no secret in them (issue
#17 item 3): tasks that hide their output because they hold a password still say why they
failed."""
from conftest import CREDENTIALS, ansible_playbook, psql

CHANGED_ELSEWHERE = "Changed-Behind-The-Stacks-Back-42"


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
