"""Issue 22, how it is proven: every corpus table through a default pilot, with no edits.

One pilot is generated (verify=false) and synced once for the module, with bytecode and an empty
MLflow tracking store (its schema migrations are the same for every table). For each table of
`tests/real_tables.py` the pilot is put back to its generated state (contract, profile,
config, data, registry, logs, reports, governance), the table is written to CSV as it comes,
and ONE pilot process (`tests/real_table_driver.py`, run with the pilot's interpreter) carries
it through adopt, ingest, a shuffled-label drill the gate must refuse, train, gate, promote,
serve/predict/explain on the table's own rows, score and ready, all with default flags. The
model family rotates within each task so every family sees every task.

A table fails with one line per failing step, naming the step and its cause. With
SHIPSHAPE_WRITE_REAL_TABLES_DOC=1 the module rewrites the per-table section of
docs/real-tables.md from the records of the run (tests/real_tables_doc.py).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, UV, render, uv_run
from .real_tables import CORPUS, REQUIRED_TRAITS, Table, traits

pytestmark = [pytest.mark.generated, pytest.mark.real_tables]

PKG = "churn_pilot"
DRIVER = Path(__file__).with_name("real_table_driver.py")
FAMILIES = ["linear", "gradient_boosting", "random_forest"]
# Everything a table's run writes; restored to the generated state before the next table.
STATE = [
    f"src/{PKG}/data/schema.py",
    f"src/{PKG}/data/profile.json",
    "config/pilot.toml",
    "data",
    "mlruns",
    "var",
    "reports",
    "governance",
]
RECORDS: dict[str, dict[str, Any]] = {}


def family_of(table: Table) -> str:
    """Rotate the families within each task: each family sees every task."""
    same_task = [t.name for t in CORPUS if t.task == table.task]
    return FAMILIES[same_task.index(table.name) % len(FAMILIES)]


class Pilot:
    def __init__(self, root: Path, pristine: Path) -> None:
        self.root, self.pristine = root, pristine
        for rel in STATE:
            _copy(root / rel, pristine / rel)

    def restore(self) -> None:
        for rel in STATE:
            _copy(self.pristine / rel, self.root / rel)


def _copy(src: Path, dst: Path) -> None:
    """Make dst what src is (absent, a file or a tree)."""
    if dst.is_dir():
        shutil.rmtree(dst)
    elif dst.exists():
        dst.unlink()
    if src.is_dir():
        shutil.copytree(src, dst)
    elif src.exists():
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


# Creates the pilot's (empty) MLflow tracking store: every table's first `train` would otherwise
# spend seconds on the same schema migrations. The store stays empty: no experiment, no model.
INIT_STORE = (
    f"from {PKG}.settings import get_settings; from {PKG}.model.registry import configure; "
    "configure(get_settings()).search_registered_models()"
)


def generated_pilot(tmp: Path) -> Pilot:
    """A default pilot, its environment synced with bytecode (one import cost per process)."""
    project = render(tmp / "churn-pilot", tasks=True)
    subprocess.run(
        [UV, "sync", "--locked", "-q", "--compile-bytecode"], cwd=project, check=True, timeout=900
    )
    uv_run(project, "python", "-c", INIT_STORE, timeout=300)
    return Pilot(project, tmp / "pristine")


def write_table(table: Table, directory: Path) -> Path:
    """The table as a team would export it: CSV, every column, no index."""
    path = directory / f"{table.name}.csv"
    if not path.exists():
        table.load().to_csv(path, index=False)
    return path


def run_driver(pilot: Pilot, table: Table, csv: Path, work: Path) -> dict[str, Any]:
    family = family_of(table)
    spec = {"package": PKG, "csv": str(csv), "label": table.label, "task": table.task,
            "family": family}  # fmt: skip
    spec_path, out = work / f"{table.name}.spec.json", work / f"{table.name}.out.json"
    spec_path.write_text(json.dumps(spec))
    out.unlink(missing_ok=True)
    proc = uv_run(
        pilot.root, "python", str(DRIVER), str(spec_path), str(out),
        env={"APP_MODEL__ESTIMATOR": family}, check=False, timeout=1200,
    )  # fmt: skip
    if not out.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"facts": {"family": family}, "steps": [
            {"step": "driver", "ok": False, "seconds": 0, "crash": None,
             "detail": f"the driver exited {proc.returncode}: {' | '.join(tail)}"}]}  # fmt: skip
    record: dict[str, Any] = json.loads(out.read_text())
    return record


def children_cpu() -> float:
    """CPU seconds of the finished child processes (uv, the driver): the cost without the load."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def failures(record: dict[str, Any]) -> list[str]:
    return [f"{s['step']}: {s['detail']}" for s in record["steps"] if not s["ok"]]


@pytest.fixture(scope="module")
def pilot(tmp_path_factory: pytest.TempPathFactory) -> Pilot:
    return generated_pilot(tmp_path_factory.mktemp("real-tables"))


@pytest.fixture(scope="module")
def tables_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("real-table-files")


@pytest.fixture(scope="module", autouse=True)
def document() -> Iterator[None]:
    yield
    if os.environ.get("SHIPSHAPE_WRITE_REAL_TABLES_DOC") == "1" and RECORDS:
        from .real_tables_doc import write_section

        write_section(ROOT / "docs" / "real-tables.md", "path", RECORDS)


def test_corpus_covers_what_issue_22_asks() -> None:
    """Measured from the tables' values: every trait is brought by at least one table."""
    assert len(CORPUS) >= 25
    assert len({t.name for t in CORPUS}) == len(CORPUS)
    found: set[str] = set()
    for table in CORPUS:
        found |= traits(table.load(), table.label)
    assert found >= REQUIRED_TRAITS, sorted(REQUIRED_TRAITS - found)
    for task in ("binary", "multiclass", "regression"):  # each family sees every task
        assert {family_of(t) for t in CORPUS if t.task == task} == set(FAMILIES), task


@pytest.mark.parametrize("name", [t.name for t in CORPUS])
def test_real_table_end_to_end(name: str, pilot: Pilot, tables_dir: Path) -> None:
    table = next(t for t in CORPUS if t.name == name)
    pilot.restore()
    csv = write_table(table, tables_dir)
    cpu = children_cpu()
    record = run_driver(pilot, table, csv, tables_dir)
    record["facts"]["cpu_seconds"] = round(children_cpu() - cpu, 1)
    record["table"] = {"name": table.name, "label": table.label, "task": table.task}
    RECORDS[name] = record
    problems = failures(record)
    assert not problems, f"{name} ({table.task}, {family_of(table)}): " + "; ".join(problems)
