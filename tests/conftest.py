"""Fixtures shared by every test suite of the project."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_moto(workdir: Path, extra_env: dict[str, str] | None = None):
    """moto's server mode on a free port of 127.0.0.1, until the block ends; yields its URL."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = workdir / "moto_server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                # moto's request recorder (off until a test starts it) writes here, not in the cwd.
                "MOTO_RECORDER_FILEPATH": str(workdir / "recording.jsonl"),
                **(extra_env or {}),
            },
            cwd=workdir,
        )
    try:
        # `make test` starts it in the idle CPU class beside a molecule converge: give its
        # start-up (importing moto) the time the CPU may take to reach it.
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start, see {log}") from None
                time.sleep(0.2)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory):
    """An AWS emulator (moto's server mode) on 127.0.0.1 for the whole test session."""
    with running_moto(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def start_moto():
    """running_moto, for tests that need an emulator of their own (e.g. one enforcing IAM)."""
    return running_moto
