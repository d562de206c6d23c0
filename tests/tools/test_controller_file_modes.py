"""What playbooks/lookup_plugins/controller_file_modes.py reports of a path on the controller:
the roles skip writing a directory or env file on its word, so a wrong type or mode here would
skip a repair."""
import importlib.util
import os
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location(
    "controller_file_modes", HERE.parents[1] / "playbooks" / "lookup_plugins" / "controller_file_modes.py")
plugin = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plugin)


def look(*paths):
    return plugin.LookupModule().run([str(path) for path in paths])


def test_each_kind_of_path_with_its_mode(tmp_path):
    directory, secret, fifo = tmp_path / "dir", tmp_path / "secret", tmp_path / "fifo"
    directory.mkdir(mode=0o700)
    directory.chmod(0o700)
    secret.write_text("x")
    secret.chmod(0o600)
    os.mkfifo(fifo, 0o644)
    fifo.chmod(0o644)
    assert look(directory, secret, fifo, tmp_path / "missing") == [
        {"path": str(directory), "exists": True, "type": "directory", "mode": "0700"},
        {"path": str(secret), "exists": True, "type": "file", "mode": "0600"},
        {"path": str(fifo), "exists": True, "type": "other", "mode": "0644"},
        {"path": str(tmp_path / "missing"), "exists": False, "type": "", "mode": ""},
    ]


def test_a_mode_opened_by_hand_shows(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("x")
    secret.chmod(0o644)
    assert look(secret)[0]["mode"] == "0644"


def test_a_link_is_followed_as_ssh_follows_it(tmp_path):
    directory = tmp_path / "dir"
    directory.mkdir()
    directory.chmod(0o750)
    (tmp_path / "link").symlink_to(directory)
    assert look(tmp_path / "link")[0] == {"path": str(tmp_path / "link"), "exists": True, "type": "directory", "mode": "0750"}
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert look(tmp_path / "dangling")[0]["exists"] is False
