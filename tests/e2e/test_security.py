"""The security posture, measured from outside on a converged server (issue 12, items 2, 3, 6).

- brute force: every kind of basic-auth failure gets the guessing address banned within
  maxretry attempts; the ban cuts connections that were already open; an attacker cannot get
  another address banned; a different client with the right password keeps working;
- TLS: TLS 1.0/1.1 refused (by the server: the client is shown to offer them), the accepted
  TLS 1.2 ciphers are exactly the role's list, TLS 1.3 suites listed, no session tickets, HSTS;
- rate limit: 429 past the burst for one address, none for a client under the limit, none for
  an exempt address;
- retries: nginx never passes a write an instance already received to the other instance, and
  MLflow sees the client's address in X-Forwarded-For, never what the client claimed.

Every client runs inside a container of the server's Docker network, so each has its own
address, none of them on the jail's ignore list. By default the containers of the local stack;
the environment names others (a stack of one's own):
  E2E_SERVER (mlflow-local-server), E2E_HTTPS_PORT (the server's 443 on the controller: the
  local stack's, 8443 or LOCAL_HTTPS_PORT),
  E2E_ATTACKER (mlflow-local-postgres), E2E_CLIENT (mlflow-local-moto),
  E2E_CLIENT_ENV (.credentials/local/mlflow-client.env: user and password),
  E2E_UPSTREAM_UNITS / E2E_UPSTREAM_PORTS (mlflow.service mlflow-2.service / 5000 5001),
  E2E_HARDENED_UNITS (mlflow.service mlflow-2.service; empty skips that check),
  E2E_HOST_HEADER (127.0.0.1: the name MLflow answers to), E2E_JAIL (nginx-basic-auth).
The retry test stops the upstream units for a few seconds and starts them again.
"""
import base64
import concurrent.futures
import ipaddress
import json
import os
import pathlib
import re
import select
import socket
import subprocess
import time

import pytest
import yaml

import conftest
from conftest import CREDENTIALS, ROOT, docker_exec, parse_env_file

SERVER = os.environ.get("E2E_SERVER", conftest.SERVER)
HTTPS_PORT = int(os.environ.get("E2E_HTTPS_PORT", conftest.HTTPS_PORT))
ATTACKER = os.environ.get("E2E_ATTACKER", "mlflow-local-postgres")
CLIENT = os.environ.get("E2E_CLIENT", "mlflow-local-moto")
CLIENT_ENV = pathlib.Path(os.environ.get("E2E_CLIENT_ENV", str(CREDENTIALS / "mlflow-client.env")))
UPSTREAM_UNITS = os.environ.get("E2E_UPSTREAM_UNITS", "mlflow.service mlflow-2.service").split()
UPSTREAM_PORTS = [int(p) for p in os.environ.get("E2E_UPSTREAM_PORTS", "5000 5001").split()]
HARDENED_UNITS = os.environ.get("E2E_HARDENED_UNITS", "mlflow.service mlflow-2.service").split()
JAIL = os.environ.get("E2E_JAIL", "nginx-basic-auth")
# The name clients use (MLflow answers only its allowed host names).
HOST_HEADER = os.environ.get("E2E_HOST_HEADER", "127.0.0.1")
API = "/api/2.0/mlflow/experiments/search?max_results=1"
AGENT_SOURCE = (ROOT / "tests" / "e2e" / "raw_https_agent.py").read_text()
ROLE_CIPHERS = yaml.safe_load((ROOT / "roles" / "nginx" / "vars" / "main.yml").read_text())["_nginx_ssl_ciphers"].split(":")
# Mozilla "intermediate": the TLS 1.3 suites are OpenSSL's defaults (not configurable in nginx).
TLS13_SUITES = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]
TLS13_ALL = TLS13_SUITES + ["TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"]


# ---------------------------------------------------------------------------------------------
# helpers


def credentials():
    env = parse_env_file(CLIENT_ENV)  # read at use: earlier tests may have rotated the passwords
    return env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"]


def container_ip(container):
    """The container's address on the network it shares with the server."""
    def networks(name):
        out = subprocess.run(["docker", "inspect", "-f", "{{json .NetworkSettings.Networks}}", name],
                             capture_output=True, text=True, check=True, timeout=30).stdout
        return json.loads(out)
    server_nets = networks(SERVER)
    for net, settings in networks(container).items():
        if net in server_nets:
            return settings["IPAddress"]
    raise AssertionError(f"{container} shares no Docker network with {SERVER}")


def request(path=API, version="1.1", host=HOST_HEADER, auth=None, extra=(), close=True,
            method="GET", body=""):
    """One raw HTTP/1.x request; auth is (user, password) sent as Basic, byte for byte."""
    lines = [f"{method} {path} HTTP/{version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode("latin-1")).decode()
        lines.append(f"Authorization: Basic {token}")
    lines += list(extra)
    if body:
        lines.append(f"Content-Length: {len(body.encode('latin-1'))}")
    if version == "1.1":
        lines.append("Connection: close" if close else "Connection: keep-alive")
    return "\r\n".join(lines) + "\r\n\r\n" + body


class Agent:
    """raw_https_agent.py running inside a container, talking HTTPS to the server."""

    def __init__(self, container, host=None, port=443):
        self.container = container
        self.proc = subprocess.Popen(
            ["docker", "exec", "-i", container, "python3", "-u", "-c", AGENT_SOURCE, host or SERVER, str(port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def call(self, op, timeout=5, **kwargs):
        self.proc.stdin.write(json.dumps({"op": op, "timeout": timeout, **kwargs}) + "\n")
        self.proc.stdin.flush()
        # Bounded: the agent's own socket timeouts plus a margin for docker exec.
        ready, _, _ = select.select([self.proc.stdout], [], [], max(30, timeout * 4))
        assert ready, f"agent in {self.container} did not answer {op}"
        line = self.proc.stdout.readline()
        assert line, f"agent in {self.container} exited: {self.proc.stderr.read()[-2000:]}"
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture()
def attacker():
    agent = Agent(ATTACKER)
    yield agent
    agent.close()


@pytest.fixture()
def client():
    agent = Agent(CLIENT)
    yield agent
    agent.close()


def answered(result):
    return "status" in result


def describe(result):
    return str(result["status"]) if answered(result) else f"nothing ({result['error']})"


def jail_status():
    out = docker_exec(SERVER, "fail2ban-client", "status", JAIL).stdout
    total = int(re.search(r"Total failed:\s+(\d+)", out).group(1))
    banned = re.search(r"Banned IP list:\s*(.*)", out).group(1).split()
    return total, banned


def reset_jail():
    """Lift every ban and forget the failures counted so far (an unban alone keeps them)."""
    docker_exec(SERVER, "fail2ban-client", "reload", "--restart", "--unban", JAIL)
    deadline = time.monotonic() + 20
    while docker_exec(SERVER, "fail2ban-client", "status", JAIL, check=False).returncode != 0:
        assert time.monotonic() < deadline, f"jail {JAIL} did not come back"
        time.sleep(0.2)


@pytest.fixture()
def clean_bans():
    reset_jail()
    yield
    reset_jail()


# ---------------------------------------------------------------------------------------------
# brute force


def _guess(variant, attacker, user, client_ip, state):
    """Send one wrong guess of the given kind; returns the agent's result."""
    n = state["attempt"]
    wrong = (user, f"wrong-guess-{n}")
    if variant == "keep-alive (one connection)":
        if not state.get("conn_open"):
            opened = attacker.call("open", id="guess")
            if "ok" not in opened:
                return opened
            state["conn_open"] = True
            state["connections"] = state.get("connections", 0) + 1
        result = attacker.call("send", id="guess", raw=request(auth=wrong, close=False))
        if not answered(result) or result["server_closed"]:
            state["conn_open"] = False
        if state["connections"] == 1 and answered(result):
            state["first_connection_guesses"] = state.get("first_connection_guesses", 0) + 1
        return result
    raw = {
        "wrong password (HTTP/1.1)": request(auth=wrong),
        "unknown user (HTTP/1.1)": request(auth=(f"mallory{n}", f"wrong-guess-{n}")),
        "HTTP/1.0 without Host": request(version="1.0", host=None, auth=wrong),
        "unknown user, HTTP/1.0 without Host": request(version="1.0", host=None, auth=(f"mallory{n}", "x")),
        "Referer with a space and quotes": request(auth=wrong, extra=['Referer: https://a b/"c d" e']),
        "odd headers and user name": request(
            auth=(f'a"l\\i ce\t{n}', "x"),
            extra=['User-Agent: "x", client: 203.0.113.9, ', "X-Forwarded-For: 203.0.113.9",
                   "Referer: \"", "X-Odd: \x7f\xe9"]),
        # The stock filter reads the user name as ".*?" up to the LAST "password mismatch" it
        # finds: a referrer carrying a fake tail makes it read another address as the client.
        "framing the other client": request(
            auth=wrong,
            extra=[f'Referer: x": password mismatch, client: {client_ip}, server: s, '
                   'request: "GET / HTTP/1.1", host: "h']),
    }[variant]
    return attacker.call("oneshot", raw=raw)


VARIANTS = [
    "wrong password (HTTP/1.1)",
    "unknown user (HTTP/1.1)",
    "HTTP/1.0 without Host",
    "unknown user, HTTP/1.0 without Host",
    "Referer with a space and quotes",
    "odd headers and user name",
    "keep-alive (one connection)",
    "framing the other client",
]


def banned_now(attacker):
    """True when a fresh connection from the attacker gets nothing at all."""
    return not answered(attacker.call("oneshot", raw=request("/health"), timeout=3))


def test_brute_force_variants_are_banned_and_cut_open_connections(attacker, client, clean_bans):
    user, password = credentials()
    attacker_ip, client_ip = container_ip(ATTACKER), container_ip(CLIENT)
    maxretry = int(docker_exec(SERVER, "fail2ban-client", "get", JAIL, "maxretry").stdout.strip())
    ignored = docker_exec(SERVER, "fail2ban-client", "get", JAIL, "ignoreip").stdout
    ignored_nets = [ipaddress.ip_network(n, strict=False) for n in re.findall(r"[-`]- (\S+)", ignored)]
    for ip in (attacker_ip, client_ip):
        # Otherwise a ban (or its absence) would prove nothing.
        assert not any(ipaddress.ip_address(ip) in net for net in ignored_nets), f"{ip} is on the ignore list"
    bound = maxretry + 3

    rows, failures = [], []
    for variant in VARIANTS:
        reset_jail()
        assert answered(attacker.call("oneshot", raw=request("/health"))), "attacker unreachable before the attack"
        # A keep-alive connection opened before the attack, used again after the ban.
        assert attacker.call("open", id="ka").get("ok")
        assert attacker.call("send", id="ka", raw=request("/health", close=False))["status"] == 200
        state, start, banned_after = {}, time.monotonic(), None
        last_guess_at = start
        for attempt in range(1, bound + 1):
            state["attempt"] = attempt
            before, _ = jail_status()
            result = _guess(variant, attacker, user, client_ip, state)
            last_guess_at = time.monotonic()
            if not answered(result):
                banned_after = attempt - 1  # cut before this guess got an answer
                break
            assert result["status"] == 401, (variant, result)
            # Paced: wait until the jail has read this failure (or gave up on it), then look.
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline and jail_status()[0] <= before:
                time.sleep(0.25)
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                if banned_now(attacker):
                    banned_after = attempt
                    break
                time.sleep(0.25)
            if banned_after is not None:
                break
        seconds = time.monotonic() - start
        latency = time.monotonic() - last_guess_at
        _, banned_ips = jail_status()
        row = {"variant": variant, "caught": banned_after is not None, "attempts": banned_after or f">{bound}",
               "seconds": f"{seconds:.1f}" if banned_after is not None else "-",
               "latency": f"{latency:.1f}" if banned_after is not None else "-"}
        if variant == "keep-alive (one connection)":
            row["first_conn"] = state.get("first_connection_guesses", 0)
            if banned_after is not None:  # the attack's own connection, if still open, must be dead too
                again = attacker.call("send", id="guess", raw=request(auth=(user, "after-ban"), close=False)) \
                    if state.get("conn_open") else {"error": "closed by the server earlier"}
                row["attack_conn"] = describe(again)
                if answered(again):
                    failures.append(f"{variant}: the attack connection still answers after the ban")
        row["open_conn"] = describe(attacker.call("send", id="ka", raw=request("/health", close=False), timeout=4))
        right = attacker.call("oneshot", raw=request(auth=(user, password)), timeout=4)
        row["right_pw"] = describe(right)
        other = client.call("oneshot", raw=request(auth=(user, password)))
        row["other_client"] = describe(other)
        row["other_banned"] = client_ip in banned_ips
        rows.append(row)
        attacker.call("close", id="ka")
        attacker.call("close", id="guess")

        if not row["caught"]:
            failures.append(f"{variant}: not banned within {bound} attempts")
        elif banned_after > maxretry:
            failures.append(f"{variant}: banned after {banned_after} attempts (maxretry {maxretry})")
        if row["caught"] and answered(right):
            failures.append(f"{variant}: the banned address still gets {right['status']} with the right password")
        if row["caught"] and row["open_conn"] == "200":
            failures.append(f"{variant}: a connection opened before the ban still gets 200")
        if row["other_banned"] or row["other_client"] != "200":
            failures.append(f"{variant}: the other client {client_ip} got {row['other_client']} "
                            f"(banned: {row['other_banned']})")

    print(f"\nattacker {attacker_ip}, other client {client_ip}, jail {JAIL}, maxretry {maxretry}")
    header = ["variant", "caught", "attempts", "s to ban", "s after last guess", "conn opened before ban",
              "right pw from banned", "other client", "guesses on 1st conn", "attack conn after ban"]
    print(" | ".join(header))
    for r in rows:
        print(" | ".join(str(x) for x in (r["variant"], "yes" if r["caught"] else "NO", r["attempts"], r["seconds"],
                                          r["latency"], r["open_conn"], r["right_pw"],
                                          r["other_client"] + (" BANNED" if r["other_banned"] else ""),
                                          r.get("first_conn", "-"), r.get("attack_conn", "-"))))
    assert not failures, "\n".join(failures)


def test_a_fast_guesser_is_cut_off(attacker, clean_bans):
    """No pause between guesses: count how many get an answer before the ban lands (printed;
    the ban must land within seconds)."""
    user, _ = credentials()
    answered_guesses, start, cut = 0, time.monotonic(), None
    while time.monotonic() - start < 20 and answered_guesses < 300:
        result = attacker.call("oneshot", raw=request(auth=(user, f"fast-{answered_guesses}")), timeout=3)
        if not answered(result):
            cut = time.monotonic() - start
            break
        answered_guesses += 1
    print(f"\nfast guesser: {answered_guesses} guesses answered, cut after {cut if cut is None else round(cut, 1)} s")
    assert cut is not None and cut < 10, f"not cut off within 20 s ({answered_guesses} guesses answered)"


def test_a_401_closes_the_connection_and_still_asks_for_credentials(attacker, clean_bans):
    """After a failed guess nginx closes the connection: one connection carries one guess."""
    user, _ = credentials()
    assert attacker.call("open", id="c").get("ok")
    first = attacker.call("send", id="c", raw=request(auth=(user, "wrong-1"), close=False))
    assert first["status"] == 401
    assert first["headers"].get("www-authenticate", "").startswith("Basic realm="), first["headers"]
    assert first["headers"].get("strict-transport-security") == "max-age=63072000"
    assert first["server_closed"], first["headers"]
    second = attacker.call("send", id="c", raw=request(auth=(user, "wrong-2"), close=False))
    assert not answered(second), second


# ---------------------------------------------------------------------------------------------
# TLS (from the controller, through the published port)


def s_client(*args, timeout=20):
    return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{HTTPS_PORT}", *args],
                          input="", capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def old_tls_server(tmp_path_factory):
    """A local openssl s_server that accepts TLS 1.0 and 1.1: proves the client offers them."""
    tmp = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=selfcheck",
                    "-days", "1", "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(tmp / "cert.pem"),
                             "-key", str(tmp / "key.pem"), "-cipher", "DEFAULT:@SECLEVEL=0", "-min_protocol", "TLSv1",
                             "-www"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize(("flag", "version"), [("-tls1", "TLSv1"), ("-tls1_1", "TLSv1.1")])
def test_tls_10_and_11_are_refused_by_the_server(old_tls_server, flag, version):
    client_args = [flag, "-cipher", "DEFAULT:@SECLEVEL=0", "-brief"]
    # Self-check: this client does negotiate the old version with a server that allows it.
    check = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{old_tls_server}", *client_args],
                           input="", capture_output=True, text=True, timeout=20)
    assert check.returncode == 0 and f"Protocol version: {version}" in check.stderr, check.stderr[-800:]
    result = s_client(*client_args)
    assert result.returncode != 0, result.stderr[-800:]
    # The server's protocol_version alert, not a refusal by the client's own library.
    assert "alert protocol version" in result.stderr, result.stderr[-800:]


def _served_key_type():
    pem = s_client("-showcerts").stdout
    text = subprocess.run(["openssl", "x509", "-noout", "-text"], input=pem, capture_output=True, text=True,
                          check=True, timeout=20).stdout
    return "ECDSA" if "id-ecPublicKey" in text else "RSA"


def _try_cipher(name):
    result = s_client("-tls1_2", "-cipher", f"{name}:@SECLEVEL=0", "-brief")
    if result.returncode == 0 and re.search(rf"Ciphersuite: {re.escape(name)}\b", result.stderr):
        return name, "accepted"
    if "no cipher" in result.stderr.lower() or "no ciphers available" in result.stderr.lower():
        return name, "not offered by this client"
    return name, "refused"


def test_tls12_accepts_exactly_the_configured_ciphers():
    known = {}
    for line in subprocess.run(["openssl", "ciphers", "-v", "ALL:@SECLEVEL=0"], capture_output=True, text=True,
                               check=True, timeout=20).stdout.splitlines():
        fields = line.split()
        if fields[1] != "TLSv1.3":
            known[fields[0]] = dict(f.split("=", 1) for f in fields[2:] if "=" in f)["Au"]
    assert set(ROLE_CIPHERS) <= set(known), f"the client cannot test {set(ROLE_CIPHERS) - set(known)}"
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        outcome = dict(pool.map(_try_cipher, sorted(known)))
    accepted = sorted(n for n, o in outcome.items() if o == "accepted")
    not_offered = sorted(n for n, o in outcome.items() if o == "not offered by this client")
    key_type = _served_key_type()
    # A cipher suite needs a certificate of its kind: with an ECDSA key the RSA suites cannot be used.
    expected = sorted(c for c in ROLE_CIPHERS if known[c] == key_type)
    print(f"\nTLS 1.2: tried {len(known)} ciphers, accepted {accepted} ({key_type} certificate); "
          f"{len(not_offered)} not offered by this client: {not_offered}")
    assert expected and accepted == expected


def test_tls13_suites():
    accepted = []
    for suite in TLS13_ALL:
        result = s_client("-tls1_3", "-ciphersuites", suite, "-brief")
        if result.returncode == 0 and f"Ciphersuite: {suite}" in result.stderr:
            accepted.append(suite)
    print(f"\nTLS 1.3 suites accepted: {accepted}")
    assert accepted and set(accepted) <= set(TLS13_SUITES)


def test_tls12_issues_no_session_ticket(tmp_path):
    result = s_client("-tls1_2", "-sess_out", str(tmp_path / "session.pem"))
    assert "Protocol  : TLSv1.2" in result.stdout, result.stdout[-1500:]
    assert "TLS session ticket" not in result.stdout, result.stdout[-1500:]
    session = subprocess.run(["openssl", "sess_id", "-in", str(tmp_path / "session.pem"), "-noout", "-text"],
                             capture_output=True, text=True, check=True, timeout=20).stdout
    assert "TLS session ticket" not in session, session


def test_hsts_and_security_headers_on_200_and_401(client):
    for path, auth, status in (("/health", None, 200), (API, ("nobody", "wrong-password-x"), 401)):
        result = client.call("oneshot", raw=request(path, auth=auth))
        assert result["status"] == status, result
        headers = result["headers"]
        assert headers["strict-transport-security"] == "max-age=63072000"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "SAMEORIGIN"
        assert headers["referrer-policy"]
        assert "frame-ancestors" in headers["content-security-policy"]
        assert headers["server"] == "nginx"  # server_tokens off: no version


# ---------------------------------------------------------------------------------------------
# rate limit


def _limit_settings():
    conf = docker_exec(SERVER, "nginx", "-T").stdout
    limit = re.search(r"^\s*limit_req\s+zone=(\S+)\s+burst=(\d+)", conf, re.M)
    assert limit, "no limit_req in the running nginx configuration"
    zone, burst = limit.groups()
    rate = re.search(rf"limit_req_zone\s+\S+\s+zone={zone}:\S+\s+rate=(\d+)r/s", conf).group(1)
    return int(rate), int(burst)


def test_rate_limit_answers_429_past_the_burst_and_spares_normal_and_exempt_clients(client):
    rate, burst = _limit_settings()
    # A client loop well under the rate: one request every 50 ms on one connection.
    normal = client.call("paced", raw=request("/health", close=False), count=60, interval=0.05, timeout=10)
    assert normal["counts"] == {"200": 60}, normal
    time.sleep(burst / rate + 1)  # the bucket is full again
    # A burst from one address: 8 connections pipelining 80 requests each, bounded to 640.
    raws = [request("/health", close=False)] * 79 + [request("/health")]
    flood = client.call("pipeline", connections=8, raw=raws, timeout=30)
    counts, seconds = flood["counts"], flood["seconds"]
    print(f"\nrate limit {rate} r/s burst {burst}: normal loop {normal['counts']} in {normal['seconds']} s; "
          f"burst of 640 from one address: {counts} in {seconds} s")
    assert set(counts) <= {"200", "429"}, counts
    assert counts.get("429", 0) > 0, counts
    assert burst <= counts["200"] <= burst + rate * seconds + 10, counts
    time.sleep(burst / rate + 1)
    # The same burst from the host's loopback (nginx_limit_req_exempt_cidrs' default) sees no 429.
    local = Agent(SERVER, host="127.0.0.1")
    try:
        exempt = local.call("pipeline", connections=8, raw=raws, timeout=30)
    finally:
        local.close()
    print(f"same burst from 127.0.0.1 on the host: {exempt['counts']} in {exempt['seconds']} s")
    assert exempt["counts"] == {"200": 640}, exempt


# ---------------------------------------------------------------------------------------------
# retries

PROBE = r"""
import json, socket, sys
port, log = int(sys.argv[1]), sys.argv[2]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(16)
while True:
    conn, _ = srv.accept()
    conn.settimeout(5)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        while len(body) < int(headers.get("content-length", 0)):
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        if lines[0]:
            with open(log, "a") as f:
                f.write(json.dumps({"port": port, "request": lines[0], "xff": headers.get("x-forwarded-for")}) + "\n")
    except OSError:
        pass
    conn.close()  # no response: this instance died after it read the request
"""


def _probe_log():
    out = docker_exec(SERVER, "sh", "-c", "cat /tmp/replay-probe-*.log 2>/dev/null", check=False).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _start_probe(port):
    docker_exec(SERVER, "systemd-run", f"--unit=replay-probe-{port}", "--collect", "--quiet",
                "python3", "-c", PROBE, str(port), f"/tmp/replay-probe-{port}.log")
    deadline = time.monotonic() + 10
    while not docker_exec(SERVER, "ss", "-Hltn", f"sport = :{port}").stdout.strip():
        assert time.monotonic() < deadline, f"probe on {port} did not start"
        time.sleep(0.2)


def _stop_probe(port):
    docker_exec(SERVER, "systemctl", "stop", f"replay-probe-{port}.service", check=False)


def _health_through_nginx():
    local = Agent(SERVER, host="127.0.0.1")
    try:
        return local.call("oneshot", raw=request("/health"))
    finally:
        local.close()


def test_nginx_never_replays_a_write_and_forwards_only_the_real_address(client):
    """Both instances are replaced by probes that read a request and die without answering.
    A POST must reach one instance only; a GET is retried (so retries are on at all); with one
    instance refusing connections, every POST still reaches the other one."""
    user, password = credentials()
    client_ip = container_ip(CLIENT)
    docker_exec(SERVER, "systemctl", "stop", *UPSTREAM_UNITS)
    try:
        docker_exec(SERVER, "sh", "-c", "rm -f /tmp/replay-probe-*.log")
        for port in UPSTREAM_PORTS:
            _start_probe(port)
        forged = ["X-Forwarded-For: 203.0.113.66", "Content-Type: application/json"]
        for i in range(4):
            result = client.call("oneshot", raw=request(f"/api/2.0/mlflow/runs/create?probe=post{i}", method="POST",
                                                        auth=(user, password), extra=forged, body="{}"), timeout=15)
            assert result.get("status") == 502, result
        for i in range(2):
            result = client.call("oneshot", raw=request(f"{API}&probe=get{i}", auth=(user, password), extra=forged),
                                 timeout=15)
            assert result.get("status") == 502, result
        _stop_probe(UPSTREAM_PORTS[0])  # connections to the first instance are now refused
        for i in range(4):
            result = client.call("oneshot", raw=request(f"/api/2.0/mlflow/runs/create?probe=refused{i}",
                                                        method="POST", auth=(user, password), extra=forged,
                                                        body="{}"), timeout=15)
            assert result.get("status") == 502, result
        seen = _probe_log()
    finally:
        for port in UPSTREAM_PORTS:
            _stop_probe(port)
        docker_exec(SERVER, "systemctl", "start", *UPSTREAM_UNITS)
        deadline = time.monotonic() + 180
        while _health_through_nginx().get("status") != 200:
            assert time.monotonic() < deadline, "the upstreams did not come back"
            time.sleep(2)
    received = {}
    for record in seen:
        probe = re.search(r"probe=(\w+)", record["request"]).group(1)
        received.setdefault(probe, []).append(record["port"])
    print(f"\nrequests received per instance port: {received}")
    for i in range(4):
        assert len(received.get(f"post{i}", [])) == 1, f"POST post{i} reached {received.get(f'post{i}')}: replayed"
        assert received.get(f"refused{i}") == [UPSTREAM_PORTS[1]], f"refused{i}: {received.get(f'refused{i}')}"
    for i in range(2):
        assert sorted(received.get(f"get{i}", [])) == sorted(UPSTREAM_PORTS), f"GET get{i} was not retried"
    assert {record["xff"] for record in seen} == {client_ip}, seen


# ---------------------------------------------------------------------------------------------
# systemd hardening of the MLflow units


@pytest.mark.skipif(not HARDENED_UNITS, reason="E2E_HARDENED_UNITS is empty (no MLflow units on this server)")
@pytest.mark.parametrize("unit", HARDENED_UNITS)
def test_mlflow_units_are_hardened(unit):
    out = docker_exec(SERVER, "systemd-analyze", "security", "--no-pager", unit).stdout
    exposure = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", out).group(1))
    print(f"\n{unit}: systemd-analyze security exposure {exposure}")
    assert exposure <= 2.0, out[-2000:]
