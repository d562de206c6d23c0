"""Input-shape filters for the preflight role (no ansible.utils on the controller)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re

# S3 bucket naming rules (general purpose buckets): 3-63 chars, lowercase letters, digits,
# dots and hyphens, starting and ending with a letter or digit, no "..", not IP-shaped,
# none of the reserved prefixes/suffixes.
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_BUCKET_BAD_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_BAD_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


# Basic-auth user names: the htpasswd format splits on the first colon, and the names also
# end up in file names of the credentials directory.
_USER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_DNS_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_PEM_BLOCK_RE = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END ([A-Z0-9 ]+)-----", re.S)
_PASSWORD_CLASSES = (
    re.compile(r"[a-z]"),
    re.compile(r"[A-Z]"),
    re.compile(r"[0-9]"),
    re.compile(r"[^a-zA-Z0-9]"),
)


def preflight_password_problems(value, min_length=16, single_class_length=24):
    """Describe why a password is weak, as phrases that never contain the password itself.

    A password needs min_length characters and at least two kinds of characters (lowercase,
    uppercase, digits, others); one kind is accepted from single_class_length characters on
    (a long random string of one kind still has enough entropy). A handful of distinct
    characters repeated is refused whatever its length.
    """
    if not isinstance(value, str):
        return ["is not a string"]
    problems = []
    if len(value) < int(min_length):
        problems.append(f"is shorter than {int(min_length)} characters")
    classes = sum(1 for pattern in _PASSWORD_CLASSES if pattern.search(value))
    if classes < 2 and len(value) < int(single_class_length):
        problems.append(
            f"uses one kind of character only (mix lowercase, uppercase, digits or symbols, or use {int(single_class_length)}+ characters)"
        )
    if value and len(set(value)) < 8:
        problems.append("repeats fewer than 8 distinct characters")
    return problems


def preflight_invalid_user_names(value):
    """Return the items of a list that cannot be basic-auth user names."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        return [value]
    return [item for item in value if not isinstance(item, str) or not _USER_NAME_RE.match(item)]


def preflight_duplicates(value):
    """Return the items that occur more than once in a list, once each, in order."""
    if not isinstance(value, (list, tuple)):
        return []
    seen, duplicates = set(), []
    for item in value:
        key = str(item)
        if key in seen and item not in duplicates:
            duplicates.append(item)
        seen.add(key)
    return duplicates


def preflight_valid_host_name(value):
    """Tell whether a string is an IPv4/IPv6 address or a DNS name (letters, digits, hyphens)."""
    if not isinstance(value, str) or not value:
        return False
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    name = value[:-1] if value.endswith(".") else value
    if len(name) > 253 or re.fullmatch(r"[0-9.]+", name):
        return False
    return all(_DNS_LABEL_RE.match(label) for label in name.split("."))


def preflight_pem_labels(value):
    """Return the label of every PEM block in a string ("CERTIFICATE", "PRIVATE KEY", ...).

    A block whose END label differs from its BEGIN label, or whose body is not base64,
    is returned as "INVALID"; text without any block gives an empty list.
    """
    if not isinstance(value, str):
        return []
    labels = []
    for begin, body, end in _PEM_BLOCK_RE.findall(value):
        # Encrypted traditional keys carry "Proc-Type:"/"DEK-Info:" headers before the body.
        lines = [line.strip() for line in body.strip().splitlines() if line.strip() and ":" not in line]
        try:
            base64.b64decode("".join(lines), validate=True)
            valid = begin == end and bool(lines)
        except (binascii.Error, ValueError):
            valid = False
        labels.append(begin if valid else "INVALID")
    if value.count("-----BEGIN ") != len(labels):
        labels.append("INVALID")
    return labels


def preflight_certificate_covers(subject_alt_names, name):
    """Tell whether a certificate's subjectAltName list ("DNS:x", "IP:y") covers a host name.

    A wildcard covers exactly one leftmost label (*.example.com covers a.example.com only).
    """
    if not isinstance(name, str) or not name:
        return False
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        address = None
    wanted = name.rstrip(".").lower()
    for entry in subject_alt_names or []:
        kind, _, value = str(entry).partition(":")
        if kind == "IP" and address is not None:
            try:
                if ipaddress.ip_address(value) == address:
                    return True
            except ValueError:
                continue
        elif kind == "DNS" and address is None:
            pattern = value.rstrip(".").lower()
            if pattern == wanted:
                return True
            if pattern.startswith("*.") and "." in wanted and wanted.split(".", 1)[1] == pattern[2:]:
                return True
    return False


def preflight_invalid_cidrs(value):
    """Return the items of a list that are not valid IPv4/IPv6 networks in CIDR notation."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        return [value]
    invalid = []
    for item in value:
        try:
            if "/" not in str(item):
                raise ValueError(item)
            ipaddress.ip_network(str(item), strict=True)
        except ValueError:
            invalid.append(item)
    return invalid


def _networks(value):
    """(item, network) for each item of a list of CIDRs that parses (host bits allowed)."""
    if not isinstance(value, (list, tuple)):
        return
    for item in value:
        try:
            yield item, ipaddress.ip_network(str(item), strict=False)
        except ValueError:
            continue


def preflight_open_cidrs(value):
    """Return the items of a list of CIDRs that match the whole address space."""
    return [item for item, network in _networks(value) if network.prefixlen == 0]


# Networks reserved for documentation (RFC 5737, RFC 3849): examples, never a real client.
_DOCUMENTATION_NETWORKS = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]


def preflight_documentation_cidrs(value):
    """Return the items of a list of CIDRs that lie in a documentation range (an example left in)."""
    return [item for item, network in _networks(value)
            if any(network.version == doc.version and network.subnet_of(doc) for doc in _DOCUMENTATION_NETWORKS)]


def preflight_valid_bucket_name(value):
    """Tell whether a string follows the S3 general purpose bucket naming rules."""
    if not isinstance(value, str) or not _BUCKET_RE.match(value):
        return False
    if ".." in value or value.startswith(_BUCKET_BAD_PREFIXES) or value.endswith(_BUCKET_BAD_SUFFIXES):
        return False
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return True
    return False


class FilterModule:
    """Filters used by roles/preflight/tasks/*.yml."""

    def filters(self):
        return {
            "preflight_invalid_cidrs": preflight_invalid_cidrs,
            "preflight_open_cidrs": preflight_open_cidrs,
            "preflight_documentation_cidrs": preflight_documentation_cidrs,
            "preflight_valid_bucket_name": preflight_valid_bucket_name,
            "preflight_password_problems": preflight_password_problems,
            "preflight_invalid_user_names": preflight_invalid_user_names,
            "preflight_duplicates": preflight_duplicates,
            "preflight_valid_host_name": preflight_valid_host_name,
            "preflight_pem_labels": preflight_pem_labels,
            "preflight_certificate_covers": preflight_certificate_covers,
        }
