"""The host baseline (issue 16), measured on a converged server from outside the roles.

The server is reached as a user or an auditor would reach it:
- `docker exec` into the container named by E2E_SERVER (default mlflow-local-server), the
  stand-in of the EC2 host;
- SSH on 127.0.0.1:E2E_SSH_PORT as E2E_SSH_USER (default admin) with the private key
  E2E_SSH_KEY;
- HTTPS on 127.0.0.1:E2E_HTTPS_PORT.
The ports default to the local stack's (2222 and 8443, or LOCAL_SSH_PORT and LOCAL_HTTPS_PORT);
tests/e2e/test_security.py reads the same E2E_SERVER and E2E_HTTPS_PORT.

Independent auditors score the host: lynis (hardening index >= 80, run from a temporary copy of
Debian's package, never installed), ssh-audit (no failure-level finding) and testssl.sh (no
finding above LOW). The rest checks each promise of the roles by its effect: logins refused,
kernel parameters in force, modules that cannot load, audit rules, journal, upgrade policy.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import time

import pytest

import conftest

ROOT = conftest.ROOT
VENV_BIN = ROOT / ".venv" / "bin"
SERVER = os.environ.get("E2E_SERVER", conftest.SERVER)
SSH_PORT = int(os.environ.get("E2E_SSH_PORT", conftest.SSH_PORT))
HTTPS_PORT = int(os.environ.get("E2E_HTTPS_PORT", conftest.HTTPS_PORT))
SSH_USER = os.environ.get("E2E_SSH_USER", "admin")
SSH_KEY = os.environ.get("E2E_SSH_KEY", str(conftest.SSH_KEY))
LYNIS_PROFILE = pathlib.Path(__file__).resolve().parent / "lynis" / "container.prf"
LYNIS_MIN_INDEX = 80
# A user that exists on the host with the admin's key but is not in AllowUsers.
PROBE_USER = "baseline-probe"


def host(*argv, input_text=None, check=True, timeout=300):
    """Run a command inside the server container (as root)."""
    result = subprocess.run(["docker", "exec", "-i", SERVER, *argv], input=input_text,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{shlex.join(argv)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def host_sh(script, **kwargs):
    return host("sh", "-c", script, **kwargs)


def ssh(user, *command, key=None, options=()):
    """One SSH login to the server from the controller; returns the CompletedProcess."""
    argv = ["ssh", "-F", "/dev/null", "-p", str(SSH_PORT), "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
            # The stand-in's host key changes with every new container; this is loopback only.
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "IdentitiesOnly=yes", *options]
    if key:
        argv += ["-i", key]
    argv += [f"{user}@127.0.0.1", *(command or ["true"])]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def admin_key():
    if not SSH_KEY or not pathlib.Path(SSH_KEY).is_file():
        pytest.fail(f"E2E_SSH_KEY must name the private key of {SSH_USER}@server (got {SSH_KEY!r})")
    return SSH_KEY


def timed(label):
    """Print how long a block took (the README quotes these)."""
    class _Timer:
        def __enter__(self):
            self.start = time.monotonic()
            return self

        def __exit__(self, *exc):
            print(f"\n{label}: {time.monotonic() - self.start:.1f} s")
    return _Timer()


@pytest.fixture()
def unban_controller():
    """The refused logins below count as failures for fail2ban's sshd jail: lift any ban after."""
    yield
    host("fail2ban-client", "unban", "--all", check=False)


# ---------------------------------------------------------------- independent auditors

def test_lynis_hardening_index_is_at_least_80():
    """lynis from Debian's package, unpacked into a temporary directory and removed after."""
    with timed("lynis (download, audit, clean-up)"):
        workdir = host("mktemp", "-d", "/tmp/lynis-audit.XXXXXX").stdout.strip()
        try:
            host("chmod", "0755", workdir)  # apt's _apt user downloads into it
            host("cp", "/dev/stdin", f"{workdir}/custom.prf", input_text=LYNIS_PROFILE.read_text())
            host_sh(f"""set -e
cd {workdir}
apt-cache show lynis >/dev/null 2>&1 || apt-get update -qq
apt-get download -qq lynis
dpkg-deb -x lynis_*.deb pkg
cp -a pkg/usr/share/lynis/include pkg/usr/share/lynis/db pkg/etc/lynis/plugins pkg/etc/lynis/default.prf pkg/usr/sbin/lynis .
chmod 0640 custom.prf""")
            run = host_sh(f"cd {workdir} && sh ./lynis audit system --usecwd --no-colors --quick"
                          f" --logfile {workdir}/lynis.log --report-file {workdir}/report.dat",
                          check=False, timeout=600)
            report = host("cat", f"{workdir}/report.dat", check=False).stdout
        finally:
            host("rm", "-rf", workdir, check=False)
    assert host("dpkg-query", "-W", "-f=${Status}", "lynis", check=False).stdout.find("installed") < 0, \
        "lynis must not stay installed"
    assert run.returncode == 0 and report, run.stdout[-3000:] + run.stderr[-2000:]
    values = {}
    for line in report.splitlines():
        key, _, value = line.partition("=")
        values.setdefault(key, []).append(value)
    index = int(values["hardening_index"][0])
    warnings = values.get("warning[]", [])
    suggestions = values.get("suggestion[]", [])
    skipped = [line for line in LYNIS_PROFILE.read_text().splitlines() if line.startswith("skip-test=")]
    print(f"\nlynis hardening index {index} ({values.get('lynis_tests_done', ['?'])[0]} tests,"
          f" {len(warnings)} warnings, {len(suggestions)} suggestions, {len(skipped)} tests skipped by profile)")
    for warning in warnings:
        print(f"  warning: {warning}")
    assert index >= LYNIS_MIN_INDEX, f"lynis hardening index {index} < {LYNIS_MIN_INDEX}; suggestions:\n" + \
        "\n".join(suggestions)


def test_ssh_audit_finds_no_failure():
    with timed("ssh-audit"):
        result = subprocess.run([str(VENV_BIN / "ssh-audit"), "-j", "--skip-rate-test", "-p", str(SSH_PORT), "127.0.0.1"],
                                capture_output=True, text=True, timeout=120)
    audit = json.loads(result.stdout)
    failures, warnings = [], []
    for section in ("kex", "key", "enc", "mac"):
        for algorithm in audit.get(section, []):
            notes = algorithm.get("notes", {})
            failures += [f"{section} {algorithm['algorithm']}: {note}" for note in notes.get("fail", [])]
            warnings += [f"{section} {algorithm['algorithm']}: {note}" for note in notes.get("warn", [])]
    critical = audit.get("recommendations", {}).get("critical", {})
    print(f"\nssh-audit {audit['banner']['software']}: {len(failures)} failures, {len(warnings)} warnings,"
          f" {len(audit.get('cves', []))} CVEs")
    for warning in warnings:
        print(f"  warn: {warning}")
    assert not failures, failures
    assert not critical, critical
    assert not audit.get("cves"), audit["cves"]


def _testssl_command():
    """testssl.sh from Debian's package, installed the way the project installs tools."""
    for name in ("testssl", "testssl.sh"):
        if shutil.which(name):
            return shutil.which(name)
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=300)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "testssl.sh"],
                       check=True, env=env, timeout=600, capture_output=True)
        if shutil.which("testssl"):
            return shutil.which("testssl")
    pytest.skip("testssl.sh is not installed and cannot be (needs root and apt-get): apt-get install testssl.sh")


def _testssl_version(testssl):
    banner = subprocess.run([testssl, "--version"], capture_output=True, text=True, timeout=60).stdout
    match = re.search(r"testssl(?:\.sh)?\S*\s+(\d+)\.(\d+)", re.sub(r"\x1b\[[0-9;]*m", "", banner))
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


# Findings above LOW that judge something other than the server's TLS configuration, each
# excused only under its condition, and printed with the reason.
def _excused(finding, context):
    if finding["id"] == "cert_revocation" and context["self_signed"]:
        return ("a self-signed certificate has no issuer that could revoke it, so it cannot name a CRL or OCSP "
                "responder; a CA-issued certificate (nginx_tls_certificate) carries them")
    if finding["id"] == "cipher_order" and context["version"] < (3, 2) and context["only_strong_ciphers"]:
        return ("testssl < 3.2 rates any client-chosen cipher order HIGH; nginx follows Mozilla intermediate "
                "(ssl_prefer_server_ciphers off) and offers only strong AEAD ciphers with forward secrecy, "
                "which testssl 3.2 no longer flags")
    return None


def _ticket_resumption(ca, session):
    """testssl 3.0's check of TLS session resumption by ticket, without its race. testssl closes
    openssl s_client's stdin at once; in TLS 1.3 the ticket comes after the handshake, and a
    client that has already read EOF often leaves before it, so the session file stays empty,
    the resuming connection fails and testssl reports "check failed because of connect problem"
    (13 of 40 such s_client runs left no session against an idle openssl s_server here; 0 of 20
    with stdin held open 0.5 s). Here stdin stays open a second. Returns "supported" or "not
    supported", or None when a handshake fails (the server is not serving TLS)."""
    def s_client(*args):
        command = ["openssl", "s_client", "-connect", f"127.0.0.1:{HTTPS_PORT}", "-CAfile", str(ca),
                   "-verify_return_error", *args]
        return subprocess.run(["sh", "-c", 'sleep 1 | "$@"', "s_client", *command],
                              capture_output=True, text=True, timeout=60)
    if s_client("-sess_out", str(session)).returncode != 0:
        return None
    if not session.exists() or session.stat().st_size == 0:
        return "not supported"
    resumed = s_client("-sess_in", str(session))
    if resumed.returncode != 0:
        return None
    return "supported" if re.search(r"^Reused,", resumed.stdout, re.M) else "not supported"


def test_testssl_finds_nothing_above_low(tmp_path):
    testssl = _testssl_command()
    version = _testssl_version(testssl)
    # The server's own certificate is the CA to trust (self-signed on the stand-in).
    certificate = host("cat", "/etc/nginx/tls/mlflow.crt").stdout
    ca = tmp_path / "server-ca.pem"
    ca.write_text(certificate)
    self_signed = subprocess.run(["openssl", "verify", "-CAfile", str(ca), "-partial_chain", "-check_ss_sig",
                                  str(ca)], capture_output=True, text=True).returncode == 0 and \
        len(set(subprocess.run(["openssl", "x509", "-noout", "-subject", "-issuer", "-nameopt", "compat"],
                               input=certificate, capture_output=True, text=True).stdout.replace(
                                   "subject=", "").replace("issuer=", "").splitlines())) == 1
    # WARN/FATAL mean the scan itself went wrong (the controller's openssl lacking GOST is not);
    # a scan with a check that lost its connection is repeated after a pause, at most twice.
    # sessionresumption_ticket "check failed because of connect problem" is testssl's own race
    # (_ticket_resumption): seen in two, then three scans back to back in full runs on a loaded
    # 2-core machine; the test checks that one again itself. The findings judged are those of
    # a complete scan.
    for attempt in (1, 2, 3):
        if attempt > 1:
            time.sleep(15)
        out = tmp_path / f"testssl-{attempt}.json"
        with timed(f"testssl.sh {version[0]}.{version[1]} (scan {attempt})"):
            result = subprocess.run(
                [testssl, "--quiet", "--warnings", "off", "--color", "0", "--add-ca", str(ca),
                 "--jsonfile", str(out), "--ip", "one", f"127.0.0.1:{HTTPS_PORT}"],
                capture_output=True, text=True, timeout=600)
        findings = json.loads(out.read_text())
        for finding in findings:
            if finding["id"] == "sessionresumption_ticket" and "connect problem" in finding["finding"]:
                rechecked = _ticket_resumption(ca, tmp_path / f"session-{attempt}.pem")
                print(f"\ntestssl: sessionresumption_ticket: {finding['finding']}; checked again with "
                      f"stdin held open: {rechecked or 'handshake failed'}")
                if rechecked:
                    finding.update(severity="INFO", finding=f"{rechecked} (checked again by the test)")
        scan_problems = [f for f in findings if f["severity"] in ("WARN", "FATAL") and f["id"] != "engine_problem"]
        if not scan_problems:
            break
        print(f"\nscan problems: {scan_problems}")
    by_id = {f["id"]: f for f in findings}
    weak_lists = ["cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW",
                  "cipherlist_3DES_IDEA", "cipherlist_AVERAGE"]
    context = {
        "version": version,
        "self_signed": self_signed,
        "only_strong_ciphers": all(by_id.get(i, {}).get("finding") == "not offered" for i in weak_lists)
        and by_id.get("cipherlist_STRONG", {}).get("finding") == "offered",
    }
    counts = {}
    for finding in findings:
        counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
    print(f"\ntestssl.sh {len(findings)} findings by severity: {dict(sorted(counts.items()))}")
    above_low, excused = [], []
    for finding in findings:
        if finding["severity"] in ("LOW", "MEDIUM", "HIGH", "CRITICAL", "WARN", "FATAL"):
            print(f"  {finding['severity']}: {finding['id']}: {finding['finding']}")
        if finding["severity"] in ("MEDIUM", "HIGH", "CRITICAL"):
            reason = _excused(finding, context)
            (excused if reason else above_low).append((finding["id"], reason or finding["finding"]))
    for finding_id, reason in excused:
        print(f"  excused {finding_id}: {reason}")
    assert findings and result.returncode < 240, result.stdout[-2000:] + result.stderr[-2000:]
    assert not scan_problems, scan_problems
    assert not above_low, above_low


# ---------------------------------------------------------------- sshd

def test_admin_logs_in_with_the_key():
    result = ssh(SSH_USER, "sudo", "-n", "true", key=admin_key())
    assert result.returncode == 0, result.stderr


def test_sshd_configuration_passes_sshd_t_and_applies_the_hardened_values():
    host("/usr/sbin/sshd", "-t")
    effective = host("/usr/sbin/sshd", "-T", "-C", f"user={SSH_USER},host=localhost,addr=127.0.0.1").stdout
    settings = {}
    for line in effective.splitlines():
        key, _, value = line.partition(" ")
        settings.setdefault(key, []).append(value)
    assert settings["permitrootlogin"] == ["no"]
    assert settings["passwordauthentication"] == ["no"]
    assert settings["kbdinteractiveauthentication"] == ["no"]
    assert settings["authenticationmethods"] == ["publickey"]
    assert int(settings["maxauthtries"][0]) <= 3
    assert int(settings["logingracetime"][0]) <= 60
    for forwarding in ("x11forwarding", "allowagentforwarding", "allowtcpforwarding", "allowstreamlocalforwarding"):
        assert settings[forwarding] == ["no"], forwarding
    assert SSH_USER in " ".join(settings["allowusers"]).split()


def test_password_login_is_refused(unban_controller):
    result = ssh(SSH_USER, options=["-o", "PubkeyAuthentication=no",
                                    "-o", "PreferredAuthentications=password,keyboard-interactive"])
    assert result.returncode == 255
    # The server lists the methods that could still succeed: public key only.
    methods = re.search(r"Permission denied \(([^)]*)\)", result.stderr)
    assert methods and methods.group(1) == "publickey", result.stderr


@pytest.fixture()
def root_with_admin_key():
    """root's authorized_keys holds the admin's key for the test (restored after)."""
    public_key = subprocess.run(["ssh-keygen", "-y", "-f", admin_key()], capture_output=True, text=True,
                                check=True).stdout
    backup = "/root/.ssh/authorized_keys.baseline-test"
    host_sh(f"mkdir -p -m 0700 /root/.ssh && touch /root/.ssh/authorized_keys && "
            f"cp -p /root/.ssh/authorized_keys {backup} && cat >> /root/.ssh/authorized_keys",
            input_text=public_key)
    yield
    host_sh(f"mv {backup} /root/.ssh/authorized_keys", check=False)


def test_root_login_is_refused_even_with_an_authorized_key(root_with_admin_key, unban_controller):
    result = ssh("root", key=admin_key())
    assert result.returncode == 255 and "Permission denied" in result.stderr, result.stderr


@pytest.fixture()
def user_outside_allow_users():
    """A local user with the admin's key who is not in AllowUsers (removed after)."""
    public_key = subprocess.run(["ssh-keygen", "-y", "-f", admin_key()], capture_output=True, text=True,
                                check=True).stdout
    host("useradd", "--create-home", "--shell", "/bin/bash", PROBE_USER)
    host_sh(f"install -d -m 0700 -o {PROBE_USER} -g {PROBE_USER} /home/{PROBE_USER}/.ssh && "
            f"cat > /home/{PROBE_USER}/.ssh/authorized_keys && "
            f"chown {PROBE_USER}: /home/{PROBE_USER}/.ssh/authorized_keys && "
            f"chmod 0600 /home/{PROBE_USER}/.ssh/authorized_keys", input_text=public_key)
    yield PROBE_USER
    host("userdel", "--remove", PROBE_USER, check=False)


def test_user_not_in_allow_users_is_refused(user_outside_allow_users, unban_controller):
    result = ssh(user_outside_allow_users, key=admin_key())
    assert result.returncode == 255 and "Permission denied" in result.stderr, result.stderr
    # Refused by AllowUsers (sshd says so in its log), not by a broken key setup.
    time.sleep(1)
    log = host("journalctl", "-u", "ssh", "--since", "-2min", "--no-pager", "-q").stdout
    assert f"User {user_outside_allow_users} from" in log and "not allowed because not listed in AllowUsers" in log, \
        log[-2000:]


# ---------------------------------------------------------------- kernel and OS baseline

# Wanted value of each key; the second set may be missing where the kernel truly lacks the key.
SYSCTL = {
    "net.ipv4.conf.all.rp_filter": "1", "net.ipv4.conf.default.rp_filter": "1",
    "net.ipv4.conf.all.accept_redirects": "0", "net.ipv4.conf.default.accept_redirects": "0",
    "net.ipv4.conf.all.secure_redirects": "0", "net.ipv6.conf.all.accept_redirects": "0",
    "net.ipv4.conf.all.send_redirects": "0", "net.ipv4.conf.default.send_redirects": "0",
    "net.ipv4.conf.all.accept_source_route": "0", "net.ipv6.conf.all.accept_source_route": "0",
    "net.ipv4.conf.all.log_martians": "1", "net.ipv4.conf.default.log_martians": "1",
    "net.ipv4.tcp_syncookies": "1", "net.ipv4.icmp_echo_ignore_broadcasts": "1",
    "kernel.kptr_restrict": "2", "kernel.dmesg_restrict": "1", "kernel.randomize_va_space": "2",
    "fs.suid_dumpable": "0", "fs.protected_hardlinks": "1", "fs.protected_symlinks": "1",
    "fs.protected_fifos": "2", "fs.protected_regular": "2", "dev.tty.ldisc_autoload": "0",
}
# kernel.sysrq: kernels built without magic SysRq; kernel.yama.ptrace_scope: without Yama;
# net.core.bpf_jit_harden: only in the initial network namespace (not in a container's).
SYSCTL_MAY_BE_ABSENT = {"kernel.sysrq": "0", "kernel.yama.ptrace_scope": "1", "net.core.bpf_jit_harden": "2"}


def test_kernel_parameters_are_in_force_and_kept_for_boot():
    boot_file = host("cat", "/etc/sysctl.d/90-os-hardening.conf").stdout
    # A container has its own network namespace (net.* keys are its own) but shares every other
    # key with the machine's kernel, where any other systemd container that boots applies its
    # own defaults (systemd's 50-default.conf sets fs.protected_fifos = 1): there those keys are
    # checked in the boot file and their current values only printed.
    in_container = host("systemd-detect-virt", "--container", check=False).returncode == 0
    absent, shared = [], {}
    for key, wanted in {**SYSCTL, **SYSCTL_MAY_BE_ABSENT}.items():
        assert re.search(rf"^{re.escape(key)} = {wanted}$", boot_file, re.M), f"{key} not in the boot file"
        path = "/proc/sys/" + key.replace(".", "/")
        if key in SYSCTL_MAY_BE_ABSENT and host("test", "-e", path, check=False).returncode != 0:
            absent.append(key)
            continue
        value = host("sysctl", "-n", key).stdout.strip()
        if in_container and not key.startswith("net."):
            shared[key] = value
            continue
        assert value == wanted, f"{key} = {value}, wanted {wanted}"
    print(f"\nabsent from this kernel/namespace (in the boot file, not applicable here): {absent or 'none'}")
    if shared:
        print(f"shared with the machine's kernel (boot file checked), now: {shared}")
    # ufw re-applies its own sysctl.conf at every start: it must not undo log_martians.
    host("systemctl", "restart", "ufw")
    assert host("sysctl", "-n", "net.ipv4.conf.all.log_martians").stdout.strip() == "1"


@pytest.mark.parametrize("module", ["dccp", "sctp", "rds", "tipc", "cramfs", "freevxfs", "jffs2", "hfs",
                                    "hfsplus", "udf", "usb-storage"])
def test_unused_module_cannot_be_loaded(module):
    config = host_sh("cat /etc/modprobe.d/*.conf").stdout
    assert re.search(rf"^install {re.escape(module)} /bin/false$", config, re.M)
    # modprobe -n -v prints what it would do: run /bin/false instead of inserting the module.
    dry_run = host("modprobe", "-n", "-v", module, check=False)
    assert "install /bin/false" in dry_run.stdout, dry_run.stdout + dry_run.stderr


def test_login_defs_sets_umask_and_hashing():
    login_defs = host("cat", "/etc/login.defs").stdout
    settings = dict(line.split(None, 1) for line in login_defs.splitlines()
                    if line.strip() and not line.startswith("#") and len(line.split(None, 1)) == 2)
    assert settings["UMASK"].strip() == "027"
    assert settings["ENCRYPT_METHOD"].strip() in ("YESCRYPT", "SHA512")
    assert int(settings["SHA_CRYPT_MIN_ROUNDS"]) >= 5000
    # pam_umask applies it to login sessions; for a user whose group is their own private group
    # (USERGROUPS_ENAB) it copies the owner bits to the group bits (027 -> 007): others get nothing.
    result = ssh(SSH_USER, "umask", key=admin_key())
    assert result.returncode == 0 and int(result.stdout.strip(), 8) & 0o007 == 0o007, result.stdout + result.stderr
    # Commands run with sudo (Ansible's become) add sudo's 022: 027.
    result = ssh(SSH_USER, "sudo", "-n", "sh", "-c", "umask", key=admin_key())
    assert result.stdout.strip() == "0027", result.stdout + result.stderr


def test_compilers_are_for_root_only():
    found = host_sh("for c in as cc gcc g++ c++ clang; do command -v $c; done; true").stdout.split()
    if not found:
        pytest.skip("no compiler or assembler installed on this host")
    for path in found:
        real = host("realpath", "-e", path).stdout.strip()
        mode = host("stat", "-c", "%a %U", real).stdout.split()
        assert mode[0][-1] == "0" and mode[1] == "root", f"{path} -> {real}: {mode}"
        denied = ssh(SSH_USER, real, "--version", key=admin_key())
        assert denied.returncode != 0 and "Permission denied" in denied.stderr, denied.stderr


def test_auditd_watches_the_managed_files():
    watched = ["/etc/mlflow/mlflow.env", "/etc/nginx/mlflow.htpasswd", "/etc/nginx/tls", "/etc/systemd/system"]
    rules = host_sh("cat /etc/audit/rules.d/*.rules").stdout
    for path in watched:
        assert re.search(rf"^-w {re.escape(path)}/? -p w?a? *\S*", rules, re.M), f"no audit rule for {path}"
    host("augenrules", "--check")
    assert host("systemctl", "is-enabled", "auditd").stdout.strip() == "enabled"
    status = host("auditctl", "-s", check=False)
    if status.returncode != 0:
        print(f"\nauditd cannot run here: the kernel refuses audit requests from this container "
              f"({status.stderr.strip()}); rules file and augenrules --check tested instead")
        return
    loaded = host("auditctl", "-l").stdout
    for path in watched:
        assert path in loaded, loaded


def test_journal_is_persistent_and_capped():
    config = host("systemd-analyze", "cat-config", "systemd/journald.conf").stdout
    effective = {}
    for line in config.splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            effective[key.strip()] = value.strip()  # later files override earlier ones
    assert effective.get("Storage") == "persistent"
    assert re.match(r"^[0-9]+[KMGT]?$", effective.get("SystemMaxUse", ""))
    machine_id = host("cat", "/etc/machine-id").stdout.strip()
    journal_files = host_sh(f"ls /var/log/journal/{machine_id}/").stdout
    assert "system.journal" in journal_files


@pytest.mark.parametrize("rule", ["/etc/logrotate.d/nginx", "/etc/logrotate.d/fail2ban"])
def test_service_logs_are_rotated(rule):
    content = host("cat", rule).stdout
    assert re.search(r"^\s*rotate\s+\d+", content, re.M) and re.search(r"^\s*(daily|weekly)", content, re.M)
    assert "compress" in content
    debug = host("logrotate", "--debug", rule)
    assert "error:" not in debug.stderr.lower(), debug.stderr


def test_unattended_upgrades_follow_the_security_origin_only():
    periodic = host("apt-config", "dump", "APT::Periodic").stdout
    assert 'APT::Periodic::Unattended-Upgrade "1";' in periodic
    patterns = re.findall(r'^Unattended-Upgrade::Origins-Pattern:: "(.*)";$',
                          host("apt-config", "dump", "Unattended-Upgrade::Origins-Pattern").stdout, re.M)
    assert patterns and all("label=Debian-Security" in p for p in patterns), patterns
    assert host("systemctl", "is-enabled", "apt-daily-upgrade.timer").stdout.strip() == "enabled"
    with timed("unattended-upgrade --dry-run -d"):
        dry_run = host("unattended-upgrade", "--dry-run", "-d", timeout=600, check=False)
    assert dry_run.returncode == 0, dry_run.stdout[-3000:] + dry_run.stderr[-3000:]
    allowed = re.search(r"Allowed origins are: (.*)", dry_run.stdout + dry_run.stderr).group(1)
    print(f"\nunattended-upgrade allowed origins: {allowed}")
    assert "Debian-Security" in allowed and "label=Debian," not in allowed


def _main_pids(units):
    return {unit: host("systemctl", "show", "-P", "MainPID", unit).stdout.strip() for unit in units}


def test_mlflow_and_nginx_restart_when_a_library_they_use_is_replaced():
    """What an upgrade of a shared library does: the file is replaced, running processes keep the
    old (deleted) copy mapped; apt's needrestart hook must restart them."""
    units = ["nginx.service"] + host_sh(
        "systemctl list-units --type=service --state=running --no-legend --plain 'mlflow*' | cut -d' ' -f1").stdout.split()
    assert len(units) >= 2, units
    before = _main_pids(units)
    maps = {unit: host("cat", f"/proc/{pid}/maps").stdout for unit, pid in before.items()}
    libraries = [set(re.findall(r"(/\S+/lib[^/\s]+\.so[.0-9]*)$", text, re.M)) for text in maps.values()]
    common = sorted(set.intersection(*libraries) - {p for p in set.union(*libraries) if "/libc.so" in p
                                                     or "ld-linux" in p})
    assert common, libraries
    library = host("realpath", common[0]).stdout.strip()
    # Same content, new inode: exactly what dpkg does when it unpacks a new version.
    host("sh", "-c", f'cp -p "{library}" "{library}.baseline-test" && mv "{library}.baseline-test" "{library}"')
    # dpkg's status hook records that a package was unpacked; apt's post-invoke hook then runs needrestart.
    host("sh", "-c", "mkdir -p /run/needrestart && touch /run/needrestart/unpacked")
    hook = next(line for line in host("apt-config", "dump", "DPkg::Post-Invoke").stdout.splitlines()
                if "needrestart" in line)
    command = re.search(r'"(.*)";$', hook).group(1).replace('\\"', '"')
    with timed(f"needrestart after replacing {library}"):
        host("sh", "-c", command, timeout=300)
    after = _main_pids(units)
    print(f"\nreplaced {library}; main PIDs before {before}, after {after}")
    for unit in units:
        assert after[unit] not in (before[unit], "0"), f"{unit} was not restarted"
    deadline = time.monotonic() + 60
    while host("curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "https://127.0.0.1/health",
               check=False).stdout != "200":
        assert time.monotonic() < deadline, "nginx -> MLflow did not answer /health again within 60 s"
        time.sleep(1)
