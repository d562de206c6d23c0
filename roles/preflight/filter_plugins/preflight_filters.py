"""Input-shape filters for the preflight role (no ansible.utils on the controller)."""

from __future__ import annotations

import ipaddress
import re

# S3 bucket naming rules (general purpose buckets): 3-63 chars, lowercase letters, digits,
# dots and hyphens, starting and ending with a letter or digit, no "..", not IP-shaped,
# none of the reserved prefixes/suffixes.
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_BUCKET_BAD_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_BAD_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


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


def preflight_open_cidrs(value):
    """Return the items of a list of CIDRs that match the whole address space."""
    if not isinstance(value, (list, tuple)):
        return []
    opened = []
    for item in value:
        try:
            if ipaddress.ip_network(str(item), strict=False).prefixlen == 0:
                opened.append(item)
        except ValueError:
            continue
    return opened


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
            "preflight_valid_bucket_name": preflight_valid_bucket_name,
        }
