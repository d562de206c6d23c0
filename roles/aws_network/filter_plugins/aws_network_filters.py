"""The stack's subnets as tasks/vpc.yml wants them, and whether the existing subnets and the
public route table already are so.

A rerun that finds one exactly as its module (ec2_vpc_subnet, ec2_vpc_route_table) would leave
it skips that module run (about a second each: boto3's import and the EC2 model). "Exactly" is
what the module converges with the role's arguments; anything else runs the module, which
repairs the difference."""


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
                and subnet.get("tags") == {key: str(value) for key, value in spec["tags"].items()}
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
    return (table.get("tags") == {key: str(value) for key, value in tags.items()}
            and subnets == [subnet_id]
            and len(default_route) > 0)


class FilterModule:
    def filters(self):
        return {
            "aws_network_subnet_specs": aws_network_subnet_specs,
            "aws_network_subnets_as_wanted": aws_network_subnets_as_wanted,
            "aws_network_route_table_as_wanted": aws_network_route_table_as_wanted,
        }
