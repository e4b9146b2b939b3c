"""The repository keeps its promises: docs in sync, README commands are what CI runs."""

from __future__ import annotations

import re
import subprocess
import sys

from .conftest import ROOT


def readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", readme)


def test_ci_runs_the_readme_test_command() -> None:
    generate_cmd, test_cmd = readme_commands()[:2]
    assert "copier copy" in generate_cmd and "--defaults" in generate_cmd
    assert "pytest" in test_cmd
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_cmd in ci, ".ci/run must call the README's test command verbatim"


def test_questions_doc_is_generated_from_copier_yml() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_questions_doc.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout


def test_no_lock_or_index_host_committed() -> None:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [f for f in files if f.endswith("uv.lock")]
    for name in [f for f in files if re.search(r"requirements[^/]*\.txt$", f)]:
        text = (ROOT / name).read_text()
        assert not re.search(r"^\s*-{1,2}(extra-)?index-url|^\s*--find-links", text, re.M), name


def test_repository_code_is_lint_clean() -> None:
    for args in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout[-3000:]
