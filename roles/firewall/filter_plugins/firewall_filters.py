"""Filters that turn the firewall role's variables into ufw rules and find drift."""

import ipaddress

ANY = {4: "0.0.0.0/0", 6: "::/0"}


def _network(cidr):
    """Return the ufw spelling of a CIDR: host bits cleared, a single host without prefix."""
    net = ipaddress.ip_network(str(cidr).strip(), strict=False)
    if net.prefixlen == net.max_prefixlen:
        return net, str(net.network_address)
    return net, str(net)


def firewall_invalid_cidrs(cidrs):
    """Return the entries of a list that are not IPv4/IPv6 addresses or networks."""
    bad = []
    for cidr in cidrs or []:
        try:
            _network(cidr)
        except ValueError:
            bad.append(cidr)
    return bad


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


class FilterModule:
    """Firewall role filters."""

    def filters(self):
        return {
            "firewall_invalid_cidrs": firewall_invalid_cidrs,
            "firewall_rule_set": firewall_rule_set,
            "firewall_uncovered": firewall_uncovered,
            "firewall_unwanted_rules": firewall_unwanted_rules,
        }
