"""The rails' check of the data contract, run before any command (cli.py's callback).

The contract (`data/schema.py`) is the team's file: `copier update` never overwrites it, and
the migrations that `copier update` runs bring an older one up to this release's
`SCHEMA_VERSION` (docs/updating.md). The rails import its names at import time, so a contract
that lacks one would stop a command with an ImportError and a traceback; this check reads the
file's source instead (no import: `--help`, `promote` and `rollback` stay free of pandas) and
names the missing piece and the migration that supplies it, in one line.
"""

from __future__ import annotations

import ast
from pathlib import Path

from ..errors import PilotError

# The contract version these rails write; "1" is still read, its newer pieces (POSITIVE,
# PROTECTED_REVIEW) taking the values that reproduce the old behaviour (data/roles.py).
SCHEMA_VERSION = "2"
READABLE = ("1", "2")
MIGRATION = (
    "the template's contract migration supplies it: run `copier update --trust --defaults`"
    " (it migrates after every update; docs/updating.md, 'Migrations')"
)
# What the rails import from the contract by name -> the release that introduced it.
# (POSITIVE and PROTECTED_REVIEW, new in SCHEMA_VERSION "2", are read through data/roles.py,
# which falls back to the old behaviour, so a contract without them still runs.)
REQUIRED: dict[str, str] = {
    "SCHEMA_VERSION": "0.1.0",
    "PilotSchema": "0.2.0, renamed from CustomerSchema",
    "TASK": "0.2.0",
    "RENAMES": "0.2.0",
    "columns_with": "0.1.0",
    "LABEL": "0.1.0",
    "KEY": "0.1.0",
    "TIME": "0.1.0",
    "FEATURES": "0.1.0",
    "NUMERIC_FEATURES": "0.1.0",
    "CATEGORICAL_FEATURES": "0.1.0",
    "PII_COLUMNS": "0.1.0",
    "PROTECTED_COLUMNS": "0.1.0",
}


class ContractError(PilotError):
    """The data contract is older than the rails, or lacks a piece they read."""


def contract_path() -> Path:
    return Path(__file__).with_name("schema.py")


def _shown(path: Path) -> str:
    parts = path.parts
    return "/".join(parts[parts.index("src") :]) if "src" in parts else str(path)


def module_names(tree: ast.Module) -> dict[str, ast.stmt]:
    """Names the module binds at its top level -> the statement binding them."""
    names: dict[str, ast.stmt] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.ClassDef | ast.FunctionDef):
            names.setdefault(node.name, node)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                names.setdefault(alias.asname or alias.name, node)
        for target in targets:
            if isinstance(target, ast.Name):
                names.setdefault(target.id, node)
    return names


def problem(path: Path | None = None) -> str | None:
    """One line naming what the rails cannot read in the contract, or None when it is fine."""
    path = path or contract_path()
    shown = _shown(path)
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except FileNotFoundError:
        return f"data contract {shown} is missing: restore it from git or run `data adopt`"
    except (SyntaxError, UnicodeDecodeError, OSError) as exc:
        return f"data contract {shown} does not parse: {exc}"
    names = module_names(tree)
    version: object = None
    stmt = names.get("SCHEMA_VERSION")
    if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
        try:
            version = ast.literal_eval(stmt.value)
        except ValueError:
            version = None
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        pieces = ", ".join(f"{name} ({REQUIRED[name]})" for name in missing)
        return f"data contract {shown} (SCHEMA_VERSION {version!r}) lacks {pieces}: {MIGRATION}"
    if str(version) not in READABLE:
        if str(version).isdigit() and int(str(version)) > int(SCHEMA_VERSION):
            return (
                f"data contract {shown} is SCHEMA_VERSION {version!r}, newer than these rails "
                f"({SCHEMA_VERSION!r}): update the pilot (`copier update`, docs/updating.md)"
            )
        return (
            f"data contract {shown} is SCHEMA_VERSION {version!r}, the rails read "
            f"{SCHEMA_VERSION!r}: {MIGRATION.replace('supplies it', 'brings it up to date')}"
        )
    return None


def require() -> None:
    """Raise ContractError (one line) unless the rails can read the contract."""
    found = problem()
    if found:
        raise ContractError(found)
