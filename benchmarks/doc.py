"""docs/benchmark.md is shared by several benchmarks: each one rewrites its own section only."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmark.md"
HEADER = (
    "# Benchmarks\n\n"
    "Each section is written by the benchmark it names (`--write-doc`); ratios against a peer "
    "measured in the same run matter more than absolute figures, as the machine may be shared.\n"
)


def write_section(title: str, body: str, doc: Path = DOC) -> Path:
    """Replace (or append) the section headed `## title`, keeping every other section."""
    text = doc.read_text() if doc.exists() else HEADER
    begin, end = f"<!-- begin: {title} -->", f"<!-- end: {title} -->"
    block = f"{begin}\n## {title}\n\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + block
    )
    doc.parent.mkdir(exist_ok=True)
    doc.write_text(text.rstrip() + "\n")
    return doc
