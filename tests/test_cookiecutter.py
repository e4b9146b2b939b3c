"""Cookiecutter users: same questions, one template, the same tree as Copier, then `copier update`.

pytest-cookies bakes this repository with cookiecutter; hooks/post_gen_project.py hands the
answers to Copier, which renders template/. Both tools must produce the same files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from cookiecutter.main import cookiecutter

from .conftest import ROOT, render
from .test_update import OUR_MODEL_CODE, append, copy_checkout, git, tree

sys.path.insert(0, str(ROOT / "scripts"))
import sync_cookiecutter

pytestmark = pytest.mark.generated

ENTRY_DIR = ROOT / "{{cookiecutter.project_slug}}"
VOLATILE = {"verify.log"}  # timings of the copy-time lock
ANSWER_SETS: list[dict[str, Any]] = [
    {"verify": False},
    {
        "verify": False,
        "project_name": "Fraud Scoring",
        "data_sources": ["sql", "http"],
        "ci_provider": "gitlab",
        "regulated_domain": "finance",
        "python_version": "3.12",
        "latency_sla_ms": 250,
        "peak_rps": 0.5,
    },
]


def as_cookiecutter(answers: dict[str, Any]) -> dict[str, Any]:
    """The same answers as a cookiecutter user types them (a multiselect comma-separated)."""
    return {k: ",".join(v) if isinstance(v, list) else v for k, v in answers.items()}


def comparable(root: Path) -> dict[str, str]:
    files = {k: v for k, v in tree(root).items() if k not in VOLATILE}
    answers = files.pop(".copier-answers.yml")
    files["answers"] = "\n".join(
        ln for ln in answers.splitlines() if not ln.startswith(("_src_path:", "_commit:"))
    )
    return files


def test_cookiecutter_json_is_in_sync_with_copier_yml() -> None:
    expected = sync_cookiecutter.render()
    assert (ROOT / "cookiecutter.json").read_text() == expected, (
        "cookiecutter.json is out of date: run python scripts/sync_cookiecutter.py"
    )
    context = json.loads(expected)
    config = yaml.safe_load((ROOT / "copier.yml").read_text())
    questions = [
        k
        for k, v in config.items()
        if not k.startswith("_") and isinstance(v, dict) and v.get("when", True) is not False
    ]
    assert [k for k in context if not k.startswith("_")] == questions
    assert context["data_sources"] == "sql"  # multiselect: comma-separated string


def test_cookiecutter_entry_point_holds_no_template_copy() -> None:
    """The one template is template/: cookiecutter's directory only has the answers stub."""
    files = [p.relative_to(ENTRY_DIR) for p in ENTRY_DIR.rglob("*") if p.is_file()]
    assert [str(f) for f in files] == [".copier-answers.yml"]
    assert yaml.safe_load((ENTRY_DIR / ".copier-answers.yml").read_text()) == {}


@pytest.mark.parametrize("answers", ANSWER_SETS, ids=["defaults", "varied"])
def test_cookiecutter_and_copier_produce_the_same_pilot(
    cookies: Any, tmp_path: Path, answers: dict[str, Any]
) -> None:
    result = cookies.bake(extra_context=as_cookiecutter(answers), template=str(ROOT))
    assert result.exception is None and result.exit_code == 0, result.exception
    baked = Path(result.project_path)
    copied = render(tmp_path / baked.name, tasks=True, **answers)
    assert comparable(baked) == comparable(copied)
    assert (baked / ".git").is_dir()  # the same copy-time tasks ran (uv.lock compared above)
    recorded = yaml.safe_load((baked / ".copier-answers.yml").read_text())
    assert Path(recorded["_src_path"]) == ROOT and recorded["_commit"]
    for key, value in answers.items():
        assert recorded[key] == value


def test_cookiecutter_pilot_from_a_git_url_switches_to_copier_update(tmp_path: Path) -> None:
    """Baked from a git URL, the pilot records that URL, and `copier update` works from it."""
    template = tmp_path / "shipshape"  # this checkout, committed (the answers name a commit)
    template.mkdir()
    copy_checkout(template)
    git(template, "init", "-q")
    git(template, "add", "-A")
    git(template, "commit", "-qm", "release")
    url = f"git+file://{template}"
    project = Path(
        cookiecutter(
            url,
            no_input=True,
            extra_context={"verify": False},
            output_dir=str(tmp_path / "out"),
            default_config={
                "cookiecutters_dir": str(tmp_path / "cc"),
                "replay_dir": str(tmp_path / "replay"),
            },
        )
    )
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_src_path"] == url
    train = project / "src" / "churn_pilot" / "model" / "train.py"
    append(train, OUR_MODEL_CODE)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "generated with cookiecutter, then edited")
    copier.run_update(
        project,
        defaults=True,
        overwrite=True,
        unsafe=True,
        quiet=True,
        skip_tasks=True,
        vcs_ref="HEAD",
    )
    assert git(project, "status", "--porcelain") == ""  # same release: nothing to change
    assert train.read_text().endswith(OUR_MODEL_CODE)


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"project_slug": "my pilot"}, "error: Validation error for question 'project_slug'"),
        ({"latency_sla_ms": "fast"}, "error: latency_sla_ms: 'fast' is not a number"),
        ({"data_sources": "sql,ftp"}, "error: Invalid choice for 'data_sources'"),
    ],
)
def test_cookiecutter_rejects_bad_answers_in_one_line(
    cookies: Any, capfd: pytest.CaptureFixture[str], answers: dict[str, Any], message: str
) -> None:
    result = cookies.bake(extra_context={"verify": False, **answers}, template=str(ROOT))
    assert result.exit_code != 0
    errors = [ln for ln in capfd.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(message), errors
    assert type(result.exception).__name__ == "FailedHookException"  # the project is removed
