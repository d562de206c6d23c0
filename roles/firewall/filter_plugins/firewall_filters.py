"""Filters that turn the firewall role's variables into ufw rules and find drift."""

import ipaddress

ANY = {4: "0.0.0.0/0", 6: "::/0"}


def _network(cidr):
    """Return the ufw spelling of a CIDR: host bits cleared, a single host without prefix."""
    net = ipaddress.ip_network(str(cidr).strip(), strict=False)
    if net.prefixlen == net.max_prefixlen:
        return net, str(net.network_address)
    return net, str(net)


def firewall_uncovered(addresses, cidrs):
    """Return the addresses (strings) that no CIDR of the list contains."""
    nets = [_network(cidr)[0] for cidr in cidrs or []]
    uncovered = []
    for address in addresses or []:
        try:
            ip = ipaddress.ip_address(str(address).strip())
        except ValueError:
            uncovered.append(address)
            continue
        if not any(ip.version == net.version and ip in net for net in nets):
            uncovered.append(address)
    return uncovered


def firewall_rule_set(ssh_cidrs, web_cidrs, ssh_port, web_ports):
    """Return the wanted allow rules as dicts (from_ip, to_ip, port, comment)."""
    rules = []
    seen = set()

    def add(cidr, port, comment):
        net, spelled = _network(cidr)
        key = (spelled, int(port))
        if key in seen:
            return
        seen.add(key)
        rules.append({"from_ip": spelled, "to_ip": ANY[net.version], "port": int(port), "comment": comment})

    for cidr in ssh_cidrs or []:
        add(cidr, ssh_port, "ssh")
    for port in web_ports or []:
        for cidr in web_cidrs or []:
            add(cidr, port, "web")
    return rules


def _parse_tuples(rules_text):
    """Yield the incoming rules of ufw's user.rules/user6.rules as dicts."""
    for line in rules_text.splitlines():
        if not line.startswith("### tuple ###"):
            continue
        fields = line[len("### tuple ###"):].split()
        if fields and fields[-1].startswith("comment="):
            fields = fields[:-1]
        if len(fields) == 7:
            action, proto, dport, dst, sport, src, direction = fields
            dapp = sapp = "-"
        elif len(fields) == 9:
            action, proto, dport, dst, sport, src, dapp, sapp, direction = fields
        else:
            continue
        yield {
            "action": action, "proto": proto, "dport": dport, "dst": dst,
            "sport": sport, "src": src, "dapp": dapp, "sapp": sapp, "direction": direction,
        }


def firewall_unwanted_rules(rules_text, wanted):
    """Return the incoming allow/limit rules present in ufw that are not wanted.

    deny/reject rules are left alone on purpose (manual blocks).
    Each result is shaped for community.general.ufw with delete=true.
    """
    wanted_keys = {
        ("allow", "tcp", str(rule["port"]), rule["to_ip"], "any", rule["from_ip"], "-", "-")
        for rule in wanted
    }
    unwanted = []
    for rule in _parse_tuples(rules_text):
        if rule["direction"] != "in" or rule["action"].split("_")[0] not in ("allow", "limit"):
            continue
        key = (rule["action"], rule["proto"], rule["dport"], rule["dst"], rule["sport"],
               rule["src"], rule["dapp"], rule["sapp"])
        if key in wanted_keys:
            continue
        item = {
            "action": rule["action"].split("_")[0],
            "proto": rule["proto"],
            "from_ip": rule["src"],
            "to_ip": rule["dst"],
        }
        if rule["dapp"] != "-":
            item["app"] = rule["dapp"].replace("%20", " ")
        elif rule["dport"] != "any":
            item["to_port"] = rule["dport"]
        if rule["sport"] != "any" and rule["sapp"] == "-":
            item["from_port"] = rule["sport"]
        unwanted.append(item)
    return unwanted


_POLICIES = {"DROP": "deny", "REJECT": "reject", "ACCEPT": "allow"}
_DIRECTIONS = (("DEFAULT_INPUT_POLICY", "incoming"), ("DEFAULT_OUTPUT_POLICY", "outgoing"),
               ("DEFAULT_FORWARD_POLICY", "routed"))


def _sections(state_text):
    """Split the output of `cat` with "==> path" markers into {path: content}."""
    sections, current = {}, None
    for line in state_text.splitlines():
        if line.startswith("==> "):
            current = line[4:].strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return {path: "\n".join(lines) for path, lines in sections.items()}


def _settings(text):
    values = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            values[key.strip()] = value.strip().strip('"')
    return values


def firewall_plan(state_text, wanted, defaults, logging, prune=True):
    """Compare ufw's files (user.rules, user6.rules, /etc/default/ufw, ufw.conf, as read by
    the role) with the wanted state; return the ufw commands that converge it (argv lists, in
    order: unwanted allow/limit rules deleted, missing rules added, default policies, logging
    level, enable) and a one-line description of each. Empty lists: nothing to do."""
    files = _sections(state_text)
    rules_text = files.get("/etc/ufw/user.rules", "") + "\n" + files.get("/etc/ufw/user6.rules", "")
    policies = _settings(files.get("/etc/default/ufw", ""))
    conf = _settings(files.get("/etc/ufw/ufw.conf", ""))
    commands, described = [], []

    if prune:
        for rule in firewall_unwanted_rules(rules_text, wanted):
            argv = ["ufw", "delete", rule["action"]]
            if rule["proto"] != "any":
                argv += ["proto", rule["proto"]]
            argv += ["from", rule["from_ip"]]
            if "from_port" in rule:
                argv += ["port", rule["from_port"]]
            argv += ["to", rule["to_ip"]]
            if "app" in rule:
                argv += ["app", rule["app"]]
            elif "to_port" in rule:
                argv += ["port", rule["to_port"]]
            commands.append(argv)
            described.append("remove " + " ".join(argv[2:]))

    present = {
        (r["proto"], r["dport"], r["dst"], r["src"])
        for r in _parse_tuples(rules_text)
        if r["direction"] == "in" and r["action"] == "allow" and r["dapp"] == "-" and r["sport"] == "any"
    }
    for rule in wanted:
        if ("tcp", str(rule["port"]), rule["to_ip"], rule["from_ip"]) in present:
            continue
        argv = ["ufw", "allow", "proto", "tcp", "from", rule["from_ip"], "to", rule["to_ip"],
                "port", str(rule["port"]), "comment", rule["comment"]]
        commands.append(argv)
        described.append("add " + " ".join(argv[1:10]))

    for key, direction in _DIRECTIONS:
        want = defaults[direction]
        if _POLICIES.get(policies.get(key, ""), "") != want:
            commands.append(["ufw", "default", want, direction])
            described.append(f"default {want} {direction} (was {policies.get(key, 'unset')})")

    if conf.get("LOGLEVEL", "") != logging:
        commands.append(["ufw", "logging", logging])
        described.append(f"logging {logging} (was {conf.get('LOGLEVEL', 'unset')})")

    if conf.get("ENABLED", "") != "yes":
        # Rules changed while ufw is active are loaded at once; `ufw enable` loads them (and
        # at every boot from then on) when it was not.
        commands.append(["ufw", "--force", "enable"])
        described.append("enable ufw (was disabled)")
    return {"commands": commands, "describe": described}


class FilterModule:
    """Firewall role filters."""

    def filters(self):
        return {
            "firewall_plan": firewall_plan,
            "firewall_rule_set": firewall_rule_set,
            "firewall_uncovered": firewall_uncovered,
            "firewall_unwanted_rules": firewall_unwanted_rules,
        }
