"""docs/roles.md is generated from the roles' argument specs (scripts/role-docs.py), and
`make lint` refuses a page that no longer matches them."""
import pathlib
import shutil
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "role-docs.py"


def role_docs(*args, root=ROOT):
    return subprocess.run([sys.executable, str(SCRIPT), "--root", str(root), *args],
                          capture_output=True, text=True, check=False)


def test_the_committed_reference_matches_the_specs():
    result = role_docs("--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_spec_change_without_regenerating_is_caught(tmp_path):
    shutil.copytree(ROOT / "roles", tmp_path / "roles")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    spec = tmp_path / "roles" / "fail2ban" / "meta" / "argument_specs.yml"
    text = spec.read_text()
    assert text.count("        default: 5\n") == 1
    spec.write_text(text.replace("        default: 5\n", "        default: 3\n"))

    stale = role_docs("--check", root=tmp_path)
    assert stale.returncode == 1
    assert "-| `fail2ban_maxretry` | int | no | `5` |" in stale.stdout
    assert "+| `fail2ban_maxretry` | int | no | `3` |" in stale.stdout
    assert "docs/roles.md is stale" in stale.stderr

    assert role_docs(root=tmp_path).returncode == 0
    assert role_docs("--check", root=tmp_path).returncode == 0


def test_specs_the_renderer_does_not_fully_know_still_render(tmp_path):
    """The specs will grow: merge keys, unknown keys, bare options and nested options render."""
    meta = tmp_path / "roles" / "demo" / "meta"
    meta.mkdir(parents=True)
    (meta / "argument_specs.yml").write_text(textwrap.dedent("""\
        ---
        argument_specs:
          main:
            short_description: Demo.
            some_future_key: ignored
            required_if:
              - [demo_state, present, [demo_name]]
            options: &opts
              demo_state:
                choices: [present, absent]
                default: present
              demo_name:
              demo_settings:
                type: dict
                x-unknown: 1
                description: Settings with a | pipe and a <placeholder>; C(demo_state) matters.
                options:
                  port:
                    type: int
                    default: 80
                  tls:
                    type: dict
                    options:
                      key:
                        type: str
                        no_log: true
          other:
            options:
              <<: *opts
              demo_extra:
                type: list
                elements: str
                default: ["a", "b"]
        """))
    assert role_docs(root=tmp_path).returncode == 0
    page = (tmp_path / "docs" / "roles.md").read_text()
    assert "| `demo_state` | str | no | `present` | `present`, `absent` |  |" in page
    assert "| `demo_name` | str | no |  |  |  |" in page
    assert "Settings with a \\| pipe and a &lt;placeholder>; `demo_state` matters." in page
    assert "| `demo_settings.port` | int | no | `80` |" in page
    assert "| `demo_settings.tls.key` (secret) | str | no |" in page
    assert "- When `demo_state` is `present`: all of `demo_name` required." in page
    other = page.split("### demo: other")[1]
    assert "`demo_state`" in other and "| `demo_extra` | list of str | no | `[a, b]` |" in other
