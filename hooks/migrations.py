"""Migrations of the files a team owns: pure text in, text out, standard library only.

`copier update` never overwrites the data contract, `config/pilot.toml` or the governance
documents (`_skip_if_exists`), so when a release changes what the rails read from them, these
functions make the mechanical part of the change in the team's own file. Each one:

- rewrites only what it must (a class rename, a new constant whose value reproduces the
  behaviour before the release, a missing key, a missing generated block) and returns one
  line per change;
- is idempotent: on an already migrated file it returns the text unchanged and no lines;
- raises ``Refused`` (one line: the file and the manual step) when it cannot read the file
  safely, before changing anything.

hooks/migrate.py applies them to a pilot; tests/test_migrations.py tests each one.
"""

from __future__ import annotations

import ast
import re
import tomllib
from dataclasses import dataclass, field

# The release that introduced SCHEMA_VERSION "2" (CHANGELOG.md); named in every change line.
RELEASE = "0.3.0"
TASK_RELEASE = "0.2.0"  # the release that added TASK (0.1.0 pilots were binary)
SCHEMA_VERSION = "2"
GATE_FLOOR = 0.7  # settings' gate.min_metric default before RELEASE


class Refused(Exception):
    """The file cannot be migrated safely: one line naming it and the manual step."""


@dataclass
class Result:
    text: str
    changes: list[str] = field(default_factory=list)


# --- the data contract: src/<package>/data/schema.py ------------------------------------------

CONTRACT_CLASS = "PilotSchema"
OLD_CONTRACT_CLASS = "CustomerSchema"  # 0.1.0
# 0.1.0 read the first key / time column and crashed without one; the rails allow None now
OLD_KEY_TIME = {
    'KEY = columns_with("key")[0]': (
        'KEY: str | None = next(iter(columns_with("key")), None)  # None: rows have no identity'
    ),
    'TIME = columns_with("time")[0]': (
        'TIME: str | None = next(iter(columns_with("time")), None)  # None: no event time'
    ),
}


def _module_names(tree: ast.Module) -> dict[str, ast.stmt]:
    """Names bound at module level (assignments, classes, functions) -> their statement."""
    names: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names.setdefault(target.id, node)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.setdefault(node.target.id, node)
        elif isinstance(node, ast.ClassDef | ast.FunctionDef):
            names.setdefault(node.name, node)
    return names


def _literal(node: ast.stmt | None, name: str) -> object:
    value = getattr(node, "value", None)
    try:
        return ast.literal_eval(value)  # type: ignore[arg-type]
    except (ValueError, TypeError, SyntaxError):
        raise ValueError(f"{name} is not a literal") from None


def _protected_columns(cls: ast.ClassDef) -> list[str]:
    """Fields whose literal metadata says role "protected" (the owner marked them)."""
    out: list[str] = []
    for node in cls.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        call = node.value
        if not isinstance(call, ast.Call):
            continue
        for kw in call.keywords:
            if kw.arg != "metadata":
                continue
            try:
                meta = ast.literal_eval(kw.value)
            except ValueError as exc:
                raise ValueError(f"the metadata of {node.target.id} is not a literal") from exc
            if isinstance(meta, dict) and meta.get("role") == "protected":
                out.append(node.target.id)
    return out


def _dict_lines(name: str, annotation: str, items: dict[str, str]) -> list[str]:
    """A dict constant as ruff format writes it (one line when it fits in 100 columns)."""
    inline = ", ".join(f'"{k}": "{v}"' for k, v in items.items())
    one = f"{name}: {annotation} = {{{inline}}}"
    if len(one) <= 100:
        return [one]
    return [f"{name}: {annotation} = {{", *(f'    "{k}": "{v}",' for k, v in items.items()), "}"]


TASK_TYPE = ': Literal["binary", "multiclass", "regression"]'


def _import_literal(tree: ast.Module, lines: list[str]) -> tuple[list[str], str]:
    """`Literal` imported from typing (one edit of the typing import line, or a new line)."""
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "typing":
            if any(a.name == "Literal" and a.asname is None for a in node.names):
                return lines, ""
            if node.end_lineno != node.lineno:
                continue  # a parenthesised import: add a line of our own below
            names = sorted({*(ast.unparse(a) for a in node.names), "Literal"}, key=_isort_key)
            lines = list(lines)
            lines[node.lineno - 1] = f"from typing import {', '.join(names)}"
            return lines, "imported Literal from typing"
    future = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "__future__"]
    at = (future[-1].end_lineno or 0) if future else 0
    lines = list(lines)
    lines[at:at] = ["", "from typing import Literal"] if future else ["from typing import Literal"]
    return lines, "imported Literal from typing"


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's isort order within one import: CONSTANTS, Classes, functions
    bare = name.split(" ")[0]
    kind = 0 if bare.isupper() and len(bare) > 1 else 1 if bare[:1].isupper() else 2
    return kind, bare


def migrate_schema(text: str, path: str = "schema.py") -> Result:
    """Bring a data contract of SCHEMA_VERSION "1" (0.1.0 or later) to "2"."""
    manual = f"{path}: not migrated, edit it by hand (docs/updating.md, 'The data contract')"
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise Refused(f"{manual}: it does not parse as Python (line {exc.lineno})") from exc
    names = _module_names(tree)
    if CONTRACT_CLASS in names:
        cls_name = CONTRACT_CLASS
    elif OLD_CONTRACT_CLASS in names:
        cls_name = OLD_CONTRACT_CLASS
    else:
        raise Refused(f"{manual}: it defines neither {CONTRACT_CLASS} nor {OLD_CONTRACT_CLASS}")
    cls = names[cls_name]
    if not isinstance(cls, ast.ClassDef):
        raise Refused(f"{manual}: {cls_name} is not a class")
    try:
        version = (
            _literal(names["SCHEMA_VERSION"], "SCHEMA_VERSION")
            if "SCHEMA_VERSION" in names
            else None
        )
        task = _literal(names["TASK"], "TASK") if "TASK" in names else "binary"
        protected = _protected_columns(cls)
    except ValueError as exc:
        raise Refused(f"{manual}: {exc}") from exc
    if version not in (None, "1", SCHEMA_VERSION):
        raise Refused(f"{manual}: SCHEMA_VERSION {version!r} is not one this release knows")
    if task not in ("binary", "multiclass", "regression"):
        raise Refused(f"{manual}: TASK {task!r} is not binary, multiclass or regression")

    lines = text.splitlines()
    changes: list[str] = []
    name = path.rsplit("/", 1)[-1]
    if cls_name == OLD_CONTRACT_CLASS:
        lines = [re.sub(rf"\b{OLD_CONTRACT_CLASS}\b", CONTRACT_CLASS, ln) for ln in lines]
        changes.append(
            f"{name}: renamed {OLD_CONTRACT_CLASS} to {CONTRACT_CLASS} (the rails read "
            f"{CONTRACT_CLASS})"
        )
    for old, new in OLD_KEY_TIME.items():
        if old in lines:
            lines[lines.index(old)] = new
            changes.append(f"{name}: {old.split()[0]} may be None (a contract without one)")

    has_any = any(
        isinstance(n, ast.ImportFrom)
        and n.module == "typing"
        and any(a.name == "Any" and a.asname is None for a in n.names)
        for n in tree.body
    )
    added: list[str] = []
    if "TASK" not in names:
        added += [
            "# What the label is: binary, multiclass or regression.",
            f'TASK{TASK_TYPE} = "binary"',
        ]
        changes.append(f"{name}: added TASK = 'binary' (the behaviour before {TASK_RELEASE})")
    elif isinstance(names["TASK"], ast.Assign):
        # the rails type the task as a Literal (mypy): annotate the first definition
        at = names["TASK"].lineno - 1
        if re.match(r"^TASK = ", lines[at]):
            lines[at] = lines[at].replace("TASK = ", f"TASK{TASK_TYPE} = ", 1)
            changes.append(f"{name}: TASK annotated as binary | multiclass | regression")
    if "POSITIVE" not in names:
        value = "1" if task == "binary" else "None"
        annotation = ": Any" if has_any else ""
        added += [
            "# binary: the label value whose probability the model reports (the other is the",
            "# negative).",
            f"POSITIVE{annotation} = {value}",
        ]
        why = "what the rails assumed" if task == "binary" else f"TASK is {task}"
        changes.append(f"{name}: added POSITIVE = {value} ({why} before {RELEASE})")
    if "RENAMES" not in names:
        added += [
            "# Source column name -> contract column name, for source names that are not Python",
            "# identifiers (sources rename on read); empty when every name already is one.",
            "RENAMES: dict[str, str] = {}",
        ]
        changes.append(f"{name}: added RENAMES = {{}} (no source column renamed)")
    if "PROTECTED_REVIEW" not in names:
        review = {col: "protected" for col in protected}
        added += [
            "# Columns that could be protected attributes (or proxies for one) and the owner's",
            '# answer: "protected", "not protected" or "unanswered".',
            *_dict_lines("PROTECTED_REVIEW", "dict[str, str]", review),
        ]
        shown = ", ".join(protected) or "none"
        changes.append(
            f"{name}: added PROTECTED_REVIEW ({shown} answered 'protected': the contract "
            "marked them)"
        )

    version_line = next(
        (i for i, ln in enumerate(lines) if re.match(r"^SCHEMA_VERSION\s*(:[^=]*)?=", ln)), None
    )
    if version is None:
        # after the last top-level import: where the constants start
        imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        at = max((n.end_lineno or n.lineno) for n in imports) if imports else 0
        lines[at:at] = ["", f'SCHEMA_VERSION = "{SCHEMA_VERSION}"']
        version_line = at + 1
        changes.append(f'{name}: added SCHEMA_VERSION = "{SCHEMA_VERSION}"')
    elif version != SCHEMA_VERSION:
        assert version_line is not None
        lines[version_line] = re.sub(
            r'"1"|\'1\'', f'"{SCHEMA_VERSION}"', lines[version_line], count=1
        )
        changes.append(f'{name}: SCHEMA_VERSION "1" -> "{SCHEMA_VERSION}"')
    if version_line is None:
        raise Refused(f"{manual}: SCHEMA_VERSION is not a plain assignment at the top level")
    if added:
        lines[version_line + 1 : version_line + 1] = added
    if any(TASK_TYPE in ln for ln in lines):
        lines, import_change = _import_literal(ast.parse("\n".join(lines)), lines)
        if import_change:
            changes.append(f"{name}: {import_change}")
    new_text = "\n".join(lines) + ("\n" if text.endswith("\n") else "")
    if not changes:
        return Result(text)
    # the result must still be a contract the rails can read
    check = _module_names(ast.parse(new_text))
    missing = [
        n
        for n in (
            "SCHEMA_VERSION",
            "TASK",
            "POSITIVE",
            "RENAMES",
            "PROTECTED_REVIEW",
            CONTRACT_CLASS,
        )
        if n not in check
    ]
    if missing or _literal(check["SCHEMA_VERSION"], "SCHEMA_VERSION") != SCHEMA_VERSION:
        raise Refused(f"{manual}: the migrated file would lack {', '.join(missing)}")
    return Result(new_text, changes)


# --- config/pilot.toml: the owner's settings ---------------------------------------------------

FLOOR_COMMENT = (
    f"# {GATE_FLOOR}: the floor this pilot's gate used before {RELEASE} (then the default), kept "
    "so the\n# gate judges as before; replace it with the quality target the owner declares."
)


def migrate_pilot_toml(text: str, path: str = "config/pilot.toml") -> Result:
    """Declare `[gate] min_metric = 0.7` where the file leaves it out (the old default)."""
    manual = (
        f"{path}: not migrated; add `min_metric = {GATE_FLOOR}` under [gate] by hand "
        "(docs/updating.md)"
    )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise Refused(f"{manual}: it does not parse as TOML ({exc})") from exc
    gate = data.get("gate", {})
    if not isinstance(gate, dict):
        raise Refused(f"{manual}: gate is not a table")
    if "min_metric" in gate:
        return Result(text)
    name = path.rsplit("/", 1)[-1]
    change = f"{name}: added [gate] min_metric = {GATE_FLOOR} (the floor before {RELEASE})"
    lines = text.splitlines()
    header = next(
        (i for i, ln in enumerate(lines) if re.match(r"^\s*\[gate\]\s*(#.*)?$", ln)), None
    )
    if header is not None:
        lines[header + 1 : header + 1] = [*FLOOR_COMMENT.splitlines(), f"min_metric = {GATE_FLOOR}"]
        new_text = "\n".join(lines) + "\n"
    elif re.search(r"^\s*gate\s*[.=]", text, re.M):
        raise Refused(f"{manual}: [gate] is written as dotted keys or an inline table")
    else:
        new_text = text.rstrip("\n") + f"\n\n[gate]\n{FLOOR_COMMENT}\nmin_metric = {GATE_FLOOR}\n"
    try:
        migrated = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError as exc:
        raise Refused(f"{manual}: the edit would not parse ({exc})") from exc
    if migrated.get("gate", {}).get("min_metric") != GATE_FLOOR:
        raise Refused(f"{manual}: the edit would not set gate.min_metric")
    return Result(new_text, [change])


# --- config/<env>.toml: keys that moved between releases -------------------------------------

# (table, key) -> (table, key), the release that moved it. Keys are never removed (old config
# files keep loading), but a key that moved is ignored at its old place: the migration moves it.
MOVED_KEYS: dict[tuple[str, str], tuple[str, str, str]] = {
    # 0.1.0's one regularisation strength became the linear family's (model families, 0.2.0)
    ("model", "c"): ("model.linear", "c", "0.2.0"),
}
HEADER = re.compile(r"^\s*\[([A-Za-z0-9_.-]+)\]\s*(#.*)?$")


def _sections(lines: list[str]) -> dict[str, tuple[int, int]]:
    """Table name -> (header line, end line exclusive); "" is the top level."""
    out: dict[str, tuple[int, int]] = {}
    name, start = "", -1
    for i, line in enumerate(lines):
        match = HEADER.match(line)
        if match:
            out.setdefault(name, (start, i))
            name, start = match.group(1), i
    out.setdefault(name, (start, len(lines)))
    return out


def _dig(data: dict[str, object], table: str) -> object:
    node: object = data
    for part in table.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def migrate_moved_keys(text: str, path: str) -> Result:
    """Move keys whose table changed (MOVED_KEYS) to their new table, keeping the value."""
    moved = [old for old in MOVED_KEYS if re.search(rf"^\s*{old[1]}\s*=", text, re.M)]
    if not moved:
        return Result(text)  # no moved key here: the file is not even read
    name = path.rsplit("/", 1)[-1]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise Refused(
            f"{path}: not migrated, move {', '.join(f'[{t}] {k}' for t, k in moved)} by hand "
            f"(docs/updating.md): it does not parse ({exc})"
        ) from exc
    lines, changes = text.splitlines(), []
    for old_table, key in moved:
        new_table, new_key, release = MOVED_KEYS[(old_table, key)]
        manual = (
            f"{path}: not migrated, move [{old_table}] {key} to [{new_table}] {new_key} by hand"
        )
        old_node = _dig(data, old_table)
        if not (isinstance(old_node, dict) and key in old_node):
            continue  # the key is another table's
        sections = _sections(lines)
        if old_table not in sections:
            raise Refused(f"{manual}: [{old_table}] is not a plain table here")
        start, end = sections[old_table]
        at = next((i for i in range(start + 1, end) if re.match(rf"^\s*{key}\s*=", lines[i])), None)
        if at is None:
            raise Refused(f"{manual}: {key} is not one line of [{old_table}]")
        value = lines[at].split("=", 1)[1].strip()
        del lines[at]
        sections = _sections(lines)
        if new_table in sections:
            start, end = sections[new_table]
            target = next(
                (i for i in range(start + 1, end) if re.match(rf"^\s*{new_key}\s*=", lines[i])),
                None,
            )
            if target is None:
                lines.insert(start + 1, f"{new_key} = {value}")
            else:
                lines[target] = f"{new_key} = {value}"  # yours: what the pilot ran with
        else:
            lines += ["", f"[{new_table}]", f"{new_key} = {value}"]
        changes.append(
            f"{name}: [{old_table}] {key} moved to [{new_table}] {new_key} = {value} "
            f"(read there since {release})"
        )
    if not changes:
        return Result(text)
    new_text = "\n".join(lines) + "\n"
    try:
        migrated = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError as exc:
        raise Refused(
            f"{path}: not migrated, move the keys by hand: the edit would not parse"
        ) from exc
    for old_table, key in moved:
        new_table, new_key, _ = MOVED_KEYS[(old_table, key)]
        old_node, new_node = _dig(data, old_table), _dig(migrated, new_table)
        left = _dig(migrated, old_table)
        if (
            isinstance(old_node, dict)
            and key in old_node
            and (
                not isinstance(new_node, dict)
                or new_node.get(new_key) != old_node[key]
                or (isinstance(left, dict) and key in left)
            )
        ):
            raise Refused(f"{path}: not migrated, move [{old_table}] {key} by hand")
    return Result(new_text, changes)


# --- governance documents: generated blocks --------------------------------------------------

BLOCK = re.compile(
    r"^<!-- BEGIN GENERATED: (?P<name>[\w-]+) -->$.*?^<!-- END GENERATED: (?P=name) -->$",
    re.M | re.S,
)
BEGIN = re.compile(r"^<!-- (BEGIN|END) GENERATED: ([\w-]+) -->$", re.M)


def _blocks(text: str) -> dict[str, re.Match[str]]:
    return {m.group("name"): m for m in BLOCK.finditer(text)}


def migrate_blocks(text: str, release_text: str, path: str) -> Result:
    """Add the generated blocks the release's document has and the team's lacks.

    Each new block is inserted, with the release's lines that lead into it (a heading, a
    sentence), after the block that precedes it in the release's document, or at the end.
    Blocks the team has keep their place and content; the pilot's `governance` commands fill
    them.
    """
    name = path.rsplit("/", 1)[-1]
    ours = _blocks(text)
    markers = BEGIN.findall(text)
    if len(markers) != 2 * len(ours):
        raise Refused(
            f"{path}: not migrated; a GENERATED block's BEGIN/END markers are unpaired: pair them"
            " by hand (docs/updating.md)"
        )
    theirs = list(_blocks(release_text).values())
    missing = [m for m in theirs if m.group("name") not in ours]
    if not missing:
        return Result(text)
    changes = []
    for index, block in enumerate(theirs):
        block_name = block.group("name")
        if block_name in ours:
            continue
        previous = theirs[index - 1] if index else None
        lead_start = previous.end() if previous else 0
        lead = release_text[lead_start : block.start()].strip("\n")
        # keep only the paragraph right before the block (its heading and sentence)
        lead = lead.split("\n\n")[-1] if lead else ""
        insert = ("\n\n" + lead + "\n" if lead else "\n\n") + block.group(0)
        anchor = _blocks(text).get(previous.group("name")) if previous else None
        at = anchor.end() if anchor else len(text.rstrip("\n"))
        text = text[:at] + insert + text[at:]
        if not text.endswith("\n"):
            text += "\n"
        ours = _blocks(text)
        changes.append(f"{name}: added the generated block '{block_name}' (filled by the pilot)")
    return Result(text, changes)
