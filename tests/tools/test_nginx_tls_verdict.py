"""The nginx role skips openssl_privatekey, openssl_csr_pipe and x509_certificate on a rerun
that finds the self-signed key and certificate as those modules leave them
(roles/nginx/library/selfsigned_tls_info.py with the modes its read found). A certificate
called as wanted that the module would replace is a drift no rerun repairs (another name, a
key that no longer matches, a CA flag added by hand). So the modules themselves are asked:
each case is converged by the role's own tasks/tls.yml, changed by hand (or not), then the
role's verdicts are read in check mode, and the modules are run in check mode with the
verdicts forced to false: a key or certificate called as wanted must be one its module would
not change, and the set called otherwise must be the expected one."""
from __future__ import annotations

import datetime
import ipaddress
import json
import os
import pathlib
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

ROOT = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).resolve().parent
NAME = "mlflow.example.org"
SAN = [x509.DNSName(NAME), x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="the role's tasks make the files root's")


def _key(case):
    return serialization.load_pem_private_key((case / "mlflow.key").read_bytes(), password=None)


def _pem_key(key, password=None):
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, encryption)


def _write_cert(case, *, name=NAME, san=SAN, critical=False, extra=(), ski=True, signer=None, days=(-1, 30)):
    """A certificate of the case's key as the role makes it, but for the differences asked for."""
    key = _key(case)
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now + datetime.timedelta(days=days[0]))
               .not_valid_after(now + datetime.timedelta(days=days[1]))
               .add_extension(x509.SubjectAlternativeName(san), critical=critical))
    if ski:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    for extension in extra:
        builder = builder.add_extension(extension, critical=True)
    cert = builder.sign(signer or key, hashes.SHA256())
    (case / "mlflow.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


# What is changed by hand in each case: each function gets the case's directory (mlflow.key,
# mlflow.crt as the role made them).
DRIFTS = {
    "as-wanted": lambda case: None,
    "key-mode": lambda case: (case / "mlflow.key").chmod(0o644),
    "key-absent": lambda case: (case / "mlflow.key").unlink(),
    "key-rsa": lambda case: (case / "mlflow.key").write_bytes(_pem_key(rsa.generate_private_key(65537, 2048))),
    "key-encrypted": lambda case: (case / "mlflow.key").write_bytes(_pem_key(_key(case), b"by hand")),
    "key-other-curve": lambda case: (case / "mlflow.key").write_bytes(_pem_key(ec.generate_private_key(ec.SECP384R1()))),
    # Another key on the right curve: the key is as wanted, the certificate no longer its.
    "key-replaced": lambda case: (case / "mlflow.key").write_bytes(_pem_key(ec.generate_private_key(ec.SECP256R1()))),
    "cert-mode": lambda case: (case / "mlflow.crt").chmod(0o600),
    "cert-owner": lambda case: os.chown(case / "mlflow.crt", 65534, -1),
    "cert-absent": lambda case: (case / "mlflow.crt").unlink(),
    "cert-garbage": lambda case: (case / "mlflow.crt").write_text("not a certificate\n"),
    # The same certificate made again (a new serial and dates): timestamps are not compared.
    "cert-remade": lambda case: _write_cert(case, days=(-400, -10)),
    "cert-other-name": lambda case: _write_cert(case, name="elsewhere.example.org"),
    "cert-san-added": lambda case: _write_cert(case, san=SAN + [x509.DNSName("elsewhere.example.org")]),
    "cert-san-order": lambda case: _write_cert(case, san=list(reversed(SAN))),
    "cert-san-critical": lambda case: _write_cert(case, critical=True),
    "cert-ca-flag": lambda case: _write_cert(case, extra=[x509.BasicConstraints(ca=True, path_length=None)]),
    "cert-no-ski": lambda case: _write_cert(case, ski=False),
    "cert-other-signer": lambda case: _write_cert(case, signer=ec.generate_private_key(ec.SECP256R1())),
}

EXPECTED = {
    "as-wanted": set(), "key-mode": {"key", "certificate"}, "key-absent": {"key", "certificate"},
    "key-rsa": {"key", "certificate"}, "key-encrypted": {"key", "certificate"},
    "key-other-curve": {"key", "certificate"}, "key-replaced": {"certificate"},
    "cert-mode": {"certificate"}, "cert-owner": {"certificate"}, "cert-absent": {"certificate"},
    "cert-garbage": {"certificate"}, "cert-remade": set(), "cert-other-name": {"certificate"},
    "cert-san-added": {"certificate"}, "cert-san-order": {"certificate"}, "cert-san-critical": {"certificate"},
    "cert-ca-flag": {"certificate"}, "cert-no-ski": {"certificate"}, "cert-other-signer": {"certificate"},
}


def _run(cases, *args, extra=None):
    """{case: the role's verdicts and what the modules did} of one run of tls_verdict.yml,
    each case an inventory host of its own (the cases run side by side)."""
    inventory = cases[0].parent / "cases.json"
    inventory.write_text(json.dumps({"all": {"hosts": {case.name: {"nginx_tls_dir": str(case)} for case in cases},
                                             "vars": {"ansible_connection": "local",
                                                      "ansible_python_interpreter": sys.executable}}}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_LIBRARY=f"{ROOT / 'roles' / 'nginx' / 'library'}:{ROOT / 'playbooks' / 'library'}")
    run = subprocess.run([str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
                          "-e", json.dumps(extra or {}), *args, str(HERE / "tls_verdict.yml")],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-3000:]
    tasks = json.loads(run.stdout)["plays"][0]["tasks"]
    report = next(task for task in tasks if task["task"]["name"] == "Report the role's verdicts and what the modules did")
    return {case: result["msg"] for case, result in report["hosts"].items()}


def test_the_verdicts_agree_with_what_the_modules_would_change(tmp_path):
    cases = [tmp_path / drift for drift in DRIFTS]
    for case in cases:
        case.mkdir()
    made = _run(cases)
    assert all(result["key_changed"] and result["certificate_changed"] for result in made.values()), made
    for case in cases:
        DRIFTS[case.name](case)
    verdicts = _run(cases, "--check")
    asked = _run(cases, "--check", extra={"_nginx_tls_selfsigned_key_as_wanted": False,
                                          "_nginx_tls_selfsigned_certificate_as_wanted": False})
    for drift in DRIFTS:
        verdict, module = verdicts[drift], asked[drift]
        # Only the CSR of a key that check mode did not make anew may fail (and the
        # certificate would then be replaced).
        assert not module["failure"] or (module["key_changed"] and "key" in EXPECTED[drift]), (drift, module)
        module = dict(module, certificate_changed=module["certificate_changed"] or bool(module["failure"]))
        for what in ("key", "certificate"):
            # Called as wanted: the module must have nothing to change.
            assert not (verdict[f"{what}_as_wanted"] and module[f"{what}_changed"]), (drift, what, verdict, module)
        not_as_wanted = {what for what in ("key", "certificate") if not verdict[f"{what}_as_wanted"]}
        assert not_as_wanted == EXPECTED[drift], (drift, verdict, module)
        # Each certificate drift is one the module itself repairs.
        if "certificate" in EXPECTED[drift] and drift.startswith("cert-"):
            assert module["certificate_changed"], (drift, module)
