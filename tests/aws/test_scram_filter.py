"""The database_users role's scram_sha256 filter produces what PostgreSQL itself stores."""
from __future__ import annotations

import base64
import importlib.util
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

_PATH = Path(__file__).resolve().parents[2] / "roles" / "database_users" / "filter_plugins" / "scram.py"
_SPEC = importlib.util.spec_from_file_location("scram", _PATH)
scram = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(scram)

# Read from pg_authid after `CREATE ROLE vec_test PASSWORD 'Vector-Test-Password-42'` on
# PostgreSQL 15 (password_encryption = scram-sha-256).
POSTGRES_VERIFIER = (
    "SCRAM-SHA-256$4096:gNZmGBWo+Vn7Lza366VjPg==$iZNdHaJGWRtmTs/FXt5ggtyvnk4LlBq3o8s/P7bx0As="
    ":XZv8aHjYgfLQ13VOFbM3wjOJ56bU/d0SMtw9OGOfFbY="
)


def test_matches_the_verifier_postgresql_computed():
    assert scram.scram_sha256("Vector-Test-Password-42", salt="gNZmGBWo+Vn7Lza366VjPg==") == POSTGRES_VERIFIER


def test_other_password_gives_another_verifier():
    assert scram.scram_sha256("Vector-Test-Password-43", salt="gNZmGBWo+Vn7Lza366VjPg==") != POSTGRES_VERIFIER


def test_random_salt_of_16_bytes_each_time():
    first, second = scram.scram_sha256("Same-Password-1234"), scram.scram_sha256("Same-Password-1234")
    assert first != second
    salt = first.split("$")[1].split(":")[1]
    assert len(base64.b64decode(salt)) == 16 and first.startswith("SCRAM-SHA-256$4096:")


@pytest.mark.parametrize("bad", ["", "has space inside", "non-ascii-é-password", None])
def test_refuses_what_it_cannot_hash_like_postgresql(bad):
    with pytest.raises(AnsibleFilterError):
        scram.scram_sha256(bad)
