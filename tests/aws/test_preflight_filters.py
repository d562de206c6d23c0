"""The rules behind the preflight's messages, at their edges (no emulator, no playbook)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "roles" / "preflight" / "filter_plugins" / "preflight_filters.py"
_SPEC = importlib.util.spec_from_file_location("preflight_filters", _PATH)
filters = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(filters)


@pytest.mark.parametrize(
    ("password", "weak"),
    [
        ("Sixteen-chars-ok", False),  # 16 characters, three kinds
        ("Fifteen-chars-x", True),  # 15
        ("abcdefghijklmnop", True),  # 16, one kind
        ("abcdefghijklmnopqrstuvwx", False),  # 24 of one kind: long enough alone
        ("abcdefghijklmnopqrstuvw", True),  # 23 of one kind
        ("aA1aA1aA1aA1aA1aA1aA1aA1", True),  # long and mixed, but 3 distinct characters
        ("", True),
    ],
)
def test_password_rules(password, weak):
    assert bool(filters.preflight_password_problems(password)) is weak


def test_password_problems_never_contain_the_password():
    for password in ("Qz7", "zzzzzzzzzzzzzzzzzzzzzzzz", "Fifteen-chars-x"):
        assert all(password not in problem for problem in filters.preflight_password_problems(password))


def test_password_min_length_can_be_raised():
    assert filters.preflight_password_problems("Sixteen-chars-ok", 20) == ["is shorter than 20 characters"]


@pytest.mark.parametrize(
    ("name", "valid"),
    [("alice", True), ("ci-bot", True), ("svc.train_01", True), ("7", True), ("a" * 64, True), ("a" * 65, False),
     ("bob:admin", False), ("-alice", False), (".hidden", False), ("al ice", False), ("", False), ("élodie", False)],
)
def test_user_names(name, valid):
    assert (filters.preflight_invalid_user_names([name]) == []) is valid


def test_user_names_must_be_a_list():
    assert filters.preflight_invalid_user_names("alice") == ["alice"]


def test_duplicates_are_reported_once():
    assert filters.preflight_duplicates(["a", "b", "a", "a", "b", "c"]) == ["a", "b"]


@pytest.mark.parametrize(
    ("name", "valid"),
    [("mlflow.example.com", True), ("localhost", True), ("127.0.0.1", True), ("2001:db8::10", True),
     ("mlflow.example.com.", True), ("https://mlflow.example.com", False), ("mlflow.example.com:443", False),
     ("-bad.example.com", False), ("a..b", False), ("under_score.example.com", False), ("1.2.3", False),
     ("a" * 64 + ".com", False), ("", False)],
)
def test_host_names(name, valid):
    assert filters.preflight_valid_host_name(name) is valid


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", ["CERTIFICATE"]),
        ("subject=CN=x\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
         "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n", ["CERTIFICATE", "CERTIFICATE"]),
        ("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
         "-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n", ["EC PARAMETERS", "EC PRIVATE KEY"]),
        ("/etc/ssl/private/mlflow.key", []),
        ("-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----", ["INVALID"]),
        ("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END CERTIFICATE-----", ["INVALID"]),
        ("-----BEGIN PRIVATE KEY-----\nMIIB\n", ["INVALID"]),
    ],
)
def test_pem_labels(text, labels):
    assert filters.preflight_pem_labels(text) == labels


@pytest.mark.parametrize(
    ("name", "covered"),
    [("mlflow.example.com", True), ("MLflow.Example.com.", True), ("a.b.example.com", False), ("example.com", False),
     ("2001:DB8:0::10", True), ("127.0.0.1", False), ("other.example.org", False)],
)
def test_certificate_names(name, covered):
    san = ["DNS:*.example.com", "IP:2001:db8::10"]
    assert filters.preflight_certificate_covers(san, name) is covered


@pytest.mark.parametrize(
    ("cidrs", "found"),
    [
        (["192.0.2.0/24", "198.51.100.7/32", "203.0.113.10/32"], ["192.0.2.0/24", "198.51.100.7/32", "203.0.113.10/32"]),
        (["2001:db8::/32", "2001:db8:1::/48"], ["2001:db8::/32", "2001:db8:1::/48"]),
        # Real addresses, and networks that only contain a documentation range, are not examples.
        (["10.0.0.0/8", "100.64.7.7/32", "192.0.0.0/8", "2001:db9::/32", "0.0.0.0/0"], []),
        (["not-a-cidr", "203.0.113.300/32"], []),
    ],
)
def test_documentation_ranges(cidrs, found):
    assert filters.preflight_documentation_cidrs(cidrs) == found


def test_open_cidrs():
    assert filters.preflight_open_cidrs(["0.0.0.0/0", "10.0.0.0/8", "::/0", "bad"]) == ["0.0.0.0/0", "::/0"]
    assert filters.preflight_open_cidrs("0.0.0.0/0") == []
