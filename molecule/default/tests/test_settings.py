"""Every setting README promises ("Settings"), set in the inventory as an operator sets it
(inventory/group_vars/all.yml, host_vars), takes effect: each differs from its role default,
so a value swallowed by the wiring or a default fails here. (nginx_auth_bcrypt_cost: the
htpasswd test in test_host.py.)"""

import base64
import http.client
import ipaddress
import os
import pathlib
import re
import shutil
import ssl
import subprocess
import sys

RUN_DIR = pathlib.Path(os.environ.get("MLFLOW_MOLECULE_RUN_DIR", ""))


def _processes(target):
    rows = target.host.check_output("ps -e -o pid=,ppid=,args=").splitlines()
    return [(int(pid), int(ppid), args) for pid, ppid, args in (row.split(None, 2) for row in rows if row.strip())]


def test_mlflow_release_is_the_configured_one(target, test_vars):
    out = target.host.check_output("/opt/mlflow/venv/bin/mlflow --version")
    assert out.strip().endswith(f"version {test_vars['mlflow_version']}"), out


def test_each_mlflow_instance_runs_the_configured_number_of_workers(target, test_vars):
    workers = test_vars["mlflow_workers"]
    processes = _processes(target)
    uvicorns = [(pid, args) for pid, _, args in processes if "-m uvicorn" in args and "mlflow" in args]
    assert len(uvicorns) == 2, uvicorns  # one per MLflow instance
    for pid, args in uvicorns:
        assert f"--workers {workers}" in args, args
        children = [child for child, ppid, child_args in processes if ppid == pid and "spawn_main" in child_args]
        assert len(children) == workers, (args, children)


def test_a_body_above_the_configured_size_is_refused_before_it_is_sent(target, users):
    """nginx_client_max_body_size 3g: a request announcing 3 GiB + 1 byte gets 413 at once (with
    the 10g default nginx would wait for the body)."""
    name, password = users[0]
    context = ssl.create_default_context(cafile=str(target.cert_path))
    conn = http.client.HTTPSConnection("127.0.0.1", target.https_port, context=context, timeout=20)
    try:
        conn.putrequest("PUT", "/api/2.0/mlflow-artifacts/artifacts/settings-probe/too-big.bin")
        conn.putheader("Authorization", "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode())
        conn.putheader("Content-Length", str(3 * 1024**3 + 1))
        conn.endheaders()
        assert conn.getresponse().status == 413
    finally:
        conn.close()


def test_rate_limit_and_its_exemptions_are_the_configured_ones(target, test_vars):
    config = target.host.check_output("nginx -T 2>/dev/null")
    assert f"rate={test_vars['nginx_limit_req_rate']};" in config
    assert f"burst={test_vars['nginx_limit_req_burst']} nodelay;" in config
    geo = re.search(r"geo \$mlflow_limit_req_exempt \{(.*?)\}", config, re.S).group(1)
    for cidr in test_vars["nginx_limit_req_exempt_cidrs"]:
        assert re.search(rf"^\s*{re.escape(cidr)}\s+1;", geo, re.M), (cidr, geo)


def test_fail2ban_jail_uses_the_configured_values(target, test_vars):
    get = "fail2ban-client get nginx-basic-auth {}".format
    assert target.host.check_output(get("maxretry")).strip() == str(test_vars["fail2ban_maxretry"])
    assert test_vars["fail2ban_bantime"] == "30m"  # fail2ban reports seconds
    assert target.host.check_output(get("bantime")).strip() == "1800"


def test_fail2ban_never_bans_the_configured_allow_list(target, test_vars):
    out = target.host.check_output("fail2ban-client get nginx-basic-auth ignoreip")
    # fail2ban prints networks normalised (127.0.0.1/8 as 127.0.0.0/8): compare networks.
    listed = {ipaddress.ip_network(line.lstrip("|`- ").strip(), strict=False)
              for line in out.splitlines()[1:] if line.strip()}
    wanted = {ipaddress.ip_network(cidr, strict=False) for cidr in test_vars["fail2ban_ignoreip"]}
    assert wanted <= listed, out


def test_sshd_uses_the_configured_max_auth_tries(target, test_vars):
    out = target.host.check_output("sshd -T")
    assert f"maxauthtries {test_vars['ssh_hardening_max_auth_tries']}" in out.splitlines()


def test_automatic_reboots_happen_inside_the_configured_window(target, test_vars):
    assert 'Unattended-Upgrade::Automatic-Reboot "true";' in target.host.check_output("apt-config dump")
    start = test_vars["unattended_upgrades_reboot_window"].split("-")[0]
    calendar = target.host.check_output("systemctl show -p TimersCalendar apt-daily-upgrade.timer")
    assert f"*-*-* {start}:00" in calendar, calendar


def test_mlflow_gc_timer_runs_on_the_configured_calendar(target, test_vars):
    assert target.host.service("mlflow-gc.timer").is_enabled
    calendar = target.host.check_output("systemctl show -p TimersCalendar mlflow-gc.timer")
    assert test_vars["mlflow_gc_on_calendar"].split()[0] in calendar, calendar
    assert "04:15:00" in calendar, calendar


def test_nginx_serves_the_configured_certificate(target):
    """Debian 12: a certificate of the operator's CA (host_vars); Debian 13: the self-signed default."""
    pem = ssl.get_server_certificate(("127.0.0.1", target.https_port))
    issuer = subprocess.run(["openssl", "x509", "-noout", "-issuer", "-subject", "-nameopt", "multiline"],
                            input=pem, capture_output=True, text=True, check=True).stdout
    if target.platform == "debian12":
        assert "Molecule Test CA" in issuer, issuer
        served = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"], input=pem,
                                capture_output=True, text=True, check=True).stdout
        expected = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in",
                                   str(RUN_DIR / "tls" / "server.pem")], capture_output=True, text=True,
                                  check=True).stdout
        assert served == expected
        # A client trusting the CA alone reaches the server.
        context = ssl.create_default_context(cafile=str(RUN_DIR / "tls" / "ca.pem"))
        conn = http.client.HTTPSConnection("127.0.0.1", target.https_port, context=context, timeout=20)
        conn.request("GET", "/health")
        assert conn.getresponse().status == 200
        conn.close()
    else:
        assert "Molecule Test CA" not in issuer, issuer


def test_every_user_has_an_env_file_that_works_wherever_it_is_copied(target, users, tmp_path):
    """One env file per user, with the URL clients use (stack_public_url); copied with
    server-ca.pem to another directory and sourced from a third, it logs that user in."""
    clients = RUN_DIR / f"client-{target.platform}" / "clients"
    passwords = dict(users)
    for name in passwords:
        env_file = clients / f"{name}.env"
        assert oct(env_file.stat().st_mode & 0o777) == "0o600"
        text = env_file.read_text()
        assert f"MLFLOW_TRACKING_URI=https://127.0.0.1:{target.https_port}\n" in text
        assert re.search(rf"^MLFLOW_TRACKING_USERNAME={re.escape(name)}$", text, re.M)
    copy = tmp_path / "elsewhere"
    copy.mkdir()
    name = sorted(passwords)[-1]
    shutil.copy(clients / f"{name}.env", copy)
    shutil.copy(clients / "server-ca.pem", copy)
    script = ("import mlflow; c = mlflow.MlflowClient(); "
              "print(len(c.search_experiments(max_results=1)) >= 0, mlflow.get_tracking_uri())")
    result = subprocess.run(
        ["bash", "-c", f'set -a; . "{copy}/{name}.env"; set +a; exec "$0" -c "$1"', sys.executable, script],
        cwd="/", capture_output=True, text=True, timeout=120,
        env={key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["True", f"https://127.0.0.1:{target.https_port}"], result.stdout
