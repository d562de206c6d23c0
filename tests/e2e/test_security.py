"""The security posture, measured on the converged local stack (issue: prove the posture).

- brute force: a client that keeps failing basic auth is banned (fail2ban -> ufw), while the
  right credentials from another client keep working;
- hardening: systemd-analyze exposure of the MLflow units, TLS versions, HSTS and headers.
The secret-hygiene sweep (every secret searched in logs, units, process list) lives in
test_secret_hygiene.py.
"""
import re
import subprocess
import time

import pytest

from conftest import CREDENTIALS, POSTGRES, SERVER, docker_exec, parse_env_file

URL = "https://127.0.0.1:8443"


def curl_from_attacker(user, pw, path="/api/2.0/mlflow/experiments/search?max_results=1"):
    """A request from another container of the network (its own source address), naming the
    server as clients do (MLflow only answers its allowed host names)."""
    result = docker_exec(POSTGRES, "curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                         "-H", "Host: 127.0.0.1", "-u", f"{user}:{pw}", f"https://{SERVER}{path}", check=False)
    # curl prints 000 when no HTTP response came back (refused, reset).
    return result.stdout.strip() or "000"


def controller_status(user, pw, cert):
    import requests
    s = requests.Session()
    s.trust_env = False
    return s.get(f"{URL}/api/2.0/mlflow/experiments/search", params={"max_results": 1},
                 auth=(user, pw), verify=cert, timeout=10).status_code


@pytest.fixture()
def unban():
    yield
    docker_exec(SERVER, "fail2ban-client", "unban", "--all", check=False)


def test_repeated_wrong_passwords_get_the_client_banned_but_not_others(unban):
    # Read the env file now: earlier tests rotated the passwords.
    client_env = parse_env_file(CREDENTIALS / "mlflow-client.env")
    cert = client_env["MLFLOW_TRACKING_SERVER_CERT_PATH"]
    user, pw = client_env["MLFLOW_TRACKING_USERNAME"], client_env["MLFLOW_TRACKING_PASSWORD"]
    docker_exec(SERVER, "fail2ban-client", "unban", "--all", check=False)
    attacker_ip = docker_exec(POSTGRES, "hostname", "-i").stdout.split()[0]
    assert curl_from_attacker(user, pw) == "200"  # reachable before the attack

    outcomes = []
    for attempt in range(12):  # bounded: 12 guesses, ~1 s apart at most
        outcomes.append(curl_from_attacker(user, f"guess-{attempt}"))
        time.sleep(0.5)
    print(f"\nwrong-password attempts from {attacker_ip}: {outcomes}")
    assert outcomes[0] == "401"
    # fail2ban (maxretry 5) bans the address through ufw: the connection is refused.
    assert outcomes[:5] == ["401"] * 5 and outcomes[-1] == "000", outcomes
    status = docker_exec(SERVER, "fail2ban-client", "status", "nginx-http-auth").stdout
    assert attacker_ip in status
    assert any(attacker_ip in line and "REJECT" in line.upper() for line in
               docker_exec(SERVER, "ufw", "status").stdout.splitlines())
    # Even the right password from the banned address is refused now ...
    assert curl_from_attacker(user, pw) == "000"
    # ... while another client with the right credentials still gets in.
    assert controller_status(user, pw, cert) == 200


def test_mlflow_units_are_hardened():
    for unit in ("mlflow.service", "mlflow-2.service"):
        out = docker_exec(SERVER, "systemd-analyze", "security", "--no-pager", unit).stdout
        exposure = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", out).group(1))
        print(f"\n{unit}: systemd-analyze security exposure {exposure}")
        assert exposure <= 2.0, out[-2000:]


@pytest.mark.parametrize(("flag", "accepted"), [("-tls1_1", False), ("-tls1_2", True), ("-tls1_3", True)])
def test_nginx_offers_only_tls_1_2_and_1_3(flag, accepted):
    result = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:8443", flag, "-brief"],
                            input="", capture_output=True, text=True, timeout=30)
    assert (result.returncode == 0 and "Protocol version" in result.stderr) == accepted, result.stderr[-500:]


def test_nginx_sends_hsts_and_security_headers(client_env):
    import requests
    s = requests.Session()
    s.trust_env = False
    for auth in (None, ("nobody", "wrong-password-x")):  # headers on 401s too ("always")
        r = s.get(f"{URL}/health" if auth is None else f"{URL}/", auth=auth,
                  verify=client_env["MLFLOW_TRACKING_SERVER_CERT_PATH"], timeout=10)
        assert r.headers["Strict-Transport-Security"].startswith("max-age=63072000")
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "Referrer-Policy" in r.headers
        assert r.headers["Server"] == "nginx"  # server_tokens off: no version
        assert "Content-Security-Policy" in r.headers
