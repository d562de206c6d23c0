"""Edit key/value configuration files (login.defs, ufw's sysctl.conf) in one pass: each key
set on its existing line (commented-out lines count as the key's place) or appended, every
other line left as it is. The role writes the result with one copy task, so a rerun is one
read and one comparison whatever the number of keys (a lineinfile loop costs a round trip per
key), and --diff shows every change at once.

Also: read `sysctl -a` into a dict in Python. The same parse in Jinja (a regex_replace and a
split per line over about 1,000 lines) took 0.16 s each time the role evaluated it."""

import re


def os_hardening_set_keys(text, values, separator="\t", key_pattern=r"[A-Za-z0-9_./-]+", assign=r"\s+"):
    """Return text with every key of `values` set to its value.

    A line `KEY<assign>VALUE` (optionally commented out with '#') is replaced by
    `KEY<separator>VALUE`; keys not found are appended in the order given."""
    done = set()
    out = []
    line_re = re.compile(r"^\s*#?\s*(" + key_pattern + r")(?:" + assign + r")")
    for line in (text or "").splitlines():
        match = line_re.match(line)
        key = match.group(1) if match else None
        if key in values and key not in done:
            out.append(f"{key}{separator}{values[key]}")
            done.add(key)
        elif key in values and key in done and not line.lstrip().startswith("#"):
            continue  # a later active duplicate would override ours: drop it
        else:
            out.append(line)
    out.extend(f"{key}{separator}{value}" for key, value in values.items() if key not in done)
    return "\n".join(out) + "\n"


def os_hardening_sysctl_values(text):
    """Return {key: value} from the output of `sysctl -a` (`key = value` lines), each value's
    runs of whitespace (tabs between the numbers of e.g. tcp_rmem) made one space."""
    values = {}
    for line in (text or "").splitlines():
        key, sep, value = re.sub(r"\s+", " ", line).partition(" = ")
        if sep:
            values[key] = value
    return values


class FilterModule:
    def filters(self):
        return {
            "os_hardening_set_keys": os_hardening_set_keys,
            "os_hardening_sysctl_values": os_hardening_sysctl_values,
        }
