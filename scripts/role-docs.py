#!/usr/bin/env python3
"""Write docs/roles.md, the reference of every role's variables, from the roles' own
meta/argument_specs.yml (what Ansible validates before a role runs) and meta/main.yml.

    python scripts/role-docs.py            rewrite docs/roles.md (make docs)
    python scripts/role-docs.py --check    exit 1 with a diff when docs/roles.md is stale (make lint)

The page is a pure function of the specs: roles sorted by name, entry points main first then
in file order, options in file order, no dates. Keys the renderer does not know are ignored, so
the specs can grow without touching this script.
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path

import yaml

OUTPUT = Path("docs") / "roles.md"


class SpecLoader(yaml.SafeLoader):
    """SafeLoader (anchors and `<<:` merge keys included) that also reads Ansible's own tags
    (!unsafe, !vault, ...) as plain values instead of refusing the file."""


def _any_tag(loader, _suffix, node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


SpecLoader.add_multi_constructor("!", _any_tag)


def load_yaml(path: Path):
    try:
        with open(path, encoding="utf-8") as stream:
            return yaml.load(stream, Loader=SpecLoader)
    except yaml.YAMLError as err:
        sys.exit(f"role-docs: cannot parse {path}: {err}")


# ---- Markdown helpers -----------------------------------------------------------------------

def code(text: str) -> str:
    """`text` as a Markdown code span, whatever backticks it contains."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def inline_yaml(value) -> str:
    """A value as one line of YAML (flow style), the way it would be written in an inventory."""
    try:
        text = yaml.safe_dump(value, default_flow_style=True, width=10**9, allow_unicode=True,
                              sort_keys=False).strip()
    except yaml.YAMLError:
        return str(value)
    if text.endswith("\n..."):
        text = text[: -len("\n...")]
    if "\n" in text:  # a multi-line string: JSON's double-quoted form is valid YAML on one line
        text = json.dumps(value, ensure_ascii=False, default=str)
    return text


# Ansible's documentation markup: C(code), I(italic), B(bold), U(url), L(text,url), O(option) ...
_MARKUP = re.compile(r"\b([BCEILMORUV])\(([^()]*)\)")


def _markup(match: re.Match) -> str:
    kind, body = match.groups()
    if kind in "CEMOV":
        return code(body)
    if kind == "I":
        return f"*{body}*"
    if kind == "B":
        return f"**{body}**"
    if kind == "U":
        return f"<{body}>"
    text, _, target = body.partition(",")
    if kind == "L" and target:
        return f"[{text.strip()}]({target.strip()})"
    return text.strip()  # R(text,reference) or a malformed L()


_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)


def prose(value) -> str:
    """A description (string or list of strings) as one line of Markdown: Ansible markup
    converted, `<` escaped outside code spans so `<name>` is not swallowed as HTML."""
    if value is None:
        return ""
    parts = value if isinstance(value, list) else [value]
    text = " ".join(" ".join(str(part).split()) for part in parts if part is not None)
    text = _MARKUP.sub(_markup, text)
    pieces, last = [], 0
    for span in _CODE_SPAN.finditer(text):
        pieces.append(text[last:span.start()].replace("<", "&lt;"))
        pieces.append(span.group(0))
        last = span.end()
    pieces.append(text[last:].replace("<", "&lt;"))
    return "".join(pieces)


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def names(items) -> str:
    if not isinstance(items, list):
        items = [items]
    return ", ".join(code(str(item)) for item in items)


# ---- Rendering ------------------------------------------------------------------------------

def constraints(spec: dict) -> list[str]:
    """The cross-option rules of an argument spec (required_if & co.) as sentences."""
    out = []
    for group in spec.get("mutually_exclusive") or []:
        out.append(f"Mutually exclusive: {names(group)}.")
    for group in spec.get("required_together") or []:
        out.append(f"Required together: {names(group)}.")
    for group in spec.get("required_one_of") or []:
        out.append(f"At least one of: {names(group)}.")
    for rule in spec.get("required_if") or []:
        if isinstance(rule, list) and len(rule) >= 3:
            which = "at least one of" if len(rule) > 3 and rule[3] else "all of"
            out.append(f"When {code(str(rule[0]))} is {code(inline_yaml(rule[1]))}: "
                       f"{which} {names(rule[2])} required.")
    required_by = spec.get("required_by") or {}
    if isinstance(required_by, dict):
        for key, needed in required_by.items():
            out.append(f"{code(str(key))} requires {names(needed)}.")
    return out


def type_of(option: dict) -> str:
    kind = str(option.get("type", "str"))  # str is what Ansible assumes without a type
    if option.get("elements") is not None:
        return f"{kind} of {option['elements']}"
    return kind


def option_rows(options: dict, prefix: str = "") -> list[str]:
    rows = []
    for name, option in options.items():
        if not isinstance(option, dict):
            option = {}
        path = f"{prefix}{name}"
        label = code(path) + (" (secret)" if option.get("no_log") else "")
        default = code(inline_yaml(option["default"])) if "default" in option else ""
        choices = option.get("choices")
        if isinstance(choices, list):
            choices = ", ".join(code(inline_yaml(choice)) for choice in choices)
        elif choices is not None:
            choices = code(inline_yaml(choices))
        text = prose(option.get("description"))
        extra = []
        if option.get("aliases"):
            extra.append(f"Aliases: {names(option['aliases'])}.")
        extra += constraints(option)
        text = " ".join(part for part in [text, *extra] if part)
        rows.append("| " + " | ".join(cell(part) for part in [
            label, type_of(option), "yes" if option.get("required") else "no",
            default, choices or "", text]) + " |")
        suboptions = option.get("options")
        if isinstance(suboptions, dict) and suboptions:
            # Dict options list their keys as `parent.key`; list-of-dict elements as `parent[].key`.
            joiner = "[]." if option.get("type") == "list" else "."
            rows += option_rows(suboptions, f"{path}{joiner}")
    return rows


def entry_point_section(role: str, name: str, spec: dict, role_description: str) -> list[str]:
    title = f"### {role}: {name}" if name == "main" else f"### {role}: {name} (`tasks_from: {name}`)"
    lines = [title, ""]
    short = prose(spec.get("short_description"))
    if short and short != role_description:
        lines += [f"**{short}**", ""]
    description = spec.get("description")
    for paragraph in description if isinstance(description, list) else [description]:
        if paragraph:
            lines += [prose(paragraph), ""]
    options = spec.get("options")
    if isinstance(options, dict) and options:
        lines += ["| option | type | required | default | choices | description |",
                  "|---|---|---|---|---|---|"]
        lines += option_rows(options)
        lines.append("")
    else:
        lines += ["No options.", ""]
    rules = constraints(spec)
    if rules:
        lines += [f"- {rule}" for rule in rules]
        lines.append("")
    return lines


def platforms_text(platforms) -> str:
    parts = []
    for platform in platforms if isinstance(platforms, list) else []:
        if isinstance(platform, dict) and platform.get("name"):
            versions = platform.get("versions") or []
            versions = versions if isinstance(versions, list) else [versions]
            parts.append(f"{platform['name']} {', '.join(str(v) for v in versions)}".strip())
    return "; ".join(parts)


def load_role(role_dir: Path) -> tuple[dict, dict]:
    meta_dir = role_dir / "meta"
    meta = {}
    for candidate in ("main.yml", "main.yaml"):
        if (meta_dir / candidate).is_file():
            meta = load_yaml(meta_dir / candidate) or {}
            break
    specs = None
    for candidate in ("argument_specs.yml", "argument_specs.yaml"):
        if (meta_dir / candidate).is_file():
            specs = (load_yaml(meta_dir / candidate) or {}).get("argument_specs")
            break
    if specs is None and isinstance(meta, dict):
        specs = meta.get("argument_specs")  # Ansible also reads specs from meta/main.yml
    return (meta if isinstance(meta, dict) else {}), (specs if isinstance(specs, dict) else {})


def render(root: Path) -> str:
    roles = sorted(p for p in (root / "roles").iterdir() if p.is_dir()) if (root / "roles").is_dir() else []
    summary, body = [], []
    for role_dir in roles:
        role = role_dir.name
        meta, specs = load_role(role_dir)
        info = meta.get("galaxy_info") if isinstance(meta.get("galaxy_info"), dict) else {}
        main = specs.get("main") if isinstance(specs.get("main"), dict) else {}
        description = prose(info.get("description") or main.get("short_description"))
        entry_names = (["main"] if "main" in specs else []) + [n for n in specs if n != "main"]
        summary.append(f"| [{role}](#{role}) | {cell(description)} | "
                       f"{cell(', '.join(code(str(n)) for n in entry_names))} |")
        body += [f"## {role}", ""]
        if description:
            body += [description, ""]
        facts = []
        if platforms_text(info.get("platforms")):
            facts.append(f"Platforms: {platforms_text(info.get('platforms'))}")
        if info.get("min_ansible_version"):
            facts.append(f"Ansible >= {info['min_ansible_version']}")
        dependencies = meta.get("dependencies") or []
        if isinstance(dependencies, list) and dependencies:
            deps = [d.get("role", d.get("name", d)) if isinstance(d, dict) else d for d in dependencies]
            facts.append(f"Depends on: {names([str(d) for d in deps])}")
        if facts:
            body += [". ".join(facts) + ".", ""]
        if not specs:
            body += ["No argument specs.", ""]
        for name in entry_names:
            spec = specs[name] if isinstance(specs[name], dict) else {}
            body += entry_point_section(role, str(name), spec, description)
    header = [
        "<!-- Generated by scripts/role-docs.py from roles/*/meta/argument_specs.yml and",
        "     roles/*/meta/main.yml. Do not edit: change the specs, then run `make docs`. -->",
        "# Role reference",
        "",
        "Every role's variables as its `meta/argument_specs.yml` declares them (Ansible checks them",
        "before the role runs). This page is generated: regenerate it with `make docs`",
        "(`python scripts/role-docs.py`); `make lint` fails when it is stale",
        "(`python scripts/role-docs.py --check`). Options marked (secret) are `no_log`.",
        "",
        "| role | what it does | entry points |",
        "|---|---|---|",
        *summary,
        "",
    ]
    return "\n".join(header + body).rstrip("\n") + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 with a diff when the page is stale")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="project root holding roles/ and docs/ (default: this repository)")
    args = parser.parse_args()
    target = args.root / OUTPUT
    wanted = render(args.root)
    current = target.read_text(encoding="utf-8") if target.is_file() else ""
    if args.check:
        if current == wanted:
            return 0
        sys.stdout.writelines(difflib.unified_diff(
            current.splitlines(keepends=True), wanted.splitlines(keepends=True),
            f"{OUTPUT} (committed)", f"{OUTPUT} (from the specs)"))
        print(f"{OUTPUT} is stale: run `make docs` and commit the result.", file=sys.stderr)
        return 1
    if current != wanted:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(wanted, encoding="utf-8")
        print(f"wrote {OUTPUT}")
    else:
        print(f"{OUTPUT} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
