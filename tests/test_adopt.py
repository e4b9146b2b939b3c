"""Issue 12, the data half: `<slug> data adopt` turns a real table into the pilot's contract.

One pilot is generated (verify=false) and synced once per session; each test restores the
demo contract, writes its own table (stdlib csv / sqlite3: no real data anywhere), adopts
it and runs the pilot's commands on it. Refusals must be one line and write nothing.
"""

from __future__ import annotations

import csv
import hashlib
import json
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


def tables(db: Path) -> set[str]:
    """The tables of a SQLite file (none when it does not exist)."""
    if not db.exists():
        return set()
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


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
        "Churned (as churned): label (two values, 0 and 1) -> label, task binary",
        "Churned (as churned): positive class ('1' means yes) -> POSITIVE = 1;",
        "Account ID (as account_id): key (an id-like name with a unique value per row) -> key",
        "E-mail (as e_mail): PII (values look like e-mail addresses) -> hashed",
        "Full Name (as full_name): PII (values look like personal names) -> dropped",
        "Sex (as sex): protected (the name says sex; unanswered) -> never a feature; fairness",
        "signup: time (date-time values) -> time",
        "notes: free text (600 distinct strings; too many for a category set) -> dropped",
    ]:
        assert line in out, out
    assert "Colour (as colour): feature (3 categories, missing ones kept as a category)" in out
    assert "protected review: 1 column(s) await your answer: Sex" in out
    schema = (fresh / OWNED[0]).read_text()
    assert 'TASK = "binary"' in schema and '"visits.count": "visits_count",' in schema
    assert "POSITIVE: Any = 1\n" in schema and '"sex": "unanswered",' in schema
    config = (fresh / "config/pilot.toml").read_text()
    assert 'e_mail = "hash"' in config and 'full_name = "drop"' in config
    assert 'slices = ["sex", "colour"]' in config and 'table = "accounts"' in config
    written = "".join((fresh / rel).read_text() for rel in OWNED)
    for row in rows[:50]:  # no real id, e-mail, name or free text reaches the repository
        for column in ("Account ID", "E-mail", "Full Name", "notes"):
            assert str(row[column]) not in written, column

    ingested = uv_run(fresh, "churn-pilot", "ingest").stdout
    assert (
        "ingested 600 rows" in ingested and "600 accepted, 0 unlabeled, 0 quarantined" in ingested
    )
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
    # The default pilot was generated with the SQL source only; it reads the adopted file
    # where it lies (every pilot has the files source): nothing is copied into SQLite.
    assert "source: file (.csv) -> ingest reads it" in out, out
    schema = (fresh / OWNED[0]).read_text()
    assert "KEY: str | None = None" in schema and "TIME: str | None = None" in schema
    assert "RENAMES: dict[str, str] = {}" in schema
    config = (fresh / "config/pilot.toml").read_text()
    assert "slices = []" in config and "table =" not in config
    assert '[data.sources]\n# The adopted source\nenabled = ["files"]' in config
    assert f'[data.sources.files]\n# The adopted file\npath = "{source}"' in config
    refused = uv_run(fresh, "churn-pilot", "data", "seed", check=False)
    assert refused.returncode == 1 and "seeding would overwrite it" in refused.stderr
    ingested = uv_run(fresh, "churn-pilot", "ingest").stdout
    assert (
        "ingested 400 rows" in ingested and "400 accepted, 0 unlabeled, 0 quarantined" in ingested
    )
    assert json.loads((fresh / "data/processed/lineage.json").read_text())["sources"][0][
        "path"
    ] == str(source)
    assert tables(fresh / "data/pilot.db") == set()  # the SQLite store holds no copy
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


# ---- issue 22: real tables as they come ---------------------------------------------------

LABEL_CASES = r"""
import json, sys
import numpy as np, pandas as pd
from churn_pilot.data import adopt as a

rng = np.random.default_rng(7)
n = 400
x = rng.normal(size=n)
def frame(label):
    return pd.DataFrame({"x": x, "colour": rng.choice(["red", "blue"], n), "y": label})
def pick(values, share):  # the first value in `share` of the rows, the second in the rest
    return np.where(np.arange(n) < int(n * share), values[0], values[1])
cases = {
    "yes/no, yes the majority": (frame(pick(["yes", "no"], 0.7)), {}),
    "Yes/No": (frame(pick(["No", "Yes"], 0.8)), {}),
    "Y/N": (frame(pick(["N", "Y"], 0.9)), {}),
    "booleans": (frame(pick([False, True], 0.6)), {}),
    "income words": (frame(pick(["<=50K", ">50K"], 0.76)), {}),
    "two ints": (frame(pick([2, 3], 0.3)), {}),
    "override": (frame(pick(["yes", "no"], 0.7)), {"positive": "no"}),
    "override, any case": (frame(pick(["yes", "no"], 0.7)), {"positive": "YES"}),
    "int classes": (frame(np.arange(n) % 3), {}),
    "text classes": (frame(np.array(["a", "b", "c", "d"])[np.arange(n) % 4]), {}),
    "0.0/1.0 with unlabeled": (frame(np.where(np.arange(n) % 10, np.arange(n) % 2, np.nan)), {}),
}
out = {}
for name, (f, extra) in cases.items():
    roles = a.Roles.parse("y", None, None, None, [], [], [], extra.get("positive"))
    adoption = a.infer_contract(f, roles)
    label = next(c for c in adoption.columns if c.role == "label")
    out[name] = {
        "task": adoption.task,
        "positive": adoption.positive,
        "classes": label.categories,
        "dtype": label.dtype,
        "unlabeled": adoption.unlabeled,
        "lines": [d.line() for d in adoption.decisions],
    }
json.dump(out, sys.stdout)
"""


def test_labels_as_they_come(pilot: Path) -> None:
    """Any two values are binary; the positive class is a yes-word, else the minority, else
    --positive; classes keep their values and types; missing labels are rows to score."""
    import json

    proc = uv_run(pilot, "python", "-c", LABEL_CASES)
    got = json.loads(proc.stdout)
    expected = {  # task, positive, classes (negative first for binary), contract dtype
        "yes/no, yes the majority": ("binary", "yes", ["no", "yes"], "str"),
        "Yes/No": ("binary", "Yes", ["No", "Yes"], "str"),
        "Y/N": ("binary", "Y", ["N", "Y"], "str"),
        "booleans": ("binary", "True", ["False", "True"], "str"),
        "income words": ("binary", ">50K", ["<=50K", ">50K"], "str"),
        "two ints": ("binary", 2, [3, 2], "int"),
        "override": ("binary", "no", ["yes", "no"], "str"),
        "override, any case": ("binary", "yes", ["no", "yes"], "str"),
        "int classes": ("multiclass", None, [0, 1, 2], "int"),
        "text classes": ("multiclass", None, ["a", "b", "c", "d"], "str"),
        "0.0/1.0 with unlabeled": ("binary", 1, [0, 1], "int"),
    }
    for case, (task, positive, classes, dtype) in expected.items():
        seen = got[case]
        assert (seen["task"], seen["positive"], seen["classes"], seen["dtype"]) == (
            task,
            positive,
            classes,
            dtype,
        ), case
    reasons = {case: next(x for x in got[case]["lines"] if "positive class" in x)
               for case in expected if expected[case][0] == "binary"}  # fmt: skip
    assert "('yes' means yes) -> POSITIVE = \"yes\"" in reasons["yes/no, yes the majority"]
    assert "(the minority class, 24.0% of labeled rows)" in reasons["income words"]
    assert "(the minority class, 30.0% of labeled rows)" in reasons["two ints"]
    assert "(given by --positive)" in reasons["override"]
    assert "('1' means yes) -> POSITIVE = 1;" in reasons["0.0/1.0 with unlabeled"]
    unlabeled = got["0.0/1.0 with unlabeled"]
    assert unlabeled["unlabeled"] == 40
    assert (
        "y: unlabeled rows (40 of 400 rows have no label) -> scored, not trained on: ingest"
        " keeps them apart as unlabeled" in unlabeled["lines"]
    )


def _as_it_comes(n: int = 300, seed: int = 5) -> str:
    """A semicolon CSV with a BOM, Excel-style: NA markers, `73.0` integers, text dates in
    MM/DD/YYYY, names that are not identifiers, proxies, a constant and an empty column."""
    rng = random.Random(seed)
    lines = ["Kundennr.;1st Score;Größe;afam;single;sex;opened;region;blank;Deny"]
    for i in range(n):
        score = rng.randint(300, 850)
        size = "NA" if i % 17 == 0 else ("N/A" if i % 19 == 0 else f"{rng.gauss(170, 9):.1f}")
        afam = rng.choice(["yes", "no"])
        single = "?" if i % 23 == 0 else rng.choice(["yes", "no"])
        sex = "" if i % 13 == 0 else rng.choice(["female", "male"])
        opened = f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/2024"
        deny = "" if i % 10 == 3 else ("yes" if score + rng.gauss(0, 80) < 520 else "no")
        lines.append(f"{i + 1};{score}.0;{size};{afam};{single};{sex};{opened};north;;{deny}")
    lines[5] = lines[5].replace("/28/", "/31/")  # a day above 12: month first, unambiguous
    return "\ufeff" + "\n".join(lines) + "\n"


def test_csv_as_it_comes_and_protected_review(fresh: Path, tmp_path: Path) -> None:
    source = tmp_path / "loans.csv"
    source.write_text(_as_it_comes(), encoding="utf-8")
    out = adopt(
        fresh, str(source), "--label", "Deny", "--not-protected", "single", "--protected",
        "sex", "--min-metric", "0.65",
    ).stdout  # fmt: skip
    for line in [
        "source: CSV (semicolon-separated, utf-8-sig; missing also as '?') -> recorded in"
        " [data.csv] for ingest/score",
        "Deny (as deny): positive class ('yes' means yes) -> POSITIVE = \"yes\";",
        "Deny (as deny): unlabeled rows (30 of 300 rows have no label) -> scored, not trained on",
        "Kundennr. (as kundennr): key (a row number (1 to 300, one per row); never a feature)",
        "1st Score (as c_1st_score): feature (int values) -> numeric feature",
        "Größe (as grosse): feature (float values, missing ones filled with the median)",
        "afam: protected (the name says race; unanswered) -> never a feature; fairness slices",
        "single: feature (2 categories, missing ones kept as a category; not protected, given"
        " by --not-protected) -> categorical feature",
        "sex: protected (given by --protected) -> never a feature; fairness slices",
        "opened: time (date-time values, written as MM/DD/YYYY) -> time",
        "region: dropped (one value in every row; nothing to learn) -> not in the contract",
        "blank: dropped (every value is missing) -> not in the contract",
        "protected review: 1 column(s) await your answer: afam",
        "quality target: min_metric 0.65 (given by --min-metric)",
    ]:
        assert line in out, f"{line!r} not in\n{out}"
    schema = (fresh / OWNED[0]).read_text()
    assert 'POSITIVE: Any = "yes"' in schema and "c_1st_score: Series[int]" in schema
    review = 'PROTECTED_REVIEW: dict[str, str] = {\n    "afam": "unanswered",\n    "single": '
    assert review + '"not protected",\n    "sex": "protected",\n}' in schema
    sex = schema[schema.index("    sex: Series[str]") :].split(")\n", 1)[0]
    assert "nullable=True" in sex  # a missing protected value is its own group, not a bad row
    config = (fresh / "config/pilot.toml").read_text()
    assert "[data.csv]\n" in config and 'delimiter = ";"\nencoding = "utf-8-sig"\n' in config
    assert '"?"]' in config and "[gate]\n" in config and "min_metric = 0.65\n" in config
    ingested = uv_run(fresh, "churn-pilot", "ingest").stdout
    assert "270 accepted, 30 unlabeled, 0 quarantined" in ingested, ingested
    # The fixture generator draws every row from the profile: labeled, inside the contract.
    uv_run(fresh, "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests/test_schema.py")


def test_local_text_dates_are_read_in_their_own_order(fresh: Path, tmp_path: Path) -> None:
    """DD.MM.YYYY: the files source reads the dates with the form adopt found, never with a
    month-first guess (which would quarantine every day above 12)."""
    rng = random.Random(4)
    rows = [
        {"opened": f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.2024", "x": rng.random()}
        for _ in range(300)
    ]
    rows = [r | {"y": int(float(str(r["x"])) + rng.random() > 1)} for r in rows]
    source = write_csv(tmp_path / "opened.csv", rows)
    out = adopt(fresh, str(source), "--label", "y").stdout
    assert "opened: time (date-time values, written as DD.MM.YYYY) -> time" in out
    contract = (fresh / "src/churn_pilot/data/schema.py").read_text()
    assert '"role": "time", "format": "%d.%m.%Y"' in contract
    assert "date_formats" not in (fresh / "config/pilot.toml").read_text()  # one record
    ingested = uv_run(fresh, "churn-pilot", "ingest").stdout
    assert "300 accepted, 0 unlabeled, 0 quarantined" in ingested, ingested


def test_without_a_quality_target_none_is_written(fresh: Path, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "m.csv", numeric_rows())
    out = adopt(fresh, str(source), "--label", "y").stdout
    assert "quality target: not declared (no --min-metric)" in out
    config = (fresh / "config/pilot.toml").read_text()
    assert "min_metric" not in config and "[data.csv]" in config


def _refusals(tmp: Path) -> dict[str, tuple[list[str], str]]:
    good = numeric_rows(200)
    three = [r | {"y": i % 3} for i, r in enumerate(good)]
    sparse = [r | {"y": "" if i % 4 else r["y"]} for i, r in enumerate(good)]
    words = [r | {"y": "yes" if r["y"] else "no"} for r in good]
    return {
        "binary with three values": (
            [str(write_csv(tmp / "a.csv", three)), "--label", "y", "--task", "binary"],
            "error: label 'y': --task binary needs two values; it has 3 (0, 1, 2)"),
        "unknown positive": (
            [str(write_csv(tmp / "b.csv", words)), "--label", "y", "--positive", "maybe"],
            "error: --positive maybe: not a value of label 'y' (no, yes)"),
        "positive on multiclass": (
            [str(write_csv(tmp / "c.csv", three)), "--label", "y", "--positive", "1"],
            "error: --positive 1: label 'y' is multiclass, not binary"),
        "too few labeled rows": (
            [str(write_csv(tmp / "d.csv", sparse)), "--label", "y"],
            "error: label 'y': 50 rows have a label; adopt needs at least 100"),
        "min-metric out of range": (
            [str(write_csv(tmp / "e.csv", good)), "--label", "y", "--min-metric", "70"],
            "error: --min-metric 70.0: the quality target is the task's gate metric, between 0"
            " and 1"),
        "protected and not protected": (
            [str(write_csv(tmp / "f.csv", good)), "--label", "y", "--protected", "x1",
             "--not-protected", "x1"],
            "error: --protected x1: also given as --not-protected; choose one"),
        "multiclass with two values": (
            [str(write_csv(tmp / "h.csv", words)), "--label", "y", "--task", "multiclass"],
            "error: label 'y': two values are a binary label; use --task binary (--positive"
            " VALUE picks the positive class)"),
        "unknown not-protected": (
            [str(write_csv(tmp / "g.csv", good)), "--label", "y", "--not-protected", "afam"],
            "error: --not-protected afam: no such column (columns: x1, x2, x3, y)"),
    }  # fmt: skip


@pytest.mark.parametrize(
    "case",
    ["binary with three values", "unknown positive", "positive on multiclass",
     "too few labeled rows", "min-metric out of range", "protected and not protected",
     "unknown not-protected", "multiclass with two values"],
)  # fmt: skip
def test_real_table_refusals_are_one_line_and_write_nothing(
    fresh: Path, tmp_path: Path, case: str
) -> None:
    args, message = _refusals(tmp_path)[case]
    before = digest(fresh)
    proc = adopt(fresh, *args, check=False)
    assert proc.returncode == 1, proc.stdout
    assert proc.stderr.strip() == message
    assert proc.stdout == ""
    assert digest(fresh) == before


DIALECTS = r"""
import json, sys, tempfile
from pathlib import Path
from churn_pilot.data import adopt as a

tmp = Path(tempfile.mkdtemp())
rows = ["name,age,flag,note", 'a b,3,TRUE,"x,y"', "c,N/A,,z", "d,#N/A,FALSE,w"]
out = {}
for label, sep in {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}.items():
    path = tmp / f"{label}.csv"
    text = "\n".join(r.replace(",", sep) if sep != "," else r for r in rows) + "\n"
    if sep != ",":
        text = text.replace('"x' + sep + 'y"', "xy")
    path.write_text(text)
    frame, fmt = a.read_table(str(path))
    out[label] = [fmt.delimiter, fmt.encoding, list(fmt.na_values), frame["age"].isna().sum(),
                  frame["flag"].dropna().tolist(), list(frame.columns)]
path = tmp / "excel.csv"
path.write_bytes("\ufeffname;größe\nä;1\nö;2\n".encode("utf-8"))
out["bom"] = [a.sniff_csv(path).encoding, list(a.read_table(str(path))[0].columns)]
path.write_bytes("name;größe\nä;1\nö;2\n".encode("cp1252"))
out["cp1252"] = [a.sniff_csv(path).encoding, a.read_table(str(path))[0]["name"].tolist()]
path.write_text("age, workclass, income\n39, State-gov, <=50K\n50, ?, >50K\n")
frame, fmt = a.read_table(str(path))
out["spaced marker"] = [fmt.na_values[-1], int(frame[" workclass"].isna().sum())]
json.dump(out, sys.stdout, default=int)
"""


def test_csv_dialects_are_sniffed(pilot: Path) -> None:
    """Delimiters, a BOM, a legacy encoding and missing markers as real exports write them;
    booleans keep their text (what ingest and score read from the same file)."""
    import json

    got = json.loads(uv_run(pilot, "python", "-c", DIALECTS).stdout)
    for dialect, sep in {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}.items():
        delimiter, encoding, markers, missing_ages, flags, columns = got[dialect]
        assert (delimiter, encoding, columns) == (sep, "utf-8", ["name", "age", "flag", "note"])
        assert markers[-1] == "#N/A" and missing_ages == 2 and flags == ["TRUE", "FALSE"]
    assert got["bom"] == ["utf-8-sig", ["name", "größe"]]
    assert got["cp1252"] == ["cp1252", ["ä", "ö"]]
    assert got["spaced marker"] == [" ?", 1]


# ---- issue 23: a table many times the inference sample -----------------------------------

BIG = r"""
import sys
import numpy as np, pandas as pd
from churn_pilot.data.adopt import INFER_ROWS

out = sys.argv[1]
n = 3 * INFER_ROWS + 17  # several times the seeded sample: most rows are never sampled
rng = np.random.default_rng(11)
x = rng.normal(50, 10, n).round(2)
x[n - 5] = 999.5  # one extreme row: the contract's range must hold it
colour = rng.choice(["red", "green", "blue"], n).astype(object)
colour[n - 3] = "violet"  # a category seen once
colour[7] = None
y = (x + rng.normal(0, 10, n) > 50).astype(float)
y[[5, n // 2, n - 1]] = np.nan  # three unlabeled rows
frame = pd.DataFrame({"order_id": [f"O{i:07d}" for i in range(n)], "x": x,
                      "colour": colour, "y": y})
frame.to_parquet(f"{out}/big.parquet", index=False)
frame.to_csv(f"{out}/big.csv", index=False)
frame.loc[n - 2, "order_id"] = "O0000001"  # one repeated key, far from the start
frame.to_parquet(f"{out}/dupes.parquet", index=False)
print(n)
"""


@pytest.fixture(scope="module")
def big_tables(pilot: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    where = tmp_path_factory.mktemp("big")
    rows = int(uv_run(pilot, "python", "-c", BIG, str(where)).stdout.strip())
    return where, rows


@pytest.mark.parametrize("name", ["big.parquet", "big.csv"])
def test_a_big_file_is_counted_whole_and_read_where_it_lies(
    fresh: Path, big_tables: tuple[Path, int], name: str
) -> None:
    """Types and roles come from a seeded sample; counts, the range, the category set and the
    key's uniqueness from a streamed pass over every row, with progress on stderr."""
    where, rows = big_tables
    proc = adopt(fresh, str(where / name), "--label", "y")
    out = proc.stdout
    assert f"adopted {rows} rows, task binary" in out, out
    assert f"y: unlabeled rows (3 of {rows} rows have no label)" in out
    assert "order_id: key (an id-like name with a unique value per row) -> key" in out
    assert "colour: feature (4 categories, missing ones kept as a category)" in out
    schema = (fresh / OWNED[0]).read_text()
    assert '    "violet",\n' in schema
    x_field = schema[schema.index("    x: Series[float]") :].split(")\n", 1)[0]
    assert float(x_field.split("le=")[1].split(",")[0]) >= 999.5, x_field
    steps = next(line for line in out.splitlines() if line.startswith("steps: "))
    assert "decide" in steps and "write" in steps
    progress = [line for line in proc.stderr.splitlines() if line.startswith("adopt: ")]
    assert progress and all("rows/s" in line for line in progress), proc.stderr
    assert any("ETA" in line for line in progress) and progress[-1].count(f"{rows:,} rows")
    config = (fresh / "config/pilot.toml").read_text()
    assert 'enabled = ["files"]' in config and f'path = "{where / name}"' in config
    assert tables(fresh / "data/pilot.db") == set()


def test_a_repeated_key_beyond_the_sample_is_found(
    fresh: Path, big_tables: tuple[Path, int]
) -> None:
    where, _ = big_tables
    before = digest(fresh)
    proc = adopt(fresh, str(where / "dupes.parquet"), "--label", "y", "--key", "order_id",
                 check=False)  # fmt: skip
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: key 'order_id': not unique (1 duplicate values)"
    )
    assert "Traceback" not in proc.stderr and digest(fresh) == before
    out = adopt(fresh, str(where / "dupes.parquet"), "--label", "y").stdout
    assert "order_id: key" not in out  # not guessed as the key either


def test_a_broken_big_file_is_one_line(fresh: Path, big_tables: tuple[Path, int]) -> None:
    where, _ = big_tables
    cut = where / "cut.parquet"
    data = (where / "big.parquet").read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    before = digest(fresh)
    proc = adopt(fresh, str(cut), "--label", "y", check=False)
    assert proc.returncode == 1 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith(f"error: source {cut}: not readable (")
    assert digest(fresh) == before
