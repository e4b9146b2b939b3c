"""Governance documents on disk: generated blocks, placeholders, manual results, sign-off.

Generated facts live between ``<!-- BEGIN GENERATED: name -->`` and
``<!-- END GENERATED: name -->``; `governance render` replaces only those blocks, so every
hand-written line survives a re-render. A document counts as complete when it has no
placeholder left (``TODO``, ``MISSING``, an unrendered block or an empty ``- Field:``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import PilotError

BLOCK = re.compile(
    r"(<!-- BEGIN GENERATED: (?P<name>[\w-]+) -->\n)(?P<body>.*?)"
    r"(<!-- END GENERATED: (?P=name) -->)",
    re.DOTALL,
)
PLACEHOLDER = re.compile(r"\bTODO\b|\bMISSING\b|(?i:not rendered yet)")
FIELD = re.compile(r"^- (?P<name>[A-Z][\w /-]*):[ \t]*(?P<value>.*)$", re.MULTILINE)
ENTRY = re.compile(r"^## (?P<key>[a-z]+-\d+)\b.*$", re.MULTILINE)
SIGN_OFF_FIELDS = ("Reviewer", "Role", "Date", "Outcome")
MANUAL_FIELDS = ("Result", "Date", "By", "Evidence")


class GovernanceError(PilotError):
    """A governance document problem, reported as one line naming the file."""


def block_names(text: str) -> list[str]:
    return [m.group("name") for m in BLOCK.finditer(text)]


def replace_blocks(text: str, blocks: Mapping[str, str], where: str) -> str:
    """Replace each generated block's body; unknown block names are an error, not a skip."""
    unknown = [name for name in block_names(text) if name not in blocks]
    if unknown:
        raise GovernanceError(f"{where}: unknown generated block '{unknown[0]}'")

    def fill(m: re.Match[str]) -> str:
        body = blocks[m.group("name")].strip("\n")
        return f"{m.group(1)}{body}\n{m.group(4)}"

    return BLOCK.sub(fill, text)


def placeholders(text: str) -> list[str]:
    """Lines that still hold a placeholder or an empty field."""
    found = [ln.strip() for ln in text.splitlines() if PLACEHOLDER.search(ln)]
    found += [m.group(0) for m in FIELD.finditer(text) if not m.group("value").strip()]
    return found


def fields(text: str) -> dict[str, str]:
    return {m.group("name").strip(): m.group("value").strip() for m in FIELD.finditer(text)}


def missing_fields(values: Mapping[str, str], required: tuple[str, ...]) -> list[str]:
    return [
        name
        for name in required
        if not values.get(name, "").strip() or PLACEHOLDER.search(values.get(name, ""))
    ]


@dataclass(frozen=True)
class ManualEntry:
    key: str
    complete: bool
    problem: str


def manual_entries(path: Path) -> dict[str, ManualEntry]:
    """The documented manual test results, by item key (``## data-3: ...`` sections)."""
    if not path.exists():
        return {}
    text = path.read_text()
    heads = list(ENTRY.finditer(text))
    out = {}
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        missing = missing_fields(fields(text[head.end() : end]), MANUAL_FIELDS)
        key = head.group("key")
        problem = f"fields not filled in: {', '.join(missing)}" if missing else ""
        out[key] = ManualEntry(key, not missing, problem)
    return out


def sign_off_problem(path: Path) -> str:
    """Why the sign-off record does not count yet; empty when it is signed and approved."""
    if not path.exists():
        return f"{path.name} does not exist"
    values = fields(path.read_text())
    missing = missing_fields(values, SIGN_OFF_FIELDS)
    if missing:
        return f"{path.name}: not filled in: {', '.join(missing)}"
    if not values["Outcome"].lower().startswith("approved"):
        return f"{path.name}: outcome is '{values['Outcome']}', not approved"
    return ""


def document_problem(path: Path) -> str:
    """Why a document is incomplete; empty when it is complete."""
    if not path.exists():
        return f"{path.name} does not exist"
    left = placeholders(path.read_text())
    if left:
        return f"{path.name}: {len(left)} placeholder(s), first: {left[0][:80]}"
    return ""
