"""The data layer (issue 3): each source choice renders only its own modules, and a pilot with
every source generates, passes `data check` against PostgreSQL and the vendor stand-in, and
accounts for every row of a bad input."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import IN_CI, UV, generate, render, uv_run

SOURCE_FILES = {
    "sql": ["src/{pkg}/data/sources/sql.py", "tests/test_source_sql.py"],
    "files": ["src/{pkg}/data/sources/files.py", "tests/test_source_files.py"],
    "http": [
        "src/{pkg}/data/sources/http.py",
        "src/{pkg}/data/vendor_api.py",
        "tests/test_source_http.py",
    ],
}
CHOICES = [
    ["sql"],
    ["files"],
    ["http"],
    ["sql", "files"],
    ["files", "http"],
    ["sql", "files", "http"],
]


def postgres_available() -> None:
    found = shutil.which("initdb") or list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return
    message = "PostgreSQL server binaries not found (.ci/setup.d/10-postgresql.sh installs them)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.mark.parametrize("sources", CHOICES, ids="+".join)
def test_only_chosen_sources_are_generated(tmp_path: Path, sources: list[str]) -> None:
    project = render(tmp_path / "p", project_name="Data Pilot", data_sources=sources)
    # Every pilot can read a file (`data adopt FILE` points ingest at it): the files source is
    # always generated; the choice says which sources are enabled and seeded by default.
    generated = [*sources, "files"]
    for kind, files in SOURCE_FILES.items():
        for rel in files:
            assert (project / rel.format(pkg="data_pilot")).exists() == (kind in generated), rel
    settings = (project / "src/data_pilot/settings.py").read_text()
    names = [*sources, *(["files"] if "files" not in sources else [])]
    assert f"SourceName = Literal[{', '.join(json.dumps(s) for s in names)}]" in settings
    enabled = f"default=[{', '.join(json.dumps(s) for s in sources)}]"
    assert f"enabled: list[SourceName] = Field({enabled}" in settings
    cli = (project / "src/data_pilot/cli.py").read_text()
    assert ('"vendor-api"' in cli) == ("http" in sources)
    for kind in SOURCE_FILES:
        # a module of an ungenerated source is never imported
        text = (project / "src/data_pilot/data/sources/__init__.py").read_text()
        assert (f"from .{kind} import" in text) == (kind in generated)


@pytest.mark.generated
@pytest.mark.parametrize("sources", [["files"], ["http"]], ids="+".join)
def test_single_source_pilot_passes_its_checks(tmp_path: Path, sources: list[str]) -> None:
    project = render(tmp_path / "p", data_sources=sources)
    subprocess.run([UV, "lock", "-q"], cwd=project, check=True, timeout=300)
    uv_run(project, "ruff", "check", ".")
    uv_run(project, "ruff", "format", "--check", ".")
    uv_run(project, "mypy")
    out = uv_run(project, "pytest", "-q", "-x", "-p", "no:cacheprovider").stdout
    assert " passed" in out and " failed" not in out
    uv_run(project, "churn-pilot", "data", "seed", "--rows", "600")
    report = uv_run(project, "churn-pilot", "data", "check").stdout
    assert report.strip().endswith("all 1 sources ok"), report


@pytest.fixture(scope="module")
def all_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pilot with every source, generated and verified by its hook (seed, data check, train)."""
    postgres_available()
    return generate(
        tmp_path_factory.mktemp("all") / "churn-pilot", data_sources=["sql", "files", "http"]
    )


@pytest.mark.generated
def test_all_sources_pilot_runs_its_tests_with_postgresql(all_sources: Path) -> None:
    log = (all_sources / "verify.log").read_text()
    assert "all 3 sources ok" in log  # the hook ran `data check` after seeding
    out = uv_run(
        all_sources, "pytest", "-q", "-p", "no:cacheprovider", "-rs", env={"CI": "true"}
    ).stdout
    assert " failed" not in out and " skipped" not in out, out[-3000:]
    assert re.search(r"\d+ passed", out)


@pytest.mark.generated
def test_all_sources_data_check_report(all_sources: Path) -> None:
    report = uv_run(all_sources, "churn-pilot", "data", "check").stdout
    print(report)  # the integration proof, visible with -s
    lines = report.splitlines()
    for kind in ("sql", "files", "http"):
        [row] = [ln for ln in lines if ln.startswith(kind + " ")]
        assert row.split()[1:3] == ["yes", "ok"] and row.endswith("ok"), row
    assert lines[-1] == "all 3 sources ok"


@pytest.mark.generated
def test_all_sources_quarantine_accounting_and_one_line_errors(all_sources: Path) -> None:
    csv = all_sources / "data" / "files" / "customers.csv"
    original = csv.read_text()
    rows = original.splitlines()
    try:
        rows[1] = rows[1].replace(",basic,", ",gold,").replace(",standard,", ",gold,")
        rows[1] = rows[1].replace(",premium,", ",gold,")
        rows[2] = rows[2].split(",", 2)[0] + ",x@example.com,7," + rows[2].split(",", 3)[3]
        csv.write_text("\n".join(rows) + "\n")
        out = uv_run(all_sources, "churn-pilot", "ingest").stdout
        pattern = r"ingested (\d+) rows .*: (\d+) accepted, (\d+) unlabeled, (\d+) quarantined"
        m = re.search(pattern, out)
        assert m, out
        read, accepted, unlabeled, quarantined = map(int, m.groups())
        assert quarantined == 2 and unlabeled == 0 and read == accepted + unlabeled + quarantined
        lineage = json.loads((all_sources / "data/processed/lineage.json").read_text())
        assert lineage["rows_quarantined"] == 2
        assert "x@example.com" not in Path(lineage["quarantine"]).read_text()

        proc = uv_run(
            all_sources,
            "churn-pilot",
            "ingest",
            check=False,
            env={"APP_DATA__SOURCES__FILES__PATH": "data/files/customers.xlsx"},
        )
        assert proc.returncode == 1
        # progress lines of the sources read before it come first; the error is one line
        assert "Traceback" not in proc.stderr
        line = proc.stderr.strip().splitlines()[-1]
        assert line.startswith("error: source file ") and "unsupported file type" in line

        proc = uv_run(
            all_sources,
            "churn-pilot",
            "data",
            "check",
            check=False,
            env={"APP_DATA__URL": "postgresql+psycopg2://pilot:secret@127.0.0.1:9/x"},
        )
        assert proc.returncode == 1
        assert "sql" in proc.stdout and "unreachable" in proc.stdout
        assert "secret" not in proc.stdout
    finally:
        csv.write_text(original)
