"""Memory of the server stand-in (sized like the instance type): PSS of the MLflow and nginx
processes, and the OOM-kill counter of the container's memory cgroup (v1 or v2)."""
import pathlib
import subprocess

from conftest import SERVER, docker_exec

INSTANCE_MEMORY_MIB = 2048  # t3.small, the default instance type
BUDGET = 0.60  # of the instance's memory, at idle

PSS = r"""
for pid in $(pgrep -f 'mlflow|uvicorn|huey|nginx'); do
  [ "$pid" = "$$" ] && continue
  pss=$(awk '/^Pss:/ {print $2}' /proc/$pid/smaps_rollup 2>/dev/null) || continue
  [ -n "$pss" ] && printf '%s %s %s\n' "$pid" "$pss" "$(tr '\0' ' ' < /proc/$pid/cmdline | cut -c1-100)"
done
"""


def processes():
    """[(pid, PSS in KiB, command line)] of every MLflow and nginx process."""
    out = docker_exec(SERVER, "sh", "-c", PSS).stdout
    rows = []
    for line in out.splitlines():
        pid, pss, command = line.split(" ", 2)
        if "pgrep" not in command and "sh -c" not in command:
            rows.append((int(pid), int(pss), command))
    return rows


def pss_mib():
    return sum(pss for _, pss, _ in processes()) / 1024


def oom_kills():
    """OOM kills in the container's memory cgroup, read on the Docker host."""
    container = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", SERVER], capture_output=True, text=True,
                               check=True).stdout.strip()
    candidates = [
        (f"/sys/fs/cgroup/memory/docker/{container}/memory.oom_control", "oom_kill"),  # v1, cgroupfs
        (f"/sys/fs/cgroup/memory/system.slice/docker-{container}.scope/memory.oom_control", "oom_kill"),  # v1, systemd
        (f"/sys/fs/cgroup/docker/{container}/memory.events", "oom_kill"),  # v2, cgroupfs
        (f"/sys/fs/cgroup/system.slice/docker-{container}.scope/memory.events", "oom_kill"),  # v2, systemd
    ]
    for path, key in candidates:
        file = pathlib.Path(path)
        if file.exists():
            fields = dict(line.split() for line in file.read_text().splitlines())
            return int(fields[key])
    raise AssertionError(f"no memory cgroup found for {SERVER} ({container[:12]})")
