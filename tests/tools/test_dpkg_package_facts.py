"""The project's dpkg_package_facts module (playbooks/library/dpkg_package_facts.py): which
lines of dpkg-query count as installed packages. A package counted wrongly as installed would
skip the role task that installs it (tests/e2e/test_standins.py sees a removed package come
back)."""
import importlib.util
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location(
    "dpkg_package_facts", HERE.parents[1] / "playbooks" / "library" / "dpkg_package_facts.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

# dpkg-query --show --showformat "${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n"
LISTING = "\n".join([
    "ii \tnginx\t1.26.3-3+deb13u12\tamd64",
    "hi \tlinux-image-cloud-amd64\t6.12.48-1\tamd64",
    "iF \tfail2ban\t1.1.0-8\tall",
    "iU \tauditd\t1:4.0.2-2\tamd64",
    "rc \tpython3-psycopg2\t2.9.10-1\tamd64",
    "un \tlogrotate\t\t",
    "ii \tlibc6\t2.41-12\tamd64",
    "ii \tlibc6\t2.41-12\ti386",
]) + "\n"


def test_only_packages_in_the_installed_state_count():
    packages = module.installed_packages(LISTING)
    # Held packages are installed; half-configured, unpacked, removed and unknown ones are not,
    # so the role task that installs them runs again.
    assert sorted(packages) == ["libc6", "linux-image-cloud-amd64", "nginx"]


def test_the_shape_is_that_of_package_facts():
    packages = module.installed_packages(LISTING)
    assert packages["nginx"] == [{"name": "nginx", "version": "1.26.3-3+deb13u12", "arch": "amd64", "source": "apt"}]
    # One entry per installed architecture, as package_facts lists them.
    assert [p["arch"] for p in packages["libc6"]] == ["amd64", "i386"]


def test_an_empty_listing_is_no_packages():
    assert module.installed_packages("") == {}
