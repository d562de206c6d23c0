"""What a user sees from the outside: HTTPS, redirects, auth, TLS versions, headers, a real client."""

import socket
import ssl
import warnings

import pytest
import requests

from mlflow_client import roundtrip

API = "/api/2.0/mlflow/experiments/search?max_results=1"


def _get(target, path, auth=None):
    return requests.get(f"{target.base_url}{path}", auth=auth, verify=str(target.cert_path), timeout=30)


def test_no_credentials_get_401(target):
    resp = _get(target, API)
    assert resp.status_code == 401
    assert "Basic" in resp.headers.get("WWW-Authenticate", "")


def test_wrong_password_gets_401(target, users):
    name, password = users[0]
    assert _get(target, API, auth=(name, password + "x")).status_code == 401
    assert _get(target, API, auth=("mallory", password)).status_code == 401


def test_every_configured_user_gets_200(target, users):
    for name, password in users:
        resp = _get(target, API, auth=(name, password))
        assert resp.status_code == 200, f"{name}: {resp.status_code} {resp.text[:200]}"
        assert "experiments" in resp.json()


def test_http_redirects_permanently_to_https(target):
    resp = requests.get(f"http://127.0.0.1:{target.http_port}/some/path?x=1", allow_redirects=False, timeout=10)
    assert resp.status_code == 308
    assert resp.headers["Location"] == "https://127.0.0.1/some/path?x=1"


def test_health_needs_no_credentials(target):
    resp = _get(target, "/health")
    assert resp.status_code == 200
    assert resp.text.strip() == "OK"


def _handshake(target, version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(target.cert_path))
    # Let the client offer old protocols, so a refusal can only come from the server.
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 on purpose
        ctx.minimum_version = version
        ctx.maximum_version = version
    with socket.create_connection(("127.0.0.1", target.https_port), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
            return tls.version()


@pytest.mark.parametrize("version,name", [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")])
def test_tls_12_and_13_are_accepted(target, version, name):
    assert _handshake(target, version) == name


with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    OLD_VERSIONS = [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1]


@pytest.mark.parametrize("version", OLD_VERSIONS, ids=["TLSv1.0", "TLSv1.1"])
def test_tls_10_and_11_are_refused(target, version):
    with pytest.raises(ssl.SSLError) as refused:
        _handshake(target, version)
    # The server's protocol_version alert, not a refusal by the client's own OpenSSL.
    assert "ALERT_PROTOCOL_VERSION" in str(refused.value), refused.value


@pytest.mark.parametrize("authenticated", [False, True])
def test_security_headers_on_every_response(target, users, authenticated):
    resp = _get(target, API, auth=users[0] if authenticated else None)
    assert resp.status_code == (200 if authenticated else 401)
    headers = resp.headers
    assert headers.get("Strict-Transport-Security") == "max-age=63072000"
    assert headers.get("X-Content-Type-Options") == "nosniff"
    # Sent exactly once (requests joins repeated headers with ", ").
    assert headers.get("X-Frame-Options") == "SAMEORIGIN"
    assert headers.get("Referrer-Policy")
    assert "frame-ancestors 'self'" in headers.get("Content-Security-Policy", "")
    assert headers.get("Server") == "nginx", "server tokens leak the version"


def test_error_pages_do_not_reveal_the_version(target):
    resp = _get(target, API)
    assert "nginx/" not in resp.text


def test_mlflow_client_round_trip_through_nginx(target, users, test_vars, tmp_path):
    name, password = users[1]
    roundtrip(target, name, password, test_vars, tmp_path, "web")
