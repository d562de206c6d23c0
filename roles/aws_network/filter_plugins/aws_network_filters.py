"""The stack's subnets as tasks/vpc.yml wants them, and whether the existing subnets, the
public route table, the internet gateway and the security groups already are so.

A rerun that finds one exactly as its module (ec2_vpc_subnet, ec2_vpc_route_table,
ec2_vpc_igw, ec2_security_group) would leave it skips that module run (about a second each:
boto3's import and the EC2 model). "Exactly" is what the module converges with the role's
arguments; anything else runs the module, which repairs the difference."""


def _strings(tags):
    """Tags as AWS holds them: every value a string."""
    return {key: str(value) for key, value in tags.items()}


def aws_network_subnet_specs(public_cidr, db_subnet_zones, name, tags):
    """[{cidr, az, tags}] of the public subnet (first; in the first database zone) then the
    database subnets ([[CIDR, zone], ...]), each tagged with the stack's tags and its Name."""
    zones = [zone for _cidr, zone in db_subnet_zones]
    specs = [{"cidr": public_cidr, "az": zones[0] if zones else None, "tags": dict(tags, Name=f"{name}-public")}]
    specs += [{"cidr": cidr, "az": zone, "tags": dict(tags, Name=f"{name}-db-{zone}")} for cidr, zone in db_subnet_zones]
    return specs


def aws_network_subnets_as_wanted(existing, specs):
    """{CIDR: subnet id} of the existing subnets (ec2_vpc_subnet_info's) that match their spec:
    the tags (all of them: the module purges the others), no public IP and no IPv6 address on
    launch, no IPv6 block, available; the zone and the CIDR are how it is found."""
    wanted = {spec["cidr"]: spec for spec in specs}
    found = {}
    for subnet in existing or []:
        spec = wanted.get(subnet.get("cidr_block"))
        if (spec is not None
                and subnet.get("state") == "available"
                and subnet.get("availability_zone") == spec["az"]
                and subnet.get("tags") == _strings(spec["tags"])
                and subnet.get("map_public_ip_on_launch") is False
                and subnet.get("assign_ipv6_address_on_creation") is False
                and not subnet.get("ipv6_cidr_block_association_set")):
            found[subnet["cidr_block"]] = subnet["id"]
    return found


def aws_network_route_table_as_wanted(table, tags, subnet_id, gateway_id):
    """Whether the route table (ec2_vpc_route_table_info's) is as tasks/vpc.yml converges it:
    exactly these tags (purge_tags), the one subnet associated (purge_subnets; the VPC's main
    association aside) and the default route to the gateway (purge_routes is off: other
    routes stay, as the module leaves them)."""
    if not table:
        return False
    subnets = [a.get("subnet_id") for a in table.get("associations", []) if not a.get("main") and a.get("subnet_id")]
    default_route = [r for r in table.get("routes", [])
                     if r.get("destination_cidr_block") == "0.0.0.0/0" and r.get("gateway_id") == gateway_id]
    return (table.get("tags") == _strings(tags)
            and subnets == [subnet_id]
            and len(default_route) > 0)


def aws_network_igw_as_wanted(gateways, tags):
    """Whether the internet gateways attached to the VPC (aws_network_info's) are as ec2_vpc_igw
    leaves them: exactly one (the module fails on two), with exactly these tags (purge_tags)."""
    return len(gateways or []) == 1 and gateways[0].get("tags") == _strings(tags)


def _ingress_found(group):
    """{(protocol, from, to, kind, target, description)} of a described group's ingress."""
    found = set()
    for perm in group.get("ip_permissions", []):
        key = (str(perm.get("ip_protocol")), perm.get("from_port"), perm.get("to_port"))
        for grant in perm.get("ip_ranges", []):
            found.add(key + ("ipv4", grant.get("cidr_ip"), grant.get("description")))
        for grant in perm.get("ipv6_ranges", []):
            found.add(key + ("ipv6", grant.get("cidr_ipv6"), grant.get("description")))
        for grant in perm.get("prefix_list_ids", []):
            found.add(key + ("ip_prefix", grant.get("prefix_list_id"), grant.get("description")))
        for grant in perm.get("user_id_group_pairs", []):
            target = (grant.get("user_id", group.get("owner_id")), grant.get("group_id"))
            found.add(key + ("group", target, grant.get("description")))
    return found


def _ingress_wanted(rules, owner_id):
    """The same set for ec2_security_group's rules, in the one form the role writes them: a
    protocol, a list of ports, and CIDRs (a string or a list) or one group id. Any other form
    gives None: no verdict, the module runs."""
    kinds = {"cidr_ip": "ipv4", "cidr_ipv6": "ipv6", "group_id": "group"}
    wanted = set()
    for rule in rules:
        if set(rule) - set(kinds) - {"proto", "ports", "rule_desc"} or "ports" not in rule:
            return None
        for source, kind in kinds.items():
            targets = rule.get(source, [])
            for target in [targets] if isinstance(targets, str) else targets:
                grant = (kind, (owner_id, target) if kind == "group" else target, rule.get("rule_desc"))
                wanted.update((str(rule["proto"]), int(port), int(port)) + grant for port in rule["ports"])
    return wanted


def aws_network_security_group_as_wanted(groups, spec):
    """Whether the security group named spec.name (among aws_network_info's) is as
    ec2_security_group leaves it with spec's description, tags and rules, purge_rules on and no
    rules_egress: its description (the module cannot change it, and warns: a group found with
    another one lets the module run, to warn), exactly these tags (purge_tags), and exactly
    these ingress rules with their descriptions. Egress is not compared: without rules_egress
    the module neither adds nor removes egress rules."""
    found = [group for group in groups or [] if group.get("group_name") == spec["name"]]
    if len(found) != 1:
        return False
    group = found[0]
    wanted = _ingress_wanted(spec["rules"], group.get("owner_id"))
    return (wanted is not None
            and group.get("description") == spec["description"]
            and group.get("tags") == _strings(spec["tags"])
            and _ingress_found(group) == wanted)


class FilterModule:
    def filters(self):
        return {
            "aws_network_subnet_specs": aws_network_subnet_specs,
            "aws_network_subnets_as_wanted": aws_network_subnets_as_wanted,
            "aws_network_route_table_as_wanted": aws_network_route_table_as_wanted,
            "aws_network_igw_as_wanted": aws_network_igw_as_wanted,
            "aws_network_security_group_as_wanted": aws_network_security_group_as_wanted,
        }
