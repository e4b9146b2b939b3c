"""Issue 12, the data half: `<slug> data adopt` turns a real table into the pilot's contract.

One pilot is generated (verify=false) and synced once per session; each test restores the
demo contract, writes its own table (stdlib csv / sqlite3: no real data anywhere), adopts
it and runs the pilot's commands on it. Refusals must be one line and write nothing.
"""

from __future__ import annotations

import csv
import hashlib
import random
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import UV, render, uv_run

pytestmark = pytest.mark.generated

PKG = "churn_pilot"
OWNED = [f"src/{PKG}/data/schema.py", f"src/{PKG}/data/profile.json", "config/pilot.toml"]


@pytest.fixture(scope="session")
def pilot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    project = render(tmp_path_factory.mktemp("adopt") / "churn-pilot", tasks=True)
    subprocess.run([UV, "sync", "--locked", "-q"], cwd=project, check=True, timeout=900)
    yield project


@pytest.fixture
def fresh(pilot: Path) -> Iterator[Path]:
    """The pilot with its demo contract, as generated."""
    pristine = {rel: (pilot / rel).read_bytes() for rel in OWNED if (pilot / rel).exists()}
    yield pilot
    for rel in OWNED:
        path = pilot / rel
        if rel in pristine:
            path.write_bytes(pristine[rel])
        else:
            path.unlink(missing_ok=True)


def adopt(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return uv_run(project, "churn-pilot", "data", "adopt", *args, check=check, timeout=300)


def digest(project: Path) -> dict[str, str]:
    return {
        rel: hashlib.sha256((project / rel).read_bytes()).hexdigest()
        for rel in OWNED
        if (project / rel).exists()
    }


def write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_sqlite(path: Path, table: str, rows: list[dict[str, object]]) -> str:
    columns = list(rows[0])
    with sqlite3.connect(path) as conn:
        names = ", ".join(f'"{c}"' for c in columns)
        conn.execute(f'CREATE TABLE "{table}" ({names})')
        marks = ", ".join("?" for _ in columns)
        conn.executemany(
            f'INSERT INTO "{table}" VALUES ({marks})', [tuple(r.values()) for r in rows]
        )
    return f"sqlite:///{path}"


def awkward_rows(n: int = 600, seed: int = 1) -> list[dict[str, object]]:
    """Spaces, dots and capitals in names; PII, a protected attribute, missing categories."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        spend = round(rng.gauss(50, 10), 2)
        visits = rng.randint(0, 30)
        colour = rng.choice(["red", "green", "blue"])
        score = (spend - 50) / 10 + (visits - 15) / 8 + (colour == "red") + rng.gauss(0, 0.7)
        rows.append(
            {
                "Account ID": f"A-{i:05d}",
                "E-mail": f"someone{i}@corp.example",
                "Full Name": f"Ann Smith{chr(97 + i % 26)}".title(),
                "Monthly Spend": spend,
                "visits.count": visits,
                "Colour": None if rng.random() < 0.1 else colour,
                "Sex": rng.choice(["f", "m"]),
                "signup": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:00:00",
                "notes": f"called about invoice {i}, wants a callback",
                "Churned": int(score > 0.3),
            }
        )
    return rows


def numeric_rows(n: int = 400, seed: int = 2) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        x = [round(rng.uniform(0, 10), 3) for _ in range(3)]
        rows.append(
            {"x1": x[0], "x2": x[1], "x3": x[2], "y": int(x[0] - x[1] + rng.gauss(0, 1) > 0)}
        )
    return rows


def test_awkward_table_is_adopted_and_every_command_runs_on_it(fresh: Path, tmp_path: Path) -> None:
    rows = awkward_rows()
    url = write_sqlite(tmp_path / "crm.db", "accounts", rows)
    out = adopt(fresh, url, "--table", "accounts", "--label", "Churned").stdout
    for line in [
        "Churned (as churned): label (values are 0 and 1) -> label, task binary",
        "Account ID (as account_id): key (an id-like name with a unique value per row) -> key",
        "E-mail (as e_mail): PII (values look like e-mail addresses) -> hashed",
        "Full Name (as full_name): PII (values look like personal names) -> dropped",
        "Sex (as sex): protected (the name says sex) -> never a feature; fairness slices",
        "signup: time (date-time values) -> time",
        "notes: free text (600 distinct strings; too many for a category set) -> dropped",
    ]:
        assert line in out, out
    assert "Colour (as colour): feature (3 categories, missing ones kept as a category)" in out
    schema = (fresh / OWNED[0]).read_text()
    assert 'TASK = "binary"' in schema and '"visits.count": "visits_count",' in schema
    config = (fresh / "config/pilot.toml").read_text()
    assert 'e_mail = "hash"' in config and 'full_name = "drop"' in config
    assert 'slices = ["sex", "colour"]' in config and 'table = "accounts"' in config
    written = "".join((fresh / rel).read_text() for rel in OWNED)
    for row in rows[:50]:  # no real id, e-mail, name or free text reaches the repository
        for column in ("Account ID", "E-mail", "Full Name", "notes"):
            assert str(row[column]) not in written, column

    ingested = uv_run(fresh, "churn-pilot", "ingest").stdout
    assert "ingested 600 rows" in ingested and "600 accepted, 0 quarantined" in ingested
    assert "registered churn_pilot version" in uv_run(fresh, "churn-pilot", "train").stdout
    refused = uv_run(fresh, "churn-pilot", "data", "seed", check=False)
    assert refused.returncode == 1 and "seeding would overwrite it" in refused.stderr
    # the pilot's own checks and test suite, unchanged, on the adopted contract
    uv_run(fresh, "ruff", "check", ".")
    uv_run(fresh, "ruff", "format", "--check", ".")
    uv_run(fresh, "mypy")
    uv_run(fresh, "pytest", "-q", "-x", "-p", "no:cacheprovider", timeout=1200)


def test_numeric_table_without_key_time_pii_or_protected(fresh: Path, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "measurements.csv", numeric_rows())
    out = adopt(fresh, str(source), "--label", "y").stdout
    assert "x1: feature (float values) -> numeric feature" in out
    # The default pilot reads SQL only: the file is loaded into its SQLite database, so
    # ingestion reads the real rows and `data seed` will not overwrite them.
    assert (
        "source: file (this pilot has no files source; loaded into table measurements of sqlite:///"
        in out
        and ") -> ingest reads it" in out
    ), out
    schema = (fresh / OWNED[0]).read_text()
    assert "KEY: str | None = None" in schema and "TIME: str | None = None" in schema
    assert "RENAMES: dict[str, str] = {}" in schema
    config = (fresh / "config/pilot.toml").read_text()
    assert "slices = []" in config and 'table = "measurements"' in config
    refused = uv_run(fresh, "churn-pilot", "data", "seed", check=False)
    assert refused.returncode == 1 and "seeding would overwrite it" in refused.stderr
    ingested = uv_run(fresh, "churn-pilot", "ingest").stdout
    assert "ingested 400 rows" in ingested and "400 accepted, 0 quarantined" in ingested
    tests = ["tests/test_schema.py", "tests/test_quality.py", "tests/test_ingest.py"]
    uv_run(fresh, "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests, "tests/test_api.py")


def test_task_is_inferred_or_given(fresh: Path, tmp_path: Path) -> None:
    rng = random.Random(3)
    rows = [
        {"size": rng.uniform(20, 200), "rooms": rng.randint(1, 6), "price": 0.0} for _ in range(300)
    ]
    for r in rows:
        r["price"] = round(1000 * float(r["size"]) + rng.gauss(0, 5000), 2)
    source = write_csv(tmp_path / "houses.csv", rows)
    out = adopt(fresh, str(source), "--label", "price").stdout
    why = "numeric values with many distinct values"
    assert f"price: label ({why}) -> label, task regression" in out
    schema = (fresh / OWNED[0]).read_text()
    assert 'TASK = "regression"' in schema and "price: Series[float]" in schema
    out = adopt(fresh, str(source), "--label", "rooms", "--task", "multiclass").stdout
    assert "rooms: label (given by --task) -> label, task multiclass" in out
    assert 'TASK = "multiclass"' in (fresh / OWNED[0]).read_text()


def _bad_tables(tmp: Path) -> dict[str, tuple[list[str], str]]:
    good = numeric_rows(200)
    constant = [r | {"y": 1} for r in good]
    dupes = [r | {"id": i % 150} for i, r in enumerate(good)]
    blob = [r | {"payload": b"\x00\x01"} for r in good]
    return {
        "missing label": ([str(write_csv(tmp / "a.csv", good)), "--label", "nope"],
                          "error: --label nope: no such column (columns: x1, x2, x3, y)"),
        "constant label": ([str(write_csv(tmp / "b.csv", constant)), "--label", "y"],
                           "error: label 'y': constant (one value in every row); nothing to learn"),
        "too few rows": ([str(write_csv(tmp / "c.csv", good[:40])), "--label", "y"],
                         "error: table: 40 rows; adopt needs at least 100"),
        "unsupported type": ([write_sqlite(tmp / "d.db", "t", blob), "--table", "t", "--label",
                              "y"], "error: column 'payload': unsupported type (bytes values)"),
        "duplicate key": ([str(write_csv(tmp / "e.csv", dupes)), "--label", "y", "--key", "id"],
                          "error: key 'id': not unique (50 duplicate values)"),
        "bad task": ([str(write_csv(tmp / "f.csv", good)), "--label", "y", "--task", "ranking"],
                     "error: --task ranking: choose one of binary, multiclass, regression"),
    }  # fmt: skip


@pytest.mark.parametrize(
    "case",
    ["missing label", "constant label", "too few rows", "unsupported type", "duplicate key",
     "bad task"],
)  # fmt: skip
def test_bad_tables_are_refused_in_one_line_and_nothing_is_written(
    fresh: Path, tmp_path: Path, case: str
) -> None:
    args, message = _bad_tables(tmp_path)[case]
    before = digest(fresh)
    proc = adopt(fresh, *args, check=False)
    assert proc.returncode == 1, proc.stdout
    assert proc.stderr.strip() == message
    assert proc.stdout == ""
    assert digest(fresh) == before
