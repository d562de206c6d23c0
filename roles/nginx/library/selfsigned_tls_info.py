#!/usr/bin/python
# Copyright: mlflow-ansible contributors
# Apache License 2.0 (see LICENSE)
"""Whether the self-signed TLS key and certificate are what the role's modules would leave."""

from __future__ import annotations

DOCUMENTATION = r"""
module: selfsigned_tls_info
short_description: Tell whether a self-signed key and certificate need the crypto modules
description:
  - One module run instead of three (M(community.crypto.openssl_privatekey),
    M(community.crypto.openssl_csr_pipe), M(community.crypto.x509_certificate)) on a rerun that
    finds the key and certificate as those modules leave them. Read-only (check mode runs it
    too); the key never leaves the host, only the two verdicts do.
  - C(privatekey_as_wanted) is true for an unencrypted PEM key of type ECC on O(curve), which
    M(community.crypto.openssl_privatekey) (C(regenerate=full_idempotence)) keeps.
  - C(certificate_as_wanted) is true, with the key as wanted, for a PEM certificate that
    M(community.crypto.x509_certificate) (C(provider=selfsigned), timestamps ignored, as by
    default) keeps when given a CSR of that key for O(common_name) and O(subject_alt_name):
    the certificate's public key is the key's and the key signed it, its subject is exactly
    the common name, its Subject Key Identifier is the one of its public key, and its other
    extensions are exactly one non-critical Subject Alternative Name with those names, in
    that order.
  - File modes, owners and groups are not read here (the role reads them with its paths).
  - Any name form other than C(DNS:) and C(IP:) gives false: the modules then decide.
options:
  privatekey_path:
    description: The private key's path.
    type: path
    required: true
  certificate_path:
    description: The certificate's path.
    type: path
    required: true
  common_name:
    description: The CSR's common name.
    type: str
    required: true
  subject_alt_name:
    description: The CSR's subject alternative names (C(DNS:name), C(IP:address)).
    type: list
    elements: str
    required: true
  curve:
    description: The key's elliptic curve, as openssl_privatekey names it.
    type: str
    choices: [secp256r1, secp384r1, secp521r1]
    default: secp256r1
"""

EXAMPLES = r"""
- name: Read the self-signed key and certificate
  selfsigned_tls_info:
    privatekey_path: /etc/nginx/tls/mlflow.key
    certificate_path: /etc/nginx/tls/mlflow.crt
    common_name: mlflow.example.org
    subject_alt_name: [DNS:mlflow.example.org, DNS:localhost, IP:127.0.0.1]
  register: tls
"""

RETURN = r"""
privatekey_as_wanted:
  description: Whether openssl_privatekey would keep the key (its file attributes aside).
  type: bool
  returned: always
certificate_as_wanted:
  description: Whether x509_certificate would keep the certificate (its file attributes aside).
  type: bool
  returned: always
"""

import ipaddress

from ansible.module_utils.basic import AnsibleModule

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
except ImportError:
    x509 = None

CURVES = ["secp256r1", "secp384r1", "secp521r1"]


def load_key(path, curve):
    """The unencrypted EC key at path on that curve, or None."""
    try:
        with open(path, "rb") as handle:
            key = serialization.load_pem_private_key(handle.read(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != curve:
        return None
    return key


def general_name(name):
    """The x509 general name of `DNS:name` or `IP:address`; None for any other form."""
    kind, _, value = name.partition(":")
    if kind.lower() == "dns" and value:
        return x509.DNSName(value)
    if kind.lower() == "ip":
        try:
            return x509.IPAddress(ipaddress.ip_address(value))
        except ValueError:
            return None
    return None


def certificate_as_wanted(path, key, common_name, subject_alt_name):
    """Whether x509_certificate (selfsigned, timestamps ignored) keeps the certificate at path."""
    names = [general_name(name) for name in subject_alt_name]
    if key is None or None in names:
        return False
    try:
        with open(path, "rb") as handle:
            cert = x509.load_pem_x509_certificate(handle.read())
        public = key.public_key()
        if cert.public_key() != public:
            return False
        public.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm or hashes.SHA256()))
        if cert.subject != x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]):
            return False
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        if ski.value.digest != x509.SubjectKeyIdentifier.from_public_key(public).digest:
            return False
        others = [ext for ext in cert.extensions if not isinstance(ext.value, x509.SubjectKeyIdentifier)]
    except Exception:  # unreadable, unparsable, another signer, no SKI: the module regenerates it
        return False
    wanted = x509.Extension(x509.SubjectAlternativeName.oid, False, x509.SubjectAlternativeName(names))
    return others == [wanted]


def main():
    module = AnsibleModule(argument_spec=dict(privatekey_path=dict(type="path", required=True),
                                              certificate_path=dict(type="path", required=True),
                                              common_name=dict(type="str", required=True),
                                              subject_alt_name=dict(type="list", elements="str", required=True),
                                              curve=dict(type="str", default="secp256r1", choices=CURVES)),
                           supports_check_mode=True)
    if x509 is None:
        module.fail_json(msg="selfsigned_tls_info needs the Python cryptography library on the host")
    params = module.params
    key = load_key(params["privatekey_path"], params["curve"])
    module.exit_json(changed=False, privatekey_as_wanted=key is not None,
                     certificate_as_wanted=certificate_as_wanted(params["certificate_path"], key, params["common_name"],
                                                                 params["subject_alt_name"]))


if __name__ == "__main__":
    main()
