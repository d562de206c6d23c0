"""`make demo` fails clearly, before changing anything, when Docker is missing and cannot be
installed, or when the HTTPS port is taken (scripts/local-stack.sh check)."""
import os
import pathlib
import pwd
import shutil
import socket
import subprocess
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "local-stack.sh"


def containers():
    """The local stack's containers (make test runs the molecule scenario's own beside these tests)."""
    if not shutil.which("docker"):
        return set()
    out = subprocess.run(["docker", "ps", "-a", "--filter", "name=^mlflow-local-", "--format", "{{.Names}}"],
                         capture_output=True, text=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("variable", ["LOCAL_HTTPS_PORT", "LOCAL_SSH_PORT"])
def test_a_taken_port_is_refused_before_any_change(variable):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = containers()
        run = subprocess.run(["bash", str(SCRIPT), "up"], env={**os.environ, variable: str(port)},
                             capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert f"port {port} on 127.0.0.1 is taken" in run.stderr and variable in run.stderr
    assert containers() == before


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the check as an unprivileged user")
def test_missing_docker_that_cannot_be_installed_is_refused_before_any_change():
    # An unprivileged user on a PATH without docker: nothing can be installed or started.
    tmp_path = pathlib.Path(tempfile.mkdtemp(prefix="no-docker-"))
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("bash", "id", "python3", "dirname", "seq", "sleep", "grep", "cat", "printf"):
        found = shutil.which(tool)
        if found:
            (bindir / tool).symlink_to(found)
    tmp_path.chmod(0o755)
    bindir.chmod(0o755)
    nobody = pwd.getpwnam("nobody")
    before = containers()
    run = subprocess.run(["bash", str(SCRIPT), "up"], env={"PATH": str(bindir), "HOME": str(tmp_path)},
                         user=nobody.pw_uid, group=nobody.pw_gid, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "Docker is needed for the local stack" in run.stderr
    assert "missing:" in run.stderr and "docker.io" in run.stderr
    assert containers() == before
    shutil.rmtree(tmp_path)
