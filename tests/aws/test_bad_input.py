"""Bad input fails before any change, with a message naming the variable (issues #3, #6, #11).

Every case of the table runs the real site.yml (inventories/local, -e overrides, sometimes
--check) against the session's moto: it must fail in the preflight (or the up-front argument
spec validation of the AWS roles) with a message naming the variable, report changed=0, leave
the emulator empty, and never echo a secret it was given.

Inputs that are only wrong against what runs (an engine version lower than the running one, a
major upgrade without its flag) are checked by the role that owns the resource, first thing:
TestInputsCheckedAgainstTheRunningDatabase provisions a stack and then runs them.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import shutil
import subprocess

import pytest
import yaml
from conftest import BUCKET, DATABASE, DEBIAN_IMAGES, PREFIX, SERVER, WALL_TIMES, register_debian_image, stack_leftovers, writes
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from conftest import INVENTORY


def _self_signed(key, *, days: int = 30, names: tuple[str, ...] = ("mlflow.example.com", "127.0.0.1")) -> str:
    """A PEM certificate for names (DNS names or IP addresses) signed by key."""
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    alt_names = []
    for name in names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=2))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(alt_names),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key, fmt=serialization.PrivateFormat.PKCS8, encryption=None) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, fmt, encryption or serialization.NoEncryption()
    ).decode()


_EC_KEY = ec.generate_private_key(ec.SECP256R1())
_OTHER_KEY = ec.generate_private_key(ec.SECP256R1())
_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CERT = _self_signed(_EC_KEY)
KEY = _key_pem(_EC_KEY)
OTHER_KEY = _key_pem(_OTHER_KEY)
ENCRYPTED_KEY = _key_pem(_EC_KEY, encryption=serialization.BestAvailableEncryption(b"a-passphrase-here"))
EXPIRED_CERT = _self_signed(_EC_KEY, days=-1)
RSA_CERT = _self_signed(_RSA_KEY, names=("*.example.com", "2001:db8::10"))
RSA_KEY_TRADITIONAL = _key_pem(_RSA_KEY, fmt=serialization.PrivateFormat.TraditionalOpenSSL)

# Values that must never show up in the output of a run that was given them.
WEAK_SHORT = "Tr0ub4dor&3x"  # 12 characters, four kinds
WEAK_ONE_KIND = "correcthorsebattery"  # 19 lowercase letters
STRONG_UNKNOWN_USER = "Xk9mQ2vL7pR4wZ8nB5tY"
DB_SHORT = "Sh0rtButMixed15"  # 15 characters
DB_FORBIDDEN = "G00d-Length/But-Slash-Inside"
DB_SHARED = "Str0ngButSharedByBothLogins"
KEY_PATH = "/etc/ssl/private/mlflow.key"

# (case id, extra vars, variable the error message must name, secrets that must not be echoed
#  [, extra ansible-playbook arguments])
# The example passwords anyone can read in the repository.
EXAMPLE_VAULT = yaml.safe_load((INVENTORY.parent / "production" / "group_vars" / "all" / "vault.yml.example").read_text())

BAD_INPUTS = [
    # ---- AWS layer (issue #3) ----
    ("bucket-missing", {"stack_artifact_bucket": ""}, "stack_artifact_bucket", []),
    ("bucket-invalid", {"stack_artifact_bucket": "Bad_Bucket"}, "stack_artifact_bucket", []),
    ("bucket-ip-shaped", {"stack_artifact_bucket": "192.168.1.10"}, "stack_artifact_bucket", []),
    # IAM reads * and ? in the policy's resource as wildcards: mlflow* would grant mlflow-other/.
    ("prefix-iam-wildcard", {"stack_artifact_prefix": "mlflow*"}, "stack_artifact_prefix", []),
    ("prefix-leading-slash", {"stack_artifact_prefix": "/mlflow"}, "stack_artifact_prefix", []),
    ("region-invalid", {"stack_region": "moon-base-one"}, "stack_region", []),
    ("admin-cidr-invalid", {"stack_admin_cidrs": ["10.0.0.300/32"]}, "stack_admin_cidrs", []),
    ("admin-cidr-host-bits", {"stack_admin_cidrs": ["10.0.0.1/8"]}, "stack_admin_cidrs", []),
    ("admin-cidr-anywhere", {"stack_admin_cidrs": ["0.0.0.0/0"]}, "stack_admin_cidrs", []),
    ("admin-cidr-anywhere-ipv6", {"stack_admin_cidrs": ["10.0.0.0/8", "::/0"]}, "stack_admin_cidrs", []),
    ("web-cidr-not-a-list", {"stack_web_cidrs": "0.0.0.0/0"}, "stack_web_cidrs", []),
    # ---- placeholders left in (issue #17 item 2) ----
    ("admin-cidrs-empty", {"stack_admin_cidrs": []}, "stack_admin_cidrs", []),
    ("admin-cidr-documentation-range", {"stack_admin_cidrs": ["10.1.0.0/16", "203.0.113.10/32"]}, "stack_admin_cidrs", []),
    ("web-cidr-documentation-range-ipv6", {"stack_web_cidrs": ["2001:db8:1::/48"]}, "stack_web_cidrs", []),
    ("db-password-vault-example", {"stack_db_password": EXAMPLE_VAULT["vault_stack_db_password"]}, "stack_db_password",
     [EXAMPLE_VAULT["vault_stack_db_password"]]),
    ("auth-password-vault-example", {"stack_auth_passwords": {"alice": EXAMPLE_VAULT["vault_stack_db_app_password"]}},
     "stack_auth_passwords", [EXAMPLE_VAULT["vault_stack_db_app_password"]]),
    ("instance-class-invalid", {"aws_database_instance_class": "t3.micro"}, "aws_database_instance_class", []),
    ("db-password-empty", {"stack_db_password": ""}, "stack_db_password", []),
    ("db-password-forbidden-char", {"stack_db_password": DB_FORBIDDEN}, "stack_db_password", [DB_FORBIDDEN]),
    ("db-password-too-short", {"stack_db_password": DB_SHORT}, "stack_db_password", [DB_SHORT]),
    ("db-app-password-too-short", {"stack_db_app_password": DB_SHORT}, "stack_db_app_password", [DB_SHORT]),
    (
        "db-app-password-is-the-master-one",
        {"stack_db_password": DB_SHARED, "stack_db_app_password": DB_SHARED},
        "stack_db_app_password",
        [DB_SHARED],
    ),
    # Caught by the up-front argument spec validation of the 4th and 5th role.
    ("storage-type-choice", {"aws_database_storage_type": "io9"}, "aws_database_storage_type", []),
    ("volume-size-type", {"aws_server_root_volume_size": "big"}, "aws_server_root_volume_size", []),
    # ---- the AWS lifecycle (issue #11) ----
    ("server-replace-with-check", {"aws_server_replace": True}, "aws_server_replace", [], ["--check"]),
    ("engine-version-not-a-version", {"aws_database_engine_version": "latest"}, "aws_database_engine_version", []),
    # ---- stand-ins as strict as AWS (issue #10) ----
    ("instance-type-unsized", {"aws_server_instance_type": "x2iedn.32xlarge"}, "aws_server_instance_type", []),
    ("ssh-key-file-missing", {"stack_ssh_key_file": "/nonexistent/id_ed25519"}, "stack_ssh_key_file", []),
    # ---- host layer (issue #6) ----
    ("auth-users-empty", {"stack_auth_users": []}, "stack_auth_users", []),
    ("auth-users-not-a-list", {"stack_auth_users": "alice"}, "stack_auth_users", []),
    ("auth-user-duplicate", {"stack_auth_users": ["alice", "ci-bot", "alice"]}, "stack_auth_users", []),
    ("auth-user-colon", {"stack_auth_users": ["alice", "bob:admin"]}, "stack_auth_users", []),
    ("auth-password-short", {"stack_auth_passwords": {"alice": WEAK_SHORT}}, "stack_auth_passwords", [WEAK_SHORT]),
    ("auth-password-one-kind", {"stack_auth_passwords": {"alice": WEAK_ONE_KIND}}, "stack_auth_passwords", [WEAK_ONE_KIND]),
    (
        "auth-password-unknown-user",
        {"stack_auth_passwords": {"mallory": STRONG_UNKNOWN_USER}},
        "stack_auth_passwords",
        [STRONG_UNKNOWN_USER],
    ),
    ("tls-cert-without-key", {"nginx_tls_certificate": CERT}, "nginx_tls_certificate_key", []),
    ("tls-key-without-cert", {"nginx_tls_certificate_key": KEY}, "nginx_tls_certificate", [KEY]),
    ("tls-cert-not-pem", {"nginx_tls_certificate": "/etc/ssl/certs/mlflow.pem", "nginx_tls_certificate_key": KEY}, "nginx_tls_certificate", [KEY]),
    (
        "tls-cert-not-a-certificate",
        {"nginx_tls_certificate": "-----BEGIN CERTIFICATE-----\nTUlJQg==\n-----END CERTIFICATE-----\n", "nginx_tls_certificate_key": KEY},
        "nginx_tls_certificate",
        [KEY],
    ),
    ("tls-key-not-pem", {"nginx_tls_certificate": CERT, "nginx_tls_certificate_key": KEY_PATH}, "nginx_tls_certificate_key", [KEY_PATH]),
    ("tls-key-encrypted", {"nginx_tls_certificate": CERT, "nginx_tls_certificate_key": ENCRYPTED_KEY}, "nginx_tls_certificate_key", [ENCRYPTED_KEY]),
    ("tls-key-mismatch", {"nginx_tls_certificate": CERT, "nginx_tls_certificate_key": OTHER_KEY}, "nginx_tls_certificate_key", [OTHER_KEY]),
    ("tls-cert-expired", {"nginx_tls_certificate": EXPIRED_CERT, "nginx_tls_certificate_key": KEY}, "nginx_tls_certificate", [KEY]),
    (
        "tls-cert-other-name",
        {"nginx_tls_certificate": CERT, "nginx_tls_certificate_key": KEY, "stack_public_hostname": "mlflow.example.org"},
        "stack_public_hostname",
        [KEY],
    ),
    ("public-url-http", {"stack_public_url": "http://127.0.0.1:8443"}, "stack_public_url", []),
    ("public-hostname-url", {"stack_public_hostname": "https://mlflow.example.com/"}, "stack_public_hostname", []),
    ("mlflow-version-old", {"mlflow_version": "3.16.1"}, "mlflow_version", []),
    ("bcrypt-cost-too-high", {"nginx_auth_bcrypt_cost": 15}, "nginx_auth_bcrypt_cost", []),
    ("reboot-window-unparsable", {"unattended_upgrades_reboot_window": "25:00-03:00"}, "unattended_upgrades_reboot_window", []),
    ("reboot-window-empty", {"unattended_upgrades_reboot_window": "03:00-03:00"}, "unattended_upgrades_reboot_window", []),
    # Over SSH as admin (no Docker connection), with an AllowUsers list that would lock it out.
    ("allow-users-lock-out", {"aws_server_host_vars": {}, "ssh_hardening_allow_users": ["deploy"]}, "ssh_hardening_allow_users", []),
]

# Inputs at the edge of every host-side rule that must pass the preflight.
GOOD_HOST_INPUTS = [
    (
        "ec-pkcs8-key",
        {
            "stack_auth_users": ["alice", "ci-bot", "svc.train_01"],
            "stack_auth_passwords": {"alice": "Sixteen-chars-ok", "ci-bot": "twentyfourlowercaseonlyx"},
            "stack_db_password": "Gen3ratedButLongEnough-ForRDS-" + "x" * 98,  # 128 characters
            "stack_db_app_password": "Sixteen-chars-OK",
            "nginx_tls_certificate": CERT,
            "nginx_tls_certificate_key": KEY,
            "stack_public_hostname": "mlflow.example.com",
            "stack_public_url": "https://mlflow.example.com",
            "mlflow_version": "3.17.0",
            "nginx_auth_bcrypt_cost": 14,
        },
    ),
    (
        "wildcard-certificate",
        {
            "nginx_tls_certificate": RSA_CERT,
            "nginx_tls_certificate_key": RSA_KEY_TRADITIONAL,
            "stack_public_hostname": "mlflow.example.com",
        },
    ),
    (
        "rsa-traditional-key",
        {
            "nginx_tls_certificate": RSA_CERT + CERT,  # a chain: server certificate first
            "nginx_tls_certificate_key": RSA_KEY_TRADITIONAL,
            "stack_public_hostname": "2001:DB8:0::10",
            "stack_public_url": "https://[2001:db8::10]:8443/mlflow",
            "nginx_auth_bcrypt_cost": 4,
        },
    ),
]


def _created_resources(aws) -> dict[str, list]:
    """Every kind of resource the stack creates (or could leave behind), as the emulator holds it."""
    ec2 = aws("ec2")
    default_vpcs = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"]]

    def outside_default(items, key="VpcId"):
        return [i for i in items if i.get(key) not in default_vpcs]

    return {
        "buckets": [b["Name"] for b in aws("s3").list_buckets()["Buckets"]],
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]],
        "subnets": [s["SubnetId"] for s in outside_default(ec2.describe_subnets()["Subnets"])],
        "route_tables": [t["RouteTableId"] for t in outside_default(ec2.describe_route_tables()["RouteTables"])],
        "internet_gateways": [g["InternetGatewayId"] for g in ec2.describe_internet_gateways()["InternetGateways"]
                              if not any(a.get("VpcId") in default_vpcs for a in g.get("Attachments", []))],
        "security_groups": [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"] != "default"],
        "network_interfaces": [n["NetworkInterfaceId"] for n in ec2.describe_network_interfaces()["NetworkInterfaces"]],
        "instances": [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]],
        "addresses": [a["PublicIp"] for a in ec2.describe_addresses()["Addresses"]],
        "key_pairs": [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]],
        "roles": [r["RoleName"] for r in aws("iam").list_roles()["Roles"]],
        "instance_profiles": [p["InstanceProfileName"] for p in aws("iam").list_instance_profiles()["InstanceProfiles"]],
        "db_instances": [d["DBInstanceIdentifier"] for d in aws("rds").describe_db_instances()["DBInstances"]],
        "db_subnet_groups": [g["DBSubnetGroupName"] for g in aws("rds").describe_db_subnet_groups()["DBSubnetGroups"]],
        "db_snapshots": [s["DBSnapshotIdentifier"] for s in aws("rds").describe_db_snapshots()["DBSnapshots"]],
        "ssm_parameters": [p["Name"] for p in aws("ssm").describe_parameters()["Parameters"]],
        "kms_aliases": [a["AliasName"] for a in aws("kms").list_aliases()["Aliases"] if not a["AliasName"].startswith("alias/aws/")],
    }


@pytest.fixture()
def empty_emulator(reset_moto, aws):
    reset_moto()
    assert not any(_created_resources(aws).values())
    yield
    reset_moto()


def _failure_message(output: str) -> str:
    """The msg of the failed task (at -vvv the result also shows the assertion's expression,
    which names other variables), joined onto one line."""
    failure = output[re.search(r"^(fatal|failed): ", output, re.M).start():]
    match = re.search(r"^\s+msg: (.*?)(?=^\s+[a-z_]+: |^PLAY RECAP|\Z)", failure, re.M | re.S)
    assert match, failure[:3000]
    return " ".join(match.group(1).replace("'", " ").split())


def _assert_no_secret_echoed(output: str, secrets: list[str]) -> None:
    for secret in secrets:
        # PEM keys could be echoed reflowed: look for their base64 body lines too.
        fragments = [secret] + [line for line in secret.splitlines() if len(line) >= 32 and "-----" not in line]
        leaked = [f for f in fragments if f in output]
        assert not leaked, f"a secret given as input appears in the output: {leaked[0][:6]}..."


@pytest.mark.parametrize(
    ("extra_vars", "variable", "secrets", "args"),
    [pytest.param(v, n, s, (a[0] if a else []), id=i) for i, v, n, s, *a in BAD_INPUTS],
)
def test_bad_input_fails_before_any_change(empty_emulator, playbook, aws, tmp_path, extra_vars, variable, secrets, args):
    # --limit localhost is a guard, not part of the check: should a case ever get past the
    # preflight, the later plays of site.yml must not reach the local stack's containers.
    credentials = tmp_path / "credentials"
    run = playbook("../site.yml", {"stack_credentials_dir": str(credentials), **extra_vars}, "--limit", "localhost", "-vvv", *args)

    assert run.returncode != 0, run.output[-3000:]
    assert run.recap["failed"] == 1
    assert run.recap["changed"] == 0
    # The message names the variable, as a whole word (nginx_tls_certificate is not found
    # inside nginx_tls_certificate_key).
    message = _failure_message(run.output)
    assert re.search(rf"(?<![A-Za-z0-9_]){re.escape(variable)}(?![A-Za-z0-9_])", message), message[:3000]
    # Even at -vvv (every task's arguments and results), no secret it was given is echoed.
    _assert_no_secret_echoed(run.output, secrets)
    assert not any(_created_resources(aws).values()), _created_resources(aws)
    # Validation writes nothing on the controller either: no secret generated, no key pair.
    assert not credentials.exists(), sorted(p.name for p in credentials.rglob("*"))


@pytest.mark.parametrize("extra_vars", [pytest.param(v, id=i) for i, v in GOOD_HOST_INPUTS])
def test_good_host_input_passes_the_preflight(empty_emulator, playbook, aws, extra_vars):
    run = playbook("preflight.yml", extra_vars)

    assert run.returncode == 0, run.output[-3000:]
    assert run.recap["changed"] == 0
    secrets = [extra_vars.get(name, "") for name in ("nginx_tls_certificate_key", "stack_db_password", "stack_db_app_password")]
    secrets += list(extra_vars.get("stack_auth_passwords", {}).values())
    _assert_no_secret_echoed(run.output, [s for s in secrets if s])
    assert not any(_created_resources(aws).values()), _created_resources(aws)


@pytest.mark.parametrize("given", [True, False], ids=["stack_ssh_key_file", "generated-key"])
def test_a_private_key_others_can_read_is_refused_naming_the_file(empty_emulator, playbook, aws, tmp_path, given):
    """ssh refuses such a key later, after AWS resources exist: the preflight refuses it first."""
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o700)
    key = (tmp_path / "id_ed25519") if given else (credentials / "ssh_key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    key.chmod(0o644)
    extra = {"stack_credentials_dir": str(credentials)}
    if given:
        extra["stack_ssh_key_file"] = str(key)
    run = playbook("../site.yml", extra, "--limit", "localhost")

    assert run.returncode != 0
    assert run.recap["changed"] == 0
    assert f"chmod 600 {key}" in _failure_message(run.output)
    assert not any(_created_resources(aws).values()), _created_resources(aws)


@pytest.mark.parametrize("layout", ["file", "symlink-to-file", "symlinked-folder"])
def test_a_plaintext_vault_file_in_the_inventory_is_refused(empty_emulator, playbook, aws, tmp_path, layout):
    """A vault.yml Ansible can read as plain text would be committed with its secrets. Ansible
    follows symbolic links in group_vars, so a link to a plain file, or a folder linked in
    with one, is refused too."""
    inventory = tmp_path / "inventory"
    shutil.copytree(INVENTORY, inventory)
    plain = "vault_stack_db_password: Plain-Text-Secret-0123456789\n"
    if layout == "file":
        vault = inventory / "group_vars" / "all" / "vault.yml"
        vault.write_text(plain)
    elif layout == "symlink-to-file":
        (tmp_path / "shared-secrets.yml").write_text(plain)
        vault = inventory / "group_vars" / "all" / "vault.yml"
        vault.symlink_to(tmp_path / "shared-secrets.yml")
    else:
        shared = tmp_path / "shared-group-vars"
        shared.mkdir()
        (shared / "vault.yml").write_text(plain)
        (inventory / "group_vars" / "mlflow_servers").symlink_to(shared, target_is_directory=True)
        vault = inventory / "group_vars" / "mlflow_servers" / "vault.yml"
    credentials = tmp_path / "credentials"
    run = playbook("../site.yml", {"stack_credentials_dir": str(credentials)}, "--limit", "localhost", "-vvv",
                   inventory=inventory)

    assert run.returncode != 0
    assert run.recap["changed"] == 0
    message = _failure_message(run.output)
    assert str(vault) in message and "ansible-vault encrypt" in message, message
    _assert_no_secret_echoed(run.output, ["Plain-Text-Secret-0123456789"])
    assert not any(_created_resources(aws).values()) and not credentials.exists()


@pytest.mark.parametrize("where", ["group_vars/all/settings.yml", "hosts.yml"])
def test_an_inventory_setting_a_wired_variable_is_refused(empty_emulator, playbook, aws, tmp_path, where):
    """group_vars/all/wiring.yml outranks an inventory's group_vars/all and its file's group
    vars: such a value would be silently ignored, so the preflight refuses it and names it."""
    inventory = tmp_path / "inventory"
    shutil.copytree(INVENTORY, inventory)
    if where == "hosts.yml":
        hosts = inventory / "hosts.yml"
        data = yaml.safe_load(hosts.read_text())
        data["all"].setdefault("vars", {})["mlflow_allowed_hosts"] = ["mlflow.internal.example"]
        hosts.write_text(yaml.safe_dump(data))
    else:
        (inventory / where).write_text("nginx_server_name: mlflow.internal.example\n")
    credentials = tmp_path / "credentials"
    run = playbook("../site.yml", {"stack_credentials_dir": str(credentials)}, "--limit", "localhost", inventory=inventory)

    assert run.returncode != 0
    assert run.recap["changed"] == 0
    message = _failure_message(run.output)
    name = "mlflow_allowed_hosts" if where == "hosts.yml" else "nginx_server_name"
    assert f"sets {name}, which group_vars/all/wiring.yml sets to" in message, message
    assert str(inventory / where) in message, message
    assert not any(_created_resources(aws).values()) and not credentials.exists()


def test_the_unedited_production_example_is_refused(empty_emulator, playbook, aws, tmp_path, moto_endpoint):
    """A copy of inventories/production deployed as it is must stop before any change, naming
    the example value left in (the admin address is a documentation range)."""
    inventory = tmp_path / "inventory"
    shutil.copytree(INVENTORY.parent / "production", inventory)
    credentials = tmp_path / "credentials"
    # The endpoint is a safety net only: the preflight never calls AWS.
    run = playbook("../site.yml", {"stack_credentials_dir": str(credentials), "stack_aws_endpoint_url": moto_endpoint},
                   "--limit", "localhost", inventory=inventory)

    assert run.returncode != 0
    assert run.recap["changed"] == 0
    message = _failure_message(run.output)
    assert "stack_admin_cidrs contains 203.0.113.10/32, a documentation range" in message, message
    assert not any(_created_resources(aws).values()) and not credentials.exists()


def test_check_mode_before_the_stack_exists_says_so_and_creates_nothing(empty_emulator, playbook, aws, tmp_path):
    """An operator previews a first run with --check: it ends cleanly, saying the network does
    not exist yet (every later resource needs its ids), and creates nothing."""
    credentials = tmp_path / "credentials"
    run = playbook("../site.yml", {"stack_credentials_dir": str(credentials)}, "--check", "--limit", "localhost")

    assert run.returncode == 0, run.output[-3000:]
    assert "does not exist yet, so --check cannot preview" in " ".join(run.output.split()), run.output[-3000:]
    assert not any(_created_resources(aws).values()), _created_resources(aws)


def test_destroy_refuses_without_confirmation(empty_emulator, playbook):
    run = playbook("destroy.yml", {"confirm_destroy": "some-other-stack"})

    assert run.returncode != 0
    assert "confirm_destroy=mlflow-local" in run.output


# ---- inputs that are wrong only against the running database (issue #11) ----

RUNNING_VERSION = "17.6"
# (case id, extra vars, variable the error message must name, the role that refuses it)
BAD_AGAINST_RUNNING = [
    # An exact pin AWS's automatic minor upgrade has overtaken: RDS cannot downgrade.
    ("engine-version-lower-than-running", {"aws_database_engine_version": "17.2"}, "aws_database_engine_version", "aws_database"),
    ("engine-major-lower-than-running", {"aws_database_engine_version": "16"}, "aws_database_engine_version", "aws_database"),
    ("major-upgrade-without-the-flag", {"aws_database_engine_version": "18"}, "aws_database_allow_major_upgrade", "aws_database"),
    # AWS cannot change a VPC's or a subnet's CIDR: refused by the network role (issue #17 item 8).
    ("vpc-cidr-changed", {"aws_network_vpc_cidr": "10.77.0.0/16", "aws_network_public_subnet_cidr": "10.77.0.0/24",
                          "aws_network_db_subnet_cidrs": ["10.77.1.0/24", "10.77.2.0/24"]}, "aws_network_vpc_cidr", "aws_network"),
    ("db-subnet-cidrs-changed", {"aws_network_db_subnet_cidrs": ["10.42.1.0/24", "10.42.9.0/24"]}, "aws_network_db_subnet_cidrs",
     "aws_network"),
    # MLflow's runs point at their artifacts where they were logged, and the server's role grants
    # one location: refused by the IAM role, which is tagged with it.
    ("artifact-prefix-changed", {"stack_artifact_prefix": "mlflow-moved"}, "stack_artifact_prefix", "aws_iam"),
]
# Calls that change nothing: the reads of a converged rerun (query APIs and S3's GET/HEAD).
@pytest.mark.xdist_group("running-database")
class TestInputsCheckedAgainstTheRunningDatabase:
    @pytest.fixture(scope="class")
    @classmethod
    def running_database(cls, reset_moto, playbook, aws):
        """A provisioned stack whose database AWS has moved to a newer minor version."""
        reset_moto()
        register_debian_image(aws, "debian-13-amd64-20250811-2201")
        run = playbook("provision.yml", DEBIAN_IMAGES)
        assert run.returncode == 0, run.output[-5000:]
        WALL_TIMES["provision (for the running-database cases)"] = run.seconds
        aws("rds").modify_db_instance(DBInstanceIdentifier=DATABASE, EngineVersion=RUNNING_VERSION, ApplyImmediately=True)
        yield
        reset_moto()

    @pytest.mark.parametrize(("extra_vars", "variable", "owner"), [pytest.param(v, n, o, id=i) for i, v, n, o in BAD_AGAINST_RUNNING])
    def test_refused_before_any_change(self, running_database, playbook, aws, recorder, extra_vars, variable, owner):
        recorder.start()
        try:
            # The whole site.yml on the converged stack, as an operator would run it.
            run = playbook("../site.yml", {**DEBIAN_IMAGES, **extra_vars}, "--limit", "localhost")
        finally:
            calls = recorder.stop()

        assert run.returncode != 0, run.output[-3000:]
        assert run.recap["failed"] == 1
        assert run.recap["changed"] == 0
        start = re.search(r"^(fatal|failed): ", run.output, re.M).start()
        failure = run.output[start:]
        assert re.search(rf"\b{variable}\b", failure), failure[:3000]
        # Refused by the role that owns the resource, at its start (docs/design.md).
        assert re.findall(r"^TASK \[(.*?)\]", run.output[:start], re.M)[-1].startswith(f"{owner} : Refuse")
        written = writes(calls)
        assert written == [], written
        db = aws("rds").describe_db_instances(DBInstanceIdentifier=DATABASE)["DBInstances"][0]
        assert db["EngineVersion"] == RUNNING_VERSION

    def test_a_role_from_before_the_location_tag_gets_it_and_then_guards_the_location(self, running_database, playbook,
                                                                                    aws):
        """A stack provisioned before the IAM role carried ArtifactLocation: the next run tags it
        (nothing to compare yet), and from then on the location is guarded."""
        iam = aws("iam")
        iam.untag_role(RoleName=SERVER, TagKeys=["ArtifactLocation"])
        run = playbook("provision.yml", DEBIAN_IMAGES)
        assert run.returncode == 0, run.output[-3000:]
        tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=SERVER)["Tags"]}
        assert tags["ArtifactLocation"] == f"{BUCKET}/{PREFIX}"
        # Another bucket that exists (another team's): the bucket role uses it as it is, so only
        # the IAM role's tag can tell that the stack's runs are elsewhere.
        aws("s3").create_bucket(Bucket="mlflow-local-other")
        try:
            moved = playbook("provision.yml", {**DEBIAN_IMAGES, "stack_artifact_bucket": "mlflow-local-other"})
        finally:
            aws("s3").delete_bucket(Bucket="mlflow-local-other")
        assert moved.returncode != 0 and moved.recap["changed"] == 0, moved.output[-3000:]
        assert (f"The stack's artifacts are at s3://{BUCKET}/{PREFIX}/ (tag ArtifactLocation of IAM role {SERVER}), and "
                f"stack_artifact_bucket/stack_artifact_prefix now say s3://mlflow-local-other/{PREFIX}/") in " ".join(moved.output.split())
        policy = iam.get_role_policy(RoleName=SERVER, PolicyName=f"{SERVER}-artifacts")["PolicyDocument"]
        policy = json.loads(policy) if isinstance(policy, str) else policy
        assert policy["Statement"][0]["Resource"] == f"arn:aws:s3:::{BUCKET}"

    def test_destroy_without_confirmation_deletes_nothing_whatever_the_tags(self, running_database, playbook, aws,
                                                                            recorder):
        """`--skip-tags always` skips the confirmation's assert; every destroying role is
        conditioned on the confirmation too, so the run deletes (and writes) nothing."""
        before = stack_leftovers(aws)
        recorder.start()
        try:
            run = playbook("destroy.yml", {"confirm_destroy": "some-other-stack"}, "--skip-tags", "always")
        finally:
            calls = recorder.stop()

        assert run.recap["changed"] == 0, run.output[-3000:]
        written = writes(calls)
        assert written == [], written
        assert stack_leftovers(aws) == before
        assert aws("rds").describe_db_instances(DBInstanceIdentifier=DATABASE)["DBInstances"]
