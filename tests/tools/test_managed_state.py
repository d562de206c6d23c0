"""What playbooks/library/managed_state_info.py reads of a path, and whether the tests of
playbooks/test_plugins/managed_state.py then call it as wanted: the host roles skip a
template, copy or file task on their word, so a path called as wanted that the module would
change is a drift no rerun repairs. The last test asks the modules themselves: for each kind of
drift, the test's verdict must be the opposite of what the module reports in check mode."""
import base64
import grp
import hashlib
import importlib.util
import json
import os
import pathlib
import pwd
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


info = load("managed_state_info", ROOT / "playbooks" / "library" / "managed_state_info.py")
tests = load("managed_state", ROOT / "playbooks" / "test_plugins" / "managed_state.py")
ME = {"owner": info._name(pwd.getpwuid, os.getuid()), "group": info._name(grp.getgrgid, os.getgid())}


def test_each_kind_of_path(tmp_path):
    (tmp_path / "file").write_text("hello\n")
    (tmp_path / "file").chmod(0o640)
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir").chmod(0o750)
    (tmp_path / "link").symlink_to(tmp_path / "file")
    os.mkfifo(tmp_path / "fifo")
    found = info.path_info(str(tmp_path / "file"))
    assert found == dict(type="file", mode="0640", checksum=hashlib.sha1(b"hello\n").hexdigest(), target="", **ME)
    assert info.path_info(str(tmp_path / "dir")) == dict(type="directory", mode="0750", checksum="", target="", **ME)
    # The link itself, not what it points to: a template task replaces a link with a file.
    assert info.path_info(str(tmp_path / "link"))["type"] == "link"
    assert info.path_info(str(tmp_path / "link"))["target"] == str(tmp_path / "file")
    assert info.path_info(str(tmp_path / "fifo"))["type"] == "other"
    absent = dict(type="absent", mode="", owner="", group="", checksum="", target="")
    assert info.path_info(str(tmp_path / "missing")) == absent
    # Below a file: no such path either.
    assert info.path_info(str(tmp_path / "file" / "below")) == absent


def test_contents_are_the_bytes_a_link_leads_to_as_slurp_returns_them(tmp_path):
    (tmp_path / "login.defs").write_bytes(b"UMASK 022\n\xff")
    (tmp_path / "link").symlink_to(tmp_path / "login.defs")
    for name in ("login.defs", "link"):
        found = info.with_content(info.path_info(str(tmp_path / name)), str(tmp_path / name))
        assert base64.b64decode(found["content"]) == b"UMASK 022\n\xff"
    # Nothing to read: no content, so a task that needs it is skipped or fails, never writes
    # a file made from nothing.
    assert "content" not in info.with_content(info.path_info(str(tmp_path / "missing")), str(tmp_path / "missing"))


def test_file_as_wanted_needs_every_attribute():
    found = dict(type="file", mode="0644", owner="root", group="root",
                 checksum=hashlib.sha1("é\n".encode()).hexdigest(), target="")
    assert tests.file_as_wanted(found, "é\n", "0644")
    assert tests.file_as_wanted(found, None, "644")
    assert not tests.file_as_wanted(found, "é", "0644")
    assert not tests.file_as_wanted(found, "é\n", "0640")
    assert not tests.file_as_wanted(found, "é\n", "0644", owner="www-data")
    assert not tests.file_as_wanted(found, "é\n", "0644", group="adm")
    assert not tests.file_as_wanted(dict(found, type="link"), "é\n", "0644")
    assert not tests.file_as_wanted(dict(found, type="absent", mode=""), "é\n", "0644")
    assert not tests.directory_as_wanted(found, "0644")
    assert tests.directory_as_wanted(dict(found, type="directory", checksum=""), "0644")
    link = dict(type="link", mode="0777", owner="root", group="root", checksum="", target="/etc/a")
    assert tests.link_as_wanted(link, "/etc/a")
    assert not tests.link_as_wanted(link, "/etc/b")


def test_users_and_groups_are_read_through_the_name_service():
    me = pwd.getpwuid(os.getuid())
    assert info.user_info(me.pw_name) == dict(exists=True, group=ME["group"], home=me.pw_dir, shell=me.pw_shell,
                                              comment=me.pw_gecos)
    assert info.user_info("no-such-user-here") == dict(exists=False, group="", home="", shell="", comment="")
    assert info.group_info(ME["group"]) == dict(exists=True)
    assert info.group_info("no-such-group-here") == dict(exists=False)


def test_user_as_wanted_needs_every_attribute_the_user_module_compares():
    user = dict(exists=True, group="mlflow", home="/var/lib/mlflow", shell="/usr/sbin/nologin", comment="MLflow")
    wanted = ("mlflow", "/var/lib/mlflow", "/usr/sbin/nologin", "MLflow")
    assert tests.user_as_wanted(user, *wanted)
    for key, other in (("group", "users"), ("home", "/"), ("shell", "/bin/bash"), ("comment", "by hand")):
        assert not tests.user_as_wanted(dict(user, **{key: other}), *wanted), key
    assert not tests.user_as_wanted(dict(exists=False, group="", home="", shell="", comment=""), *wanted)
    with pytest.raises(Exception, match="managed_state_info"):
        tests.user_as_wanted({}, *wanted)


@pytest.mark.parametrize("call", [
    lambda: tests.file_as_wanted({}, "x", "0644"),
    lambda: tests.file_as_wanted(dict(type="file"), "x", 0o644),
    lambda: tests.file_as_wanted(dict(type="file"), {"x": 1}, "0644"),
])
def test_wrong_arguments_are_an_error_not_a_verdict(call):
    with pytest.raises(Exception, match="managed_state_info|mode must|content must"):
        call()


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars:
    wanted: {{file: "wanted\\n", mode: "0644", dir_mode: "0755", owner: {owner}, group: {group}}}
  tasks:
    - managed_state_info:
        paths: "{{{{ cases | map('regex_replace', '$', '/managed.conf') + cases | map('regex_replace', '$', '/managed.d')
                    + cases | map('regex_replace', '$', '/enabled.conf') }}}}"
      register: read
    - ansible.builtin.copy:
        content: "{{{{ wanted.file }}}}"
        dest: "{{{{ item }}}}/managed.conf"
        mode: "{{{{ wanted.mode }}}}"
        owner: "{{{{ wanted.owner }}}}"
        group: "{{{{ wanted.group }}}}"
      loop: "{{{{ cases }}}}"
      check_mode: true
      register: copied
    - ansible.builtin.file:
        path: "{{{{ item }}}}/managed.d"
        state: directory
        mode: "{{{{ wanted.dir_mode }}}}"
        owner: "{{{{ wanted.owner }}}}"
        group: "{{{{ wanted.group }}}}"
      loop: "{{{{ cases }}}}"
      check_mode: true
      register: made
    - ansible.builtin.file:
        src: "{{{{ item }}}}/managed.conf"
        dest: "{{{{ item }}}}/enabled.conf"
        state: link
        force: true
        owner: "{{{{ wanted.owner }}}}"
        group: "{{{{ wanted.group }}}}"
      loop: "{{{{ cases }}}}"
      check_mode: true
      register: linked
    - ansible.builtin.debug:
        msg:
          file: ["{{{{ read.paths[item ~ '/managed.conf'] is file_as_wanted(wanted.file, wanted.mode, wanted.owner, wanted.group) }}}}",
                 "{{{{ copied.results[index].changed }}}}"]
          dir: ["{{{{ read.paths[item ~ '/managed.d'] is directory_as_wanted(wanted.dir_mode, wanted.owner, wanted.group) }}}}",
                "{{{{ made.results[index].changed }}}}"]
          link: ["{{{{ read.paths[item ~ '/enabled.conf'] is link_as_wanted(item ~ '/managed.conf', wanted.owner, wanted.group) }}}}",
                 "{{{{ linked.results[index].changed }}}}"]
      loop: "{{{{ cases }}}}"
      loop_control:
        index_var: index
"""
DRIFTS = {
    "as wanted": lambda f, d, l: None,
    "content": lambda f, d, l: f.write_text("edited\n"),
    "file mode": lambda f, d, l: f.chmod(0o600),
    "file absent": lambda f, d, l: f.unlink(),
    "file made a link": lambda f, d, l: (f.rename(f.with_suffix(".real")), f.symlink_to(f.with_suffix(".real"))),
    "directory mode": lambda f, d, l: d.chmod(0o700),
    "directory absent": lambda f, d, l: d.rmdir(),
    "link made a file": lambda f, d, l: (l.unlink(), l.write_text("wanted\n")),
    "link elsewhere": lambda f, d, l: (l.unlink(), l.symlink_to(d)),
    "owner": lambda f, d, l: (os.chown(f, 65534, -1), os.chown(d, 65534, -1), os.lchown(l, 65534, -1)),
}


EXPECTED = {"as wanted": set(), "content": {"file"}, "file mode": {"file"}, "file absent": {"file"},
            "file made a link": {"file"}, "directory mode": {"dir"}, "directory absent": {"dir"},
            "link made a file": {"link"}, "link elsewhere": {"link"}, "owner": {"file", "dir", "link"}}


def test_the_verdict_is_the_opposite_of_what_the_module_would_change(tmp_path):
    drifts = [drift for drift in DRIFTS if drift != "owner" or os.getuid() == 0]
    cases = []
    for number, drift in enumerate(drifts):
        case = tmp_path / str(number)
        case.mkdir()
        f, d, l = case / "managed.conf", case / "managed.d", case / "enabled.conf"
        f.write_text("wanted\n")
        f.chmod(0o644)
        d.mkdir()
        d.chmod(0o755)
        l.symlink_to(f)
        DRIFTS[drift](f, d, l)
        cases.append(str(case))
    playbook = tmp_path / "agree.yml"
    playbook.write_text(PLAYBOOK.format(**ME))
    run = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
         "-e", json.dumps({"cases": cases, "ansible_python_interpreter": sys.executable}), str(playbook)],
        capture_output=True, text=True, cwd=ROOT,
        env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="json"))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(run.stdout)["plays"][0]["tasks"][-1]["hosts"]["localhost"]["results"]
    assert len(results) == len(drifts)
    for drift, result in zip(drifts, results):
        verdicts = result["msg"]
        for path, (as_wanted, changed) in verdicts.items():
            assert as_wanted != changed, (drift, path, verdicts)
        assert {path for path, (as_wanted, _) in verdicts.items() if not as_wanted} == EXPECTED[drift], (drift, verdicts)


SHOW = """Id=nginx.service
UnitFileState=enabled
ActiveState=active

Id=logrotate.timer
UnitFileState=disabled
ActiveState=inactive

Id=nosuch.service
UnitFileState=
ActiveState=inactive
"""


def test_units_are_read_in_the_order_given_and_only_enabled_and_active_is_as_wanted():
    units = info.units_info(["nginx.service", "logrotate.timer", "nosuch.service"], SHOW)
    assert units == {"nginx.service": {"enabled": "enabled", "active": "active"},
                     "logrotate.timer": {"enabled": "disabled", "active": "inactive"},
                     "nosuch.service": {"enabled": "", "active": "inactive"}}
    assert [tests.unit_as_wanted(unit) for unit in units.values()] == [True, False, False]
    # Enabled but stopped, or started but not enabled at boot: the task must run.
    assert not tests.unit_as_wanted({"enabled": "enabled", "active": "failed"})
    assert not tests.unit_as_wanted({"enabled": "static", "active": "active"})
    with pytest.raises(ValueError):
        info.units_info(["nginx.service"], SHOW)
