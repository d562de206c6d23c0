"""The secrets loaded twice in one run (playbooks/restore.yml loads them, then imports site.yml,
which loads them again): every basic-auth user is handed to the other roles once. A fact
outlives its play, and the list used to grow on the second load, so nginx's password file got
every user twice, and the next plain run rewrote it. On an emulator of its own, with nothing in
it: the first load generates the secrets, the second reads them."""
from __future__ import annotations

import json
import re

import pytest
from conftest import WALL_TIMES, playbook_runner


@pytest.fixture(scope="module")
def emulator(start_moto, tmp_path_factory):
    with start_moto(tmp_path_factory.mktemp("moto-credentials")) as endpoint:
        yield endpoint


def test_every_basic_auth_user_is_listed_once_when_the_secrets_load_twice(emulator, tmp_path):
    run = playbook_runner(emulator, tmp_path / "credentials")("../tests/aws/credentials_twice.yml")
    WALL_TIMES["credentials loaded twice"] = run.seconds
    assert run.returncode == 0, run.output[-3000:]
    found = re.search(r"auth_users=(\[.*?\])", " ".join(run.output.split()))
    assert found, run.output[-3000:]
    assert json.loads(found.group(1)) == ["alice", "ci-bot"]  # stack_auth_users of inventories/local
