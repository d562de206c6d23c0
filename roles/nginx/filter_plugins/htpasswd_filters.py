"""htpasswd entries nginx verifies itself, without crypt(3)."""

import base64
import hashlib

from ansible.errors import AnsibleFilterError


def nginx_ssha(password, salt):
    """nginx's {SSHA} scheme: base64(SHA-1(password + salt) + salt).

    For machine-generated random passwords only (>= 128 bits): their entropy, not the hash's
    cost, is what makes guessing infeasible, and nginx checks this in microseconds on every
    request (bcrypt at cost 5 takes ~1.7 ms of CPU per request)."""
    if not isinstance(password, str) or not password or not isinstance(salt, str) or not salt:
        raise AnsibleFilterError("nginx_ssha needs a non-empty password and salt")
    salt_bytes = salt.encode("utf-8")
    digest = hashlib.sha1(password.encode("utf-8") + salt_bytes).digest()  # noqa: S324 - see docstring
    return "{SSHA}" + base64.b64encode(digest + salt_bytes).decode("ascii")


class FilterModule:
    def filters(self):
        return {"nginx_ssha": nginx_ssha}
