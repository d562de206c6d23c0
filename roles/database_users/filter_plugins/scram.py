"""scram_sha256: a PostgreSQL SCRAM-SHA-256 verifier for a password (RFC 5802/7677, as
PostgreSQL stores it in pg_authid.rolpassword).

Sending the verifier instead of the password (`ALTER ROLE ... PASSWORD 'SCRAM-SHA-256$...'`)
keeps the password itself out of the server's statement log (RDS's log_statement=ddl/all)
and off the wire. PostgreSQL stores such a value as is.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os

from ansible.errors import AnsibleFilterError

# PostgreSQL's default (scram_iterations, PostgreSQL 16+; fixed in 15).
ITERATIONS = 4096


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def scram_sha256(password, salt=None, iterations=ITERATIONS):
    """Return SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>.

    `salt` (bytes or base64 text) is for tests; by default 16 random bytes, as PostgreSQL uses.
    No SASLprep normalisation is applied: it leaves printable ASCII unchanged, and only such
    passwords are accepted (as the preflight requires of database passwords)."""
    if not isinstance(password, str) or not password:
        raise AnsibleFilterError("scram_sha256 needs a non-empty string")
    if any(ord(c) > 0x7E or ord(c) < 0x21 for c in password):
        raise AnsibleFilterError("scram_sha256 only hashes printable ASCII passwords")
    if salt is None:
        salt_bytes = os.urandom(16)
    elif isinstance(salt, bytes):
        salt_bytes = salt
    else:
        salt_bytes = base64.b64decode(salt)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt_bytes, int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return f"SCRAM-SHA-256${int(iterations)}:{_b64(salt_bytes)}${_b64(stored_key)}:{_b64(server_key)}"


class FilterModule:
    def filters(self):
        return {"scram_sha256": scram_sha256}
