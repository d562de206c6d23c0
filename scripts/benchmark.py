#!/usr/bin/env python3
"""Print the operational figures of the local stack in one run (`make bench`).

Needs a converged local stack (`make demo`). Prints:
  1. a database-password rotation under load: wall time, requests sent and failed;
  2. the wall time of a no-op rerun of site.yml (and its changed count);
  3. throughput and p50/p99 latency of a representative MLflow API call (runs/get), through
     nginx (HTTPS + basic auth) and directly on MLflow's 127.0.0.1 port inside the host,
     both measured from inside the host by the same client, and their ratio; plus the same
     call through nginx from the controller (Docker's published port).
All traffic stays on loopback or goes into the project's own container; every loop is bounded.
"""
from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from mlflow_load import LoadLoop, create_run, latency_summary, new_session  # noqa: E402

CREDENTIALS = ROOT / ".credentials" / "local"
URL = "https://127.0.0.1:8443"
SERVER = "mlflow-local-server"
REQUESTS = 400  # per latency measurement


def password(user):
    return (CREDENTIALS / "auth" / user).read_text().strip()


def playbook(*args):
    started = time.monotonic()
    run = subprocess.run([str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(ROOT / "inventories/local"), *args],
                         cwd=ROOT, capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
                              "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                              "HOME": str(pathlib.Path.home())})
    wall = time.monotonic() - started
    if run.returncode != 0:
        sys.exit(f"ansible-playbook {' '.join(args)} failed:\n{run.stdout[-3000:]}")
    changed = sum(int(n) for n in re.findall(r"changed=(\d+)", run.stdout.split("PLAY RECAP")[-1]))
    return wall, changed


# Runs inside the host with MLflow's own venv (it has requests): the same client measures
# MLflow directly and nginx, so the ratio is nginx + TLS + basic auth alone.
INSIDE = r"""
import json, statistics, sys, time, warnings
import requests
warnings.simplefilter("ignore")
user, pw, run_id, host, n = sys.argv[1:6]
def measure(url, auth, close):
    s = requests.Session(); s.trust_env = False; s.auth = auth; s.verify = False
    s.headers["Host"] = host
    if close:
        # A kept-alive connection straight to uvicorn stalls ~40 ms per request (delayed
        # ACK); nginx itself opens a new upstream connection per request, so measure that.
        s.headers["Connection"] = "close"
    lat = []
    t0 = time.monotonic()
    for _ in range(int(n)):
        a = time.monotonic(); r = s.get(url, params={"run_id": run_id}, timeout=30); b = time.monotonic()
        assert r.status_code == 200, r.status_code
        lat.append(b - a)
    return lat, time.monotonic() - t0
out = {}
for name, url, auth, close in (("direct", "http://127.0.0.1:5000/api/2.0/mlflow/runs/get", None, True),
                               ("nginx", "https://127.0.0.1/api/2.0/mlflow/runs/get", (user, pw), False)):
    lat, wall = measure(url, auth, close)
    out[name] = {"lat": lat, "wall": wall}
print(json.dumps(out))
"""


def main():
    cert = str(CREDENTIALS / "server-ca.pem")
    if not (CREDENTIALS / "mlflow-client.env").exists():
        sys.exit("No local stack: run `make demo` first.")
    user = "ci-bot" if (CREDENTIALS / "auth" / "ci-bot").exists() else "alice"
    auth = (user, password(user))
    run_id = create_run(URL, auth, cert, "benchmark")

    print("== rotation under load (playbooks/rotate-credentials.yml -e rotate=db)")
    loop = LoadLoop(URL, auth, run_id, cert, max_seconds=900)
    loop.start()
    time.sleep(2)
    wall, _ = playbook("playbooks/rotate-credentials.yml", "-e", "rotate=db")
    loop.stop()
    failed = sum(loop.failures().values())
    print(f"rotation wall time        {wall:8.1f} s")
    print(f"requests during rotation  {loop.sent:8d} sent, {failed} failed {dict(loop.failures()) or ''}")

    print("== no-op rerun of site.yml")
    wall, changed = playbook("site.yml")
    print(f"site.yml rerun wall time  {wall:8.1f} s (changed={changed})")

    print(f"== latency of GET runs/get, {REQUESTS} sequential requests each (client keep-alive to nginx)")
    inside = subprocess.run(["docker", "exec", "-i", SERVER, "/opt/mlflow/venv/bin/python", "-", user, auth[1],
                             run_id, "127.0.0.1", str(REQUESTS)], input=INSIDE, capture_output=True, text=True,
                            timeout=600)
    if inside.returncode != 0:
        sys.exit(f"in-host measurement failed: {inside.stderr[-2000:]}")
    figures = json.loads(inside.stdout)
    session = new_session(auth, cert)
    lat, t0 = [], time.monotonic()
    for _ in range(REQUESTS):
        a = time.monotonic()
        r = session.get(f"{URL}/api/2.0/mlflow/runs/get", params={"run_id": run_id}, timeout=30)
        lat.append(time.monotonic() - a)
        assert r.status_code == 200, r.status_code
    figures["controller"] = {"lat": lat, "wall": time.monotonic() - t0}
    rows = {name: latency_summary(f["lat"], f["wall"]) for name, f in figures.items()}
    labels = {"direct": "MLflow direct, 127.0.0.1:5000 (in host, new conn)",
              "nginx": "nginx HTTPS + basic auth (in host)",
              "controller": "nginx via 127.0.0.1:8443 (controller)"}
    for name in ("direct", "nginx", "controller"):
        r = rows[name]
        print(f"{labels[name]:42s} {r['throughput']:7.1f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms")
    d, n = rows["direct"], rows["nginx"]
    print(f"nginx/direct ratio: throughput {n['throughput'] / d['throughput']:.2f}x, "
          f"p50 {n['p50_ms'] / d['p50_ms']:.2f}x, p99 {n['p99_ms'] / d['p99_ms']:.2f}x")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
