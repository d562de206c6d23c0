"""Which existing subnets a rerun finds as wanted (roles/aws_network/filter_plugins/): only
those ec2_vpc_subnet would leave as they are, so that skipping the module never skips a
repair. Each difference the module converges makes the subnet not as wanted."""
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
