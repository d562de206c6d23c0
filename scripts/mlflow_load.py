"""A bounded client loop against the MLflow REST API, shared by the rotation tests and the
benchmark. Every request is classified; nothing is retried, so a failure is counted once.

Traffic goes only to the URL given (the stack's nginx on loopback, or MLflow on the host's
127.0.0.1 through `docker exec`); loops stop after `max_seconds` or `max_requests`.
"""
from __future__ import annotations

import collections
import statistics
import threading
import time
import warnings

import requests
import urllib3

warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)


def new_session(auth, verify):
    """A session that ignores the environment (REQUESTS_CA_BUNDLE would override `verify`,
    and proxy settings must never route loopback traffic elsewhere)."""
    session = requests.Session()
    session.trust_env = False
    session.auth, session.verify = auth, verify
    return session


class LoadLoop(threading.Thread):
    """Log a metric then read the run back, in a loop, counting outcomes by status code.

    Outcome keys: an HTTP status code (int) or "connection-error" / "timeout".
    `timeline` keeps (monotonic time, outcome) so tests can check ordering.
    """

    def __init__(self, base_url, auth, run_id, verify, max_seconds=300.0, max_requests=20000,
                 pace=0.04, stop_on=()):
        super().__init__(daemon=True)
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.run_id = run_id
        self.verify = verify
        self.max_seconds = max_seconds
        self.max_requests = max_requests
        # Minimum seconds between two requests of this loop: a client logging metrics,
        # not a flood (and below the per-client rate limit of nginx).
        self.pace = pace
        # Outcomes after which a real client stops (e.g. 401: its password was retired; a
        # client that kept trying would be banned by fail2ban like a password guesser).
        self.stop_on = tuple(stop_on)
        self.counts = collections.Counter()
        self.timeline = []
        self.latencies = []
        self._halt = threading.Event()

    def stop(self):
        self._halt.set()
        self.join(timeout=30)

    @property
    def sent(self):
        return sum(self.counts.values())

    def failures(self, allowed=(200,)):
        return {k: v for k, v in self.counts.items() if k not in allowed}

    def _one(self, session, step):
        if step % 2:
            return session.get(f"{self.base_url}/api/2.0/mlflow/runs/get",
                               params={"run_id": self.run_id}, timeout=30)
        return session.post(f"{self.base_url}/api/2.0/mlflow/runs/log-metric",
                            json={"run_id": self.run_id, "key": "load", "value": float(step),
                                  "timestamp": int(time.time() * 1000), "step": step}, timeout=30)

    def run(self):
        session = new_session(self.auth, self.verify)
        deadline = time.monotonic() + self.max_seconds
        step = 0
        while not self._halt.is_set() and time.monotonic() < deadline and step < self.max_requests:
            start = time.monotonic()
            try:
                outcome = self._one(session, step).status_code
            except requests.exceptions.Timeout:
                outcome = "timeout"
            except requests.exceptions.ConnectionError:
                outcome = "connection-error"
                session = new_session(self.auth, self.verify)
            end = time.monotonic()
            self.counts[outcome] += 1
            self.timeline.append((end, outcome))
            if outcome == 200:
                self.latencies.append(end - start)
            step += 1
            if outcome in self.stop_on:
                break
            self._halt.wait(max(0.0, self.pace - (end - start)))


class RunCreatingLoop(LoadLoop):
    """Create a new run in one experiment, again and again: every processed request adds one
    row, so a request processed twice (a replayed write) shows as an extra run."""

    def __init__(self, base_url, auth, experiment_id, verify, **kwargs):
        super().__init__(base_url, auth, None, verify, **kwargs)
        self.experiment_id = experiment_id

    def _one(self, session, step):
        return session.post(f"{self.base_url}/api/2.0/mlflow/runs/create",
                            json={"experiment_id": self.experiment_id, "run_name": f"write-{step}",
                                  "start_time": int(time.time() * 1000)}, timeout=30)


def latency_summary(latencies, wall_seconds):
    """Throughput (req/s) and p50/p99 latency (ms) of successful requests."""
    if not latencies:
        return {"requests": 0, "throughput": 0.0, "p50_ms": float("nan"), "p99_ms": float("nan")}
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return {
        "requests": len(ordered),
        "throughput": len(ordered) / wall_seconds,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": p99 * 1000,
    }


def create_experiment(base_url, auth, verify, experiment_name):
    """Create an experiment through the REST API; returns its id."""
    created = new_session(auth, verify).post(f"{base_url}/api/2.0/mlflow/experiments/create",
                                            json={"name": experiment_name}, timeout=30)
    created.raise_for_status()
    return created.json()["experiment_id"]


def create_run(base_url, auth, verify, experiment_name):
    """Create (or reuse) an experiment and a run through the REST API; returns the run id."""
    session = new_session(auth, verify)
    got = session.get(f"{base_url}/api/2.0/mlflow/experiments/get-by-name",
                      params={"experiment_name": experiment_name}, timeout=30)
    if got.status_code == 200:
        experiment_id = got.json()["experiment"]["experiment_id"]
    else:
        created = session.post(f"{base_url}/api/2.0/mlflow/experiments/create",
                               json={"name": experiment_name}, timeout=30)
        created.raise_for_status()
        experiment_id = created.json()["experiment_id"]
    run = session.post(f"{base_url}/api/2.0/mlflow/runs/create",
                       json={"experiment_id": experiment_id, "start_time": int(time.time() * 1000)},
                       timeout=30)
    run.raise_for_status()
    return run.json()["run"]["info"]["run_id"]
