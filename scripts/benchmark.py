#!/usr/bin/env python3
"""Print the operational figures of the local stack in one run (`make bench`).

Needs a converged local stack (`make demo`). Prints, with the machine's core count:
  1. the phases of the last `make demo` (scripts/demo.sh keeps them in .cache/demo-phases.txt);
  2. a database-password rotation under load: wall time, requests sent and failed;
  3. the wall time of a no-op rerun of site.yml, its changed count and the number of tasks run,
     with Ansible's default strategy and with the opt-in Mitogen one (README, Speed), beside
     Ansible's own cost of one module task on this machine (a ping on the server over the same
     SSH connection, and one on the controller), which bounds what a rerun of that many tasks
     can cost;
  4. throughput and p50/p99 latency of a representative MLflow API call (runs/get), through
     nginx (HTTPS + basic auth) and directly on MLflow's 127.0.0.1 ports (the instances nginx
     spreads requests over, in turn), both measured from inside the host by the same client,
     at concurrency 1 and 8, in alternating rounds, and their ratios (throughput: the median
     of the rounds' ratios, with their range).
All traffic stays on loopback or goes into the project's own container; every loop is bounded.
"""
from __future__ import annotations

import json
import os
import pathlib
import platform
import re
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from mlflow_load import LoadLoop, create_run, latency_summary  # noqa: E402

CREDENTIALS = ROOT / ".credentials" / "local"
# The local stack publishes the server's 443 here (LOCAL_HTTPS_PORT moves it).
URL = f"https://127.0.0.1:{int(os.environ.get('LOCAL_HTTPS_PORT', '8443'))}"
SERVER = "mlflow-local-server"
REQUESTS = 400  # per measurement (split over the client threads)
ROUNDS = 5  # measurements of each path at each level, alternating


def password(user):
    return (CREDENTIALS / "auth" / user).read_text().strip()


def ansible_playbook(*args, strategy="linear"):
    """Run ansible-playbook with the local inventory; returns (wall seconds, its output)."""
    started = time.monotonic()
    run = subprocess.run([str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(ROOT / "inventories/local"), *args],
                         cwd=ROOT, capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
                              "ANSIBLE_STRATEGY": strategy,
                              "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                              "HOME": str(pathlib.Path.home())})
    wall = time.monotonic() - started
    if run.returncode != 0:
        sys.exit(f"ansible-playbook {' '.join(args)} failed:\n{run.stdout[-3000:]}")
    return wall, run.stdout


def playbook(*args, strategy="linear"):
    """Run a playbook on the local stack; returns (wall seconds, changed, tasks run)."""
    wall, output = ansible_playbook(*args, strategy=strategy)
    changed, tasks = recap_counts(output)
    return wall, changed, tasks


# Ansible's cost of a task that runs a module, apart from what the module does: FLOOR_TASKS
# pings on the server (as site.yml reaches it: SSH with the stack's key and known_hosts,
# pipelining, ControlPersist, become) and as many on the controller (the local connection the
# AWS modules use), each timed between two marks after a first ping has opened the
# connection. A rerun of N module tasks cannot be faster than N times that.
FLOOR_TASKS = 20
FLOOR_PLAYBOOK = """
- name: Reach the server as site.yml does
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Add the server
      ansible.builtin.add_host:
        name: floor-server
        ansible_host: 127.0.0.1
        ansible_port: "{{{{ local_ssh_port }}}}"
        ansible_user: admin
        ansible_ssh_private_key_file: {credentials}/ssh_key
        ansible_ssh_common_args: -o UserKnownHostsFile={credentials}/known_hosts -o StrictHostKeyChecking=yes
        ansible_python_interpreter: /usr/bin/python3
{plays}"""
FLOOR_PLAY = """
- name: Time {n} pings on {host}
  hosts: {host}
  gather_facts: false
  become: {become}
  tasks:
    - name: Open the connection
      ansible.builtin.ping:
    - name: Mark the start
      ansible.builtin.debug:
        msg: "FLOOR {host} start {{{{ now(fmt='%s.%f') }}}}"
{pings}    - name: Mark the end
      ansible.builtin.debug:
        msg: "FLOOR {host} end {{{{ now(fmt='%s.%f') }}}}"
"""


def module_task_floor():
    """Seconds Ansible spends on one module task: {'floor-server': s, 'localhost': s}."""
    pings = "".join(f"    - name: Ping {i}\n      ansible.builtin.ping:\n" for i in range(FLOOR_TASKS))
    plays = "".join(FLOOR_PLAY.format(n=FLOOR_TASKS, host=host, become=become, pings=pings)
                    for host, become in (("floor-server", "true"), ("localhost", "false")))
    book = ROOT / ".cache" / "bench-floor.yml"
    book.parent.mkdir(exist_ok=True)
    book.write_text(FLOOR_PLAYBOOK.format(credentials=CREDENTIALS, plays=plays))
    _, output = ansible_playbook(str(book))
    marks = {(h, w): float(t) for h, w, t in re.findall(r"FLOOR (\S+) (start|end) ([0-9.]+)", output)}
    return {host: (marks[host, "end"] - marks[host, "start"]) / FLOOR_TASKS for host in ("floor-server", "localhost")}


# Runs inside the host with MLflow's own venv (it has requests): the same client measures
# MLflow directly and nginx, so the ratio is nginx + TLS + basic auth alone. Direct requests go
# to the instances of nginx's upstream in turn, as nginx sends them: on 2 cores an instance
# that serves every other request answers more slowly than one that serves them all (at
# concurrency 1 nginx/direct was 0.83x against one instance, 0.98x with nginx held to that
# one instance, 0.91-0.94x against both in turn, 2026-12-04), and at concurrency 8 one
# instance against two measured the instance count, not nginx. Each of C client
# threads has its own session; throughput counts every request over the wall time. One
# measurement of a few seconds moves by 5-10 % from one to the next on a busy 2-core machine,
# so ROUNDS rounds alternate direct and nginx at each level, and the ratio is printed as the
# median of the rounds' ratios with their range.
INSIDE = r"""
import json, re, sys, threading, time, warnings
import requests
warnings.simplefilter("ignore")
user, pw, run_id, host, n, levels, rounds = sys.argv[1:8]
# The instances nginx proxies to (its upstream "mlflow"), e.g. ["5000", "5001"].
with open("/etc/nginx/sites-enabled/mlflow.conf") as conf:
    PORTS = re.findall(r"server 127\.0\.0\.1:(\d+)", re.search(r"upstream mlflow \{(.*?)\}", conf.read(), re.S).group(1))
DIRECT = ["http://127.0.0.1:%s/api/2.0/mlflow/runs/get" % port for port in PORTS]
NGINX = ["https://127.0.0.1/api/2.0/mlflow/runs/get"]
def measure(urls, auth, close, concurrency):
    lat, lock = [], threading.Lock()
    per = int(n) // concurrency
    def worker(first):
        s = requests.Session(); s.trust_env = False; s.auth = auth; s.verify = False
        s.headers["Host"] = host
        if close:
            # nginx opens a new upstream connection per request: measure MLflow that way.
            s.headers["Connection"] = "close"
        mine = []
        for i in range(first, first + per):
            a = time.monotonic(); r = s.get(urls[i % len(urls)], params={"run_id": run_id}, timeout=30); b = time.monotonic()
            assert r.status_code == 200, r.status_code
            mine.append(b - a)
        with lock:
            lat.extend(mine)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    t0 = time.monotonic()
    for t in threads: t.start()
    for t in threads: t.join()
    return {"lat": lat, "wall": time.monotonic() - t0}
out = []
for _ in range(int(rounds)):
    for c in [int(x) for x in levels.split(",")]:
        # Interleaved: MLflow's caches warm for both, machine noise spread over both.
        out.append({"level": c, "direct": measure(DIRECT, None, True, c), "nginx": measure(NGINX, (user, pw), False, c)})
print(json.dumps({"ports": PORTS, "rounds": out}))
"""
LEVELS = (1, 8)


def recap_counts(output):
    """(changed, tasks run) summed over every host of the PLAY RECAP."""
    rows = re.findall(r"ok=(\d+)\s+changed=(\d+)", output.split("PLAY RECAP")[-1])
    return sum(int(c) for _, c in rows), sum(int(o) for o, _ in rows)


def main():
    cert = str(CREDENTIALS / "server-ca.pem")
    if not (CREDENTIALS / "mlflow-client.env").exists():
        sys.exit("No local stack: run `make demo` first.")
    print(f"== machine: {os.cpu_count()} cores; {platform.platform()}")
    for label, name in (("first run on this machine", "demo-phases-first.txt"), ("last run", "demo-phases.txt")):
        phases = ROOT / ".cache" / name
        print(f"== make demo phases, {label} (scripts/demo.sh)")
        print(phases.read_text().rstrip() if phases.exists() else "(not recorded)")

    user = "ci-bot" if (CREDENTIALS / "auth" / "ci-bot").exists() else "alice"
    auth = (user, password(user))
    run_id = create_run(URL, auth, cert, "benchmark")

    print("== rotation under load (playbooks/rotate-credentials.yml -e rotate=db)")
    loop = LoadLoop(URL, auth, run_id, cert, max_seconds=900)
    loop.start()
    time.sleep(2)
    wall, _, _ = playbook("playbooks/rotate-credentials.yml", "-e", "rotate=db")
    loop.stop()
    failed = sum(loop.failures().values())
    print(f"rotation wall time        {wall:8.1f} s")
    print(f"requests during rotation  {loop.sent:8d} sent, {failed} failed" + (f" {dict(loop.failures())}" if failed else ""))

    print("== no-op rerun of site.yml (SSH, pipelining, ControlPersist)")
    wall, changed, tasks = playbook("site.yml")
    print(f"site.yml rerun wall time  {wall:8.1f} s (changed={changed}, {tasks} tasks run)")
    wall, changed, tasks = playbook("site.yml", strategy="mitogen_linear")
    print(f"same, ANSIBLE_STRATEGY=mitogen_linear {wall:8.1f} s (changed={changed}, {tasks} tasks run)")
    floor = module_task_floor()
    print(f"Ansible's own cost of one module task here ({FLOOR_TASKS} pings each, default strategy):")
    print(f"  on the server (SSH, pipelining, ControlPersist, become)  {floor['floor-server']:5.2f} s")
    print(f"  on the controller (local connection, the AWS modules')    {floor['localhost']:5.2f} s")
    print(f"  30 s at the server's cost: {int(30 / floor['floor-server'])} module tasks")

    print(f"== GET runs/get, {ROUNDS} rounds of {REQUESTS} requests per path and level, from inside the host")
    inside = subprocess.run(["docker", "exec", "-i", SERVER, "/opt/mlflow/venv/bin/python", "-", user, auth[1],
                             run_id, "127.0.0.1", str(REQUESTS), ",".join(map(str, LEVELS)), str(ROUNDS)],
                            input=INSIDE, capture_output=True, text=True, timeout=900)
    if inside.returncode != 0:
        sys.exit(f"in-host measurement failed: {inside.stderr[-2000:]}")
    measured = json.loads(inside.stdout)
    rounds, ports = measured["rounds"], measured["ports"]
    for c in LEVELS:
        mine = [r for r in rounds if r["level"] == c]
        pooled = {}
        for path in ("direct", "nginx"):
            # Every request of every round: latencies pooled, throughput over the summed walls.
            pooled[path] = latency_summary([x for r in mine for x in r[path]["lat"]], sum(r[path]["wall"] for r in mine))
            label = (f"MLflow direct, 127.0.0.1:{'+'.join(ports)} in turn (new conn)" if path == "direct"
                     else "nginx HTTPS + basic auth (keep-alive)") + f", c={c}"
            p = pooled[path]
            print(f"{label:60s} {p['throughput']:7.1f} req/s  p50 {p['p50_ms']:6.2f} ms  p99 {p['p99_ms']:6.2f} ms")
        ratios = sorted(latency_summary(r["nginx"]["lat"], r["nginx"]["wall"])["throughput"]
                        / latency_summary(r["direct"]["lat"], r["direct"]["wall"])["throughput"] for r in mine)
        d, n = pooled["direct"], pooled["nginx"]
        print(f"nginx/direct at c={c}: throughput {statistics.median(ratios):.2f}x (median of {len(ratios)} rounds, "
              f"{ratios[0]:.2f}-{ratios[-1]:.2f}), p50 {n['p50_ms'] / d['p50_ms']:.2f}x, p99 {n['p99_ms'] / d['p99_ms']:.2f}x")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
