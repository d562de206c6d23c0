"""scripts/ensure-venv.sh installs only what is asked and only when it changed: `make demo` the
playbooks' needs (requirements.txt), `make test` the test tooling on top (requirements-dev.txt).
Run on a copy of the script with a stand-in pip that records its calls (nothing downloaded)."""
import pathlib
import shutil
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]


def make_checkout(tmp_path):
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "ensure-venv.sh", tmp_path / "scripts")
    (tmp_path / "requirements.txt").write_text("ansible==1\n")
    (tmp_path / "requirements-dev.txt").write_text("-r requirements.txt\npytest==1\n")
    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(shutil.which("python3"))
    pip = venv_bin / "pip"
    pip.write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/pip-calls\n')
    pip.chmod(0o755)
    return tmp_path


def ensure(checkout, *args):
    """The files pip was asked to install in this call (`-r <file>`)."""
    calls = checkout / "pip-calls"
    calls.write_text("")
    subprocess.run(["bash", str(checkout / "scripts" / "ensure-venv.sh"), *args], check=True,
                   capture_output=True, text=True, timeout=60)
    return [line.split(" -r ")[1].rsplit("/", 1)[1] for line in calls.read_text().splitlines()
            if " -r " in line]


def test_the_demo_installs_the_playbooks_needs_once_and_a_test_venv_holds_them(tmp_path):
    checkout = make_checkout(tmp_path)
    assert ensure(checkout, "runtime") == ["requirements.txt"]
    assert ensure(checkout, "runtime") == []
    assert ensure(checkout) == ["requirements-dev.txt"]
    assert ensure(checkout) == []
    assert ensure(checkout, "runtime") == []


def test_a_test_venv_needs_nothing_more_for_the_demo_and_a_changed_pin_is_installed_again(tmp_path):
    checkout = make_checkout(tmp_path)
    assert ensure(checkout) == ["requirements-dev.txt"]
    assert ensure(checkout, "runtime") == []
    (checkout / "requirements.txt").write_text("ansible==2\n")
    assert ensure(checkout, "runtime") == ["requirements.txt"]
    assert ensure(checkout, "runtime") == []
    assert ensure(checkout) == ["requirements-dev.txt"]
    (checkout / "requirements-dev.txt").write_text("-r requirements.txt\npytest==2\n")
    assert ensure(checkout, "runtime") == []
    assert ensure(checkout) == ["requirements-dev.txt"]


def test_an_unknown_set_is_refused(tmp_path):
    checkout = make_checkout(tmp_path)
    run = subprocess.run(["bash", str(checkout / "scripts" / "ensure-venv.sh"), "prod"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "unknown set 'prod'" in run.stderr
    assert not (checkout / "pip-calls").exists()
