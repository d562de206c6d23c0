"""MLflow and nginx fit the default instance type (t3.small, 2 GiB, no swap) at idle: at most
60 % of its memory, measured as PSS of every process (run right after the converge)."""
from memory import BUDGET, INSTANCE_MEMORY_MIB, processes, pss_mib


def test_mlflow_and_nginx_use_at_most_60_percent_of_the_instance_at_idle():
    rows = processes()
    total = pss_mib()
    print(f"\nPSS at idle: {total:.0f} MiB of {INSTANCE_MEMORY_MIB} MiB ({total / INSTANCE_MEMORY_MIB:.0%}) "
          f"in {len(rows)} processes")
    for pid, pss, command in sorted(rows, key=lambda row: -row[1]):
        print(f"  {pid:>7} {pss / 1024:7.1f} MiB  {command}")
    assert any("mlflow server" in command for _, _, command in rows)  # measured the real thing
    assert any("nginx" in command for _, _, command in rows)
    assert total <= BUDGET * INSTANCE_MEMORY_MIB
