"""Issue 22: the pilot's FULL own suite, unchanged, on seven real tables chosen for diversity.

A file of its own (its own generated pilot), so that under `--dist loadfile` the two halves of
the real-table tier can run on different workers. For each table of `FULL_SUITE` the pilot is
put back to its generated state, the table is adopted with default flags, and the pilot's own
checks run on the adopted contract: ruff, ruff format and its whole pytest suite. A failing
table names its failing tests.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, uv_run
from .real_tables import BY_NAME, FULL_SUITE
from .test_real_tables import PKG, Pilot, children_cpu, generated_pilot, write_table

pytestmark = [pytest.mark.generated, pytest.mark.real_tables]

RECORDS: dict[str, dict[str, Any]] = {}


@pytest.fixture(scope="module")
def pilot(tmp_path_factory: pytest.TempPathFactory) -> Pilot:
    return generated_pilot(tmp_path_factory.mktemp("real-table-suites"))


@pytest.fixture(scope="module", autouse=True)
def document() -> Iterator[None]:
    yield
    if os.environ.get("SHIPSHAPE_WRITE_REAL_TABLES_DOC") == "1" and RECORDS:
        from .real_tables_doc import write_section

        write_section(ROOT / "docs" / "real-tables.md", "suites", RECORDS)


def summary_counts(output: str) -> dict[str, int]:
    """pytest's last line: '3 failed, 160 passed, 1 skipped in 61.2s' -> counts."""
    lines = [line for line in output.splitlines() if re.search(r" in [\d.]+s", line)]
    last = lines[-1] if lines else ""
    found = re.findall(r"(\d+) (passed|failed|errors?|skipped|deselected)", last)
    return {kind.rstrip("s") if kind.startswith("error") else kind: int(n) for n, kind in found}


@pytest.mark.parametrize("name", FULL_SUITE)
def test_pilot_suite_passes_on_real_table(name: str, pilot: Pilot, tmp_path: Path) -> None:
    table = BY_NAME[name]
    pilot.restore()
    csv = write_table(table, tmp_path)
    started, cpu = time.perf_counter(), children_cpu()
    adopt = uv_run(pilot.root, PKG.replace("_", "-"), "data", "adopt", str(csv), "--label",
                   table.label, check=False, timeout=300)  # fmt: skip
    record: dict[str, Any] = {"table": {"name": name, "task": table.task}, "problems": []}
    RECORDS[name] = record
    if adopt.returncode != 0:
        record["problems"].append(f"adopt: {adopt.stderr.strip()[-300:]}")
        pytest.fail(f"{name}: adopt exited {adopt.returncode}: {adopt.stderr.strip()[-300:]}")
    for check in (["ruff", "check", "."], ["ruff", "format", "--check", "."]):
        proc = uv_run(pilot.root, *check, check=False, timeout=300)
        if proc.returncode != 0:
            record["problems"].append(f"{' '.join(check)}: {proc.stdout.strip()[-300:]}")
    suite = uv_run(pilot.root, "pytest", "-q", "-p", "no:cacheprovider", check=False,
                   timeout=1500)  # fmt: skip
    record["seconds"] = round(time.perf_counter() - started, 1)
    record["cpu_seconds"] = round(children_cpu() - cpu, 1)
    record["counts"] = summary_counts(suite.stdout)
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", suite.stdout, re.M)
    record["failed"] = failed
    if suite.returncode != 0:
        shown = ", ".join(failed[:8]) + (f" and {len(failed) - 8} more" if len(failed) > 8 else "")
        tail = suite.stdout.strip().splitlines()[-1:] if not failed else []
        record["problems"].append(f"pytest exited {suite.returncode}: {shown or tail}")
    assert not record["problems"], f"{name}: " + "; ".join(record["problems"])
