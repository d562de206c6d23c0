"""Which existing subnets, route table, internet gateway and security groups a rerun finds as
wanted (roles/aws_network/filter_plugins/): only those their module would leave as they are,
so that skipping the module never skips a repair. Each difference the module converges makes
the resource not as wanted (tests/aws/test_network_verdict.py asks the modules themselves)."""
import importlib.util
import pathlib

import pytest

HERE = pathlib.Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location(
    "aws_network_filters", HERE.parents[1] / "roles" / "aws_network" / "filter_plugins" / "aws_network_filters.py")
filters = importlib.util.module_from_spec(spec)
spec.loader.exec_module(filters)

TAGS = {"Project": "mlflow", "Env": "local"}
SPECS = filters.aws_network_subnet_specs(
    "10.42.0.0/24", [["10.42.10.0/24", "us-east-1a"], ["10.42.11.0/24", "us-east-1b"]], "stack", TAGS)


def subnet(cidr, zone, name, number, **changes):
    """A subnet as ec2_vpc_subnet_info returns it, as the role leaves it unless changed."""
    return {"id": f"subnet-{number}", "cidr_block": cidr, "availability_zone": zone, "state": "available",
            "tags": {**TAGS, "Name": name}, "map_public_ip_on_launch": False,
            "assign_ipv6_address_on_creation": False, "ipv6_cidr_block_association_set": [], **changes}


CONVERGED = [subnet("10.42.0.0/24", "us-east-1a", "stack-public", 1),
             subnet("10.42.10.0/24", "us-east-1a", "stack-db-us-east-1a", 2),
             subnet("10.42.11.0/24", "us-east-1b", "stack-db-us-east-1b", 3)]


def test_the_specs_name_the_public_subnet_first_in_the_first_database_zone():
    assert [(s["cidr"], s["az"], s["tags"]["Name"]) for s in SPECS] == [
        ("10.42.0.0/24", "us-east-1a", "stack-public"),
        ("10.42.10.0/24", "us-east-1a", "stack-db-us-east-1a"),
        ("10.42.11.0/24", "us-east-1b", "stack-db-us-east-1b")]
    assert all(s["tags"]["Project"] == "mlflow" for s in SPECS)


def test_a_converged_network_has_every_subnet_as_wanted():
    assert filters.aws_network_subnets_as_wanted(CONVERGED, SPECS) == {
        "10.42.0.0/24": "subnet-1", "10.42.10.0/24": "subnet-2", "10.42.11.0/24": "subnet-3"}


@pytest.mark.parametrize("changes", [
    {"tags": {**TAGS, "Name": "stack-public", "added-by-hand": "yes"}},
    {"tags": {"Name": "stack-public"}},
    {"tags": {**TAGS, "Project": "other", "Name": "stack-public"}},
    {"map_public_ip_on_launch": True},
    {"assign_ipv6_address_on_creation": True},
    {"ipv6_cidr_block_association_set": [{"ipv6_cidr_block": "2600:1f18::/64"}]},
    {"availability_zone": "us-east-1c"},
    {"state": "pending"},
], ids=["extra tag", "stack tags gone", "tag value changed", "public ip on launch", "ipv6 on launch",
        "ipv6 block", "other zone", "not available"])
def test_any_difference_the_module_converges_runs_the_module(changes):
    drifted = [subnet("10.42.0.0/24", "us-east-1a", "stack-public", 1, **changes)] + CONVERGED[1:]
    assert "10.42.0.0/24" not in filters.aws_network_subnets_as_wanted(drifted, SPECS)
    assert set(filters.aws_network_subnets_as_wanted(drifted, SPECS)) == {"10.42.10.0/24", "10.42.11.0/24"}


def test_a_missing_subnet_or_one_of_another_cidr_is_not_as_wanted():
    stray = subnet("10.42.99.0/24", "us-east-1a", "stack-public", 9)
    assert filters.aws_network_subnets_as_wanted(CONVERGED[1:] + [stray], SPECS) == {
        "10.42.10.0/24": "subnet-2", "10.42.11.0/24": "subnet-3"}
    assert filters.aws_network_subnets_as_wanted([], SPECS) == {}


TABLE = {"id": "rtb-1", "tags": {**TAGS, "Name": "stack-public"},
         "associations": [{"main": False, "subnet_id": "subnet-1"}],
         "routes": [{"destination_cidr_block": "10.42.0.0/16", "gateway_id": "local"},
                    {"destination_cidr_block": "0.0.0.0/0", "gateway_id": "igw-1"},
                    {"destination_cidr_block": "172.16.0.0/12", "vpc_peering_connection_id": "pcx-1"}]}


def route_table_as_wanted(table):
    return filters.aws_network_route_table_as_wanted(table, {**TAGS, "Name": "stack-public"}, "subnet-1", "igw-1")


def test_a_converged_route_table_is_as_wanted_with_the_routes_someone_added():
    assert route_table_as_wanted(TABLE)


@pytest.mark.parametrize("changes", [
    {"tags": {**TAGS, "Name": "stack-public", "added-by-hand": "yes"}},
    {"tags": {"Name": "stack-public"}},
    {"associations": []},
    {"associations": [{"main": False, "subnet_id": "subnet-1"}, {"main": False, "subnet_id": "subnet-2"}]},
    {"associations": [{"main": True}]},
    {"routes": TABLE["routes"][:1]},
    {"routes": [{"destination_cidr_block": "0.0.0.0/0", "gateway_id": "igw-other"}]},
    {"routes": [{"destination_cidr_block": "0.0.0.0/0", "nat_gateway_id": "nat-1"}]},
], ids=["extra tag", "stack tags gone", "public subnet not associated", "another subnet associated",
        "main association only", "default route gone", "default route to another gateway", "default route to a NAT"])
def test_any_difference_the_route_table_module_converges_runs_it(changes):
    assert not route_table_as_wanted({**TABLE, **changes})


def test_no_route_table_is_not_as_wanted():
    assert not route_table_as_wanted({})


OWNER = "123456789012"
WEB = {"name": "stack-web", "description": "web", "tags": {"Project": "mlflow", "Cost": 42},
       "rules": [{"proto": "tcp", "ports": [80, 443], "cidr_ip": ["0.0.0.0/0"], "rule_desc": "HTTP(S)"},
                 {"proto": "tcp", "ports": [22], "cidr_ipv6": "2001:db8::/32", "rule_desc": "SSH"}]}
DB = {"name": "stack-db", "description": "db", "tags": {},
      "rules": [{"proto": "tcp", "ports": ["5432"], "group_id": "sg-web", "rule_desc": "PostgreSQL"}]}


def permission(port, **grants):
    return {"ip_protocol": "tcp", "from_port": port, "to_port": port, "ip_ranges": [], "ipv6_ranges": [],
            "prefix_list_ids": [], "user_id_group_pairs": [], **grants}


def group(spec, permissions, **changes):
    """A security group as aws_network_info returns it (ec2_security_group_info's shape)."""
    return {"id": f"sg-{spec['name']}", "group_name": spec["name"], "description": spec["description"],
            "owner_id": OWNER, "tags": {k: str(v) for k, v in spec["tags"].items()}, "ip_permissions": permissions,
            "ip_permissions_egress": [{"ip_protocol": "-1", "ip_ranges": [{"cidr_ip": "0.0.0.0/0"}]}], **changes}


WEB_PERMISSIONS = [permission(80, ip_ranges=[{"cidr_ip": "0.0.0.0/0", "description": "HTTP(S)"}]),
                   permission(443, ip_ranges=[{"cidr_ip": "0.0.0.0/0", "description": "HTTP(S)"}]),
                   permission(22, ipv6_ranges=[{"cidr_ipv6": "2001:db8::/32", "description": "SSH"}])]
DB_PERMISSIONS = [permission(5432, user_id_group_pairs=[{"user_id": OWNER, "group_id": "sg-web", "description": "PostgreSQL"}])]


def test_converged_security_groups_are_as_wanted_whatever_their_egress():
    found = [group(WEB, WEB_PERMISSIONS, ip_permissions_egress=[]), group(DB, DB_PERMISSIONS)]
    assert filters.aws_network_security_group_as_wanted(found, WEB)
    assert filters.aws_network_security_group_as_wanted(found, DB)


@pytest.mark.parametrize("found", [
    [],  # not there
    [group(WEB, WEB_PERMISSIONS), group(WEB, WEB_PERMISSIONS)],  # two of that name
    [group(WEB, WEB_PERMISSIONS, description="by hand")],  # the module only warns: it runs, to warn
    [group(WEB, WEB_PERMISSIONS, tags={"Project": "mlflow"})],
    [group(WEB, WEB_PERMISSIONS, tags={"Project": "mlflow", "Cost": "42", "extra": "1"})],
    [group(WEB, WEB_PERMISSIONS[:2])],  # a rule revoked
    [group(WEB, WEB_PERMISSIONS + [permission(5432, ip_ranges=[{"cidr_ip": "0.0.0.0/0"}])])],  # a port opened
    [group(WEB, [permission(80, ip_ranges=[{"cidr_ip": "0.0.0.0/0", "description": "by hand"}])] + WEB_PERMISSIONS[1:])],
    [group(WEB, [permission(80, ip_ranges=[{"cidr_ip": "0.0.0.0/0", "description": "HTTP(S)"},
                                           {"cidr_ip": "10.0.0.0/8", "description": "HTTP(S)"}])] + WEB_PERMISSIONS[1:])],
    [group(WEB, [{**WEB_PERMISSIONS[0], "to_port": 81}] + WEB_PERMISSIONS[1:])],  # a range instead of a port
], ids=["missing", "two", "description", "tag-missing", "tag-added", "revoked", "opened", "rule-description",
        "cidr-added", "port-range"])
def test_any_difference_the_security_group_module_converges_runs_it(found):
    assert not filters.aws_network_security_group_as_wanted(found, WEB)


@pytest.mark.parametrize("pair", [
    {"user_id": "210987654321", "group_id": "sg-web", "description": "PostgreSQL"},  # another account's group
    {"user_id": OWNER, "group_id": "sg-db", "description": "PostgreSQL"},  # another group
    {"user_id": OWNER, "group_id": "sg-web"},  # no description
])
def test_a_database_rule_from_another_source_runs_the_module(pair):
    assert not filters.aws_network_security_group_as_wanted([group(DB, [permission(5432, user_id_group_pairs=[pair])])], DB)


@pytest.mark.parametrize("rule", [
    {"proto": "tcp", "from_port": 80, "to_port": 80, "cidr_ip": ["0.0.0.0/0"]},
    {"proto": "tcp", "ports": [80], "ip_prefix": ["pl-123"]},
    {"proto": "tcp", "ports": [80], "group_name": ["web"]},
])
def test_a_rule_in_a_form_the_role_does_not_write_gives_no_verdict(rule):
    spec = {**WEB, "rules": [rule]}
    assert not filters.aws_network_security_group_as_wanted([group(WEB, [permission(80, ip_ranges=[
        {"cidr_ip": "0.0.0.0/0"}])])], spec)


def test_the_internet_gateway_is_as_wanted_alone_and_exactly_tagged():
    tags = {"Project": "mlflow", "Name": "stack-igw", "Cost": 42}
    gateway = {"id": "igw-1", "tags": {"Project": "mlflow", "Name": "stack-igw", "Cost": "42"}}
    assert filters.aws_network_igw_as_wanted([gateway], tags)
    assert not filters.aws_network_igw_as_wanted([], tags)
    assert not filters.aws_network_igw_as_wanted([gateway, {**gateway, "id": "igw-2"}], tags)
    assert not filters.aws_network_igw_as_wanted([{**gateway, "tags": {**gateway["tags"], "extra": "1"}}], tags)
