"""Each migration of the team's own files (hooks/migrations.py), on the files older releases
generated (tests/migrations/): it applies, it is a no-op on a second run, and it refuses a
file edited beyond recognition in one line, changing nothing. Pure file tests: no pilot."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "hooks"))
import migrations as m  # hooks/ is a directory of scripts, not a package

OLD = ROOT / "tests" / "migrations"
# The contracts releases generated: 0.1.0's, main's at the data-adopt landing (908cc89, TASK
# written twice), and 0.2.0's (bfb534a).
SCHEMAS = ["schema-0.1.0.py.txt", "schema-main-908cc89.py.txt", "schema-0.2.0.py.txt"]
RAILS_READ = ("SCHEMA_VERSION", "PilotSchema", "TASK", "RENAMES", "POSITIVE", "PROTECTED_REVIEW")


def names(text: str) -> dict[str, object]:
    """Top-level literal constants and defined names of a module."""
    out: dict[str, object] = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.ClassDef):
            out[node.name] = "class"
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name) and target.id not in out:
                try:
                    out[target.id] = ast.literal_eval(node.value)  # type: ignore[arg-type]
                except ValueError:
                    out[target.id] = "expression"
    return out


def assert_one_line_refusal(exc: pytest.ExceptionInfo[m.Refused], path: str) -> None:
    message = str(exc.value)
    assert "\n" not in message and message.startswith(path)
    assert "by hand" in message  # the manual step


@pytest.mark.parametrize("fixture", SCHEMAS)
def test_schema_migration_applies_to_the_old_contract(fixture: str) -> None:
    old = (OLD / fixture).read_text()
    result = m.migrate_schema(old, "src/churn_pilot/data/schema.py")
    found = names(result.text)
    assert all(name in found for name in RAILS_READ)
    assert found["SCHEMA_VERSION"] == "2"
    assert found["TASK"] == "binary"  # what the old rails did
    assert found["POSITIVE"] == 1  # the label value the old rails counted as positive
    assert found["PROTECTED_REVIEW"] == {"gender": "protected"}  # the owner marked it
    assert "CustomerSchema" not in result.text
    assert all(line.startswith("schema.py: ") for line in result.changes)
    assert any("POSITIVE = 1" in line for line in result.changes)
    # only what it must: every line of the old file that names none of the changed pieces stays
    kept = [ln for ln in old.splitlines() if not any(w in ln for w in ("CustomerSchema", "KEY =",
            "TIME =", "SCHEMA_VERSION", "from typing", "TASK = "))]  # fmt: skip
    new_lines = result.text.splitlines()
    assert all(ln in new_lines for ln in kept)
    compile(result.text, fixture, "exec")


@pytest.mark.parametrize("fixture", SCHEMAS)
def test_schema_migration_is_a_no_op_the_second_time(fixture: str) -> None:
    once = m.migrate_schema((OLD / fixture).read_text()).text
    again = m.migrate_schema(once)
    assert again.text == once and again.changes == []


def test_schema_migration_keeps_a_non_binary_task_and_the_owners_answers() -> None:
    old = (OLD / "schema-0.2.0.py.txt").read_text().replace('= "binary"', '= "multiclass"')
    old = old.replace('SCHEMA_VERSION = "1"', 'SCHEMA_VERSION = "1"\nPOSITIVE = "yes"')
    result = m.migrate_schema(old)
    found = names(result.text)
    assert found["TASK"] == "multiclass" and found["POSITIVE"] == "yes"  # the owner's, kept
    assert not any("POSITIVE" in line for line in result.changes)


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (lambda t: t.replace("class PilotSchema", "class Contract"), "neither PilotSchema"),
        (lambda t: t.replace("DataFrameModel):", "DataFrameModel)"), "not parse"),
        (lambda t: t.replace('SCHEMA_VERSION = "1"', "SCHEMA_VERSION = read_version()"), "literal"),
        (lambda t: t.replace('SCHEMA_VERSION = "1"', 'SCHEMA_VERSION = "7"'), "not one"),
        (lambda t: t.replace('metadata={"role": "protected"}', "metadata=ROLES"), "literal"),
    ],
    ids=["no-contract-class", "syntax", "computed-version", "unknown-version", "computed-roles"],
)
def test_schema_migration_refuses_a_file_beyond_recognition(edit: object, why: str) -> None:
    text = edit((OLD / "schema-0.2.0.py.txt").read_text())  # type: ignore[operator]
    assert text != (OLD / "schema-0.2.0.py.txt").read_text()
    with pytest.raises(m.Refused) as refused:
        m.migrate_schema(text, "src/churn_pilot/data/schema.py")
    assert why in str(refused.value)
    assert_one_line_refusal(refused, "src/churn_pilot/data/schema.py")


def test_pilot_toml_migration_declares_the_floor_it_ran_with() -> None:
    old = (OLD / "pilot-0.2.0.toml").read_text()
    result = m.migrate_pilot_toml(old)
    assert tomllib.loads(result.text)["gate"]["min_metric"] == 0.7
    assert tomllib.loads(result.text)["gate"]["slices"] == ["plan", "region", "gender"]
    assert "before 0.3.0" in result.text  # the comment says why the number is there
    assert result.changes == ["pilot.toml: added [gate] min_metric = 0.7 (the floor before 0.3.0)"]
    assert set(old.splitlines()) <= set(result.text.splitlines())
    again = m.migrate_pilot_toml(result.text)
    assert again.text == result.text and again.changes == []


def test_pilot_toml_migration_keeps_a_declared_target_and_adds_a_missing_table() -> None:
    declared = "[gate]\nmin_metric = 0.55\n"
    assert m.migrate_pilot_toml(declared).text == declared
    no_gate = '[data]\ntable = "loans"\n'
    result = m.migrate_pilot_toml(no_gate)
    assert tomllib.loads(result.text) == {"data": {"table": "loans"}, "gate": {"min_metric": 0.7}}


@pytest.mark.parametrize(
    "text",
    ['[gate\nslices = ["a"]\n', 'gate = { slices = ["a"] }\n'],
    ids=["broken-toml", "inline-table"],
)
def test_pilot_toml_migration_refuses_what_it_cannot_edit_safely(text: str) -> None:
    with pytest.raises(m.Refused) as refused:
        m.migrate_pilot_toml(text, "config/pilot.toml")
    assert_one_line_refusal(refused, "config/pilot.toml")


def test_moved_keys_migration_moves_0_1_0s_regularisation_to_the_linear_family() -> None:
    # 0.1.0's config/dev.toml with the team's value, merged with the release's family tables
    old = (
        "# Development\ndebug = true\n\n[model]\nc = 0.5\ntest_size = 0.3\n\n"
        "[model.linear]\nc = 1.0\n\n[model.gradient_boosting]\nn_estimators = 200\n"
    )
    result = m.migrate_moved_keys(old, "config/dev.toml")
    data = tomllib.loads(result.text)
    assert data["model"]["linear"]["c"] == 0.5  # the strength the pilot trained with
    assert "c" not in {k for k, v in data["model"].items() if not isinstance(v, dict)}
    assert data["model"]["test_size"] == 0.3 and data["debug"] is True
    assert result.changes == [
        "dev.toml: [model] c moved to [model.linear] c = 0.5 (read there since 0.2.0)"
    ]
    again = m.migrate_moved_keys(result.text, "config/dev.toml")
    assert again.text == result.text and again.changes == []
    # no [model.linear] yet (a file the release left alone): the table is added
    alone = m.migrate_moved_keys("[model]\nc = 2.0\n", "config/prod.toml")
    assert tomllib.loads(alone.text) == {"model": {"linear": {"c": 2.0}}}
    # the key of another table is not moved; an unreadable file is refused, unchanged
    other = "[serving]\nc = 1\n"
    assert m.migrate_moved_keys(other, "config/dev.toml").text == other
    with pytest.raises(m.Refused) as refused:
        m.migrate_moved_keys("[model\nc = 1\n", "config/dev.toml")
    assert_one_line_refusal(refused, "config/dev.toml")


def test_governance_blocks_migration_adds_the_release_blocks_only() -> None:
    ours = (OLD / "risk-assessment-0.2.0.md").read_text() + "\nSigned off by the board.\n"
    new_block = "## Protected attributes\n\nThe owner's answers.\n\n" + (
        "<!-- BEGIN GENERATED: protected-review -->\n_not yet_\n"
        "<!-- END GENERATED: protected-review -->\n"
    )
    release = (
        (OLD / "risk-assessment-0.2.0.md")
        .read_text()
        .replace(
            "<!-- END GENERATED: thresholds -->\n",
            "<!-- END GENERATED: thresholds -->\n\n" + new_block,
        )
    )
    result = m.migrate_blocks(ours, release, "governance/risk-assessment.md")
    assert result.changes == [
        "risk-assessment.md: added the generated block 'protected-review' (filled by the pilot)"
    ]
    text = result.text
    assert text.index("END GENERATED: thresholds") < text.index("BEGIN GENERATED: protected-")
    assert text.index("protected-review -->") < text.index("BEGIN GENERATED: live-quality")
    assert "The owner's answers." in text and text.endswith("Signed off by the board.\n")
    assert set(ours.splitlines()) <= set(text.splitlines())
    again = m.migrate_blocks(text, release, "governance/risk-assessment.md")
    assert again.text == text and again.changes == []
    broken = ours.replace("<!-- END GENERATED: alerts -->\n", "")
    with pytest.raises(m.Refused) as refused:
        m.migrate_blocks(broken, release, "governance/risk-assessment.md")
    assert_one_line_refusal(refused, "governance/risk-assessment.md")


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", *args], cwd=cwd, check=True,
        capture_output=True,
    )  # fmt: skip


def test_migrate_contract_command_on_a_project(tmp_path: Path) -> None:
    """`hooks/migrate.py contract` as `copier update` runs it: one line per change, a refusal
    that leaves its file alone while the others migrate, nothing on a second run."""
    schema = tmp_path / "src" / "churn_pilot" / "data" / "schema.py"
    schema.parent.mkdir(parents=True)
    schema.write_text((OLD / "schema-0.1.0.py.txt").read_text())
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "pilot.toml").write_text("[gate\n")  # beyond recognition
    (tmp_path / ".copier-answers.yml").write_text("package_name: churn_pilot\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "ours")
    cmd = [sys.executable, str(ROOT / "hooks" / "migrate.py"), "contract"]
    first = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    lines = first.splitlines()
    assert "migrate: schema.py: added TASK = 'binary' (the behaviour before 0.2.0)" in lines
    assert "migrate: schema.py: added POSITIVE = 1 (what the rails assumed before 0.3.0)" in lines
    refusals = [ln for ln in lines if ln.startswith("migrate: config/pilot.toml: not migrated")]
    assert len(refusals) == 1
    assert (tmp_path / "config" / "pilot.toml").read_text() == "[gate\n"
    assert names(schema.read_text())["SCHEMA_VERSION"] == "2"
    second = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert not [ln for ln in second.splitlines() if "schema.py" in ln]


def relock(project: Path, path: str = "") -> str:
    env = {"PATH": path or "/usr/bin:/bin", "HOME": str(project)}
    cmd = [sys.executable, str(ROOT / "hooks" / "migrate.py"), "relock"]
    proc = subprocess.run(cmd, cwd=project, capture_output=True, text=True, check=True, env=env)
    return proc.stdout


def test_relock_only_when_pyproject_changed_and_says_what_is_left(tmp_path: Path) -> None:
    """No network here: the lock itself is exercised by the update tier (tests/test_update.py)."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    (tmp_path / "uv.lock").write_text("# ours\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "ours")
    assert relock(tmp_path) == ""  # unchanged: nothing to do, nothing said
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\n<<<<<<< before updating\nversion = "0"\n=======\n'
        'version = "1"\n>>>>>>> after updating\n'
    )
    out = relock(tmp_path)
    assert out.count("\n") == 1 and "conflict markers" in out and "uv lock" in out
    assert (tmp_path / "uv.lock").read_text() == "# ours\n"
