"""Cookiecutter post-generation hook: generate the pilot with Copier from the same template.

`cookiecutter <shipshape>` asks the questions of cookiecutter.json (written from copier.yml by
scripts/sync_cookiecutter.py), then this hook hands the answers to Copier's public API, which
validates them with copier.yml's validators and renders template/ (the one source of truth)
into the new directory, running the same post-generation verification. The result carries a
Copier answers file, so the pilot can move to `copier update` later (docs/updating.md).

Cookiecutter renders this file with Jinja before running it: only the line defining CONTEXT
uses that.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

# JSON never holds three unescaped quotes in a row, so a raw triple-quoted string is safe.
CONTEXT: dict[str, Any] = json.loads(r"""{{ cookiecutter | jsonify }}""")
ANSWERS_FILE = ".copier-answers.yml"
REMOTE = re.compile(r"^([a-z][a-z0-9+.-]*://|git@|gh:|gl:)")


class HookError(Exception):
    pass


def template_dir() -> Path:
    """The template checkout cookiecutter used (a relative path is relative to where it ran)."""
    repo = Path(CONTEXT["_repo_dir"])
    candidates = (
        [repo]
        if repo.is_absolute()
        else [
            Path(os.environ.get("PWD", "")) / repo,
            Path(f"/proc/{os.getppid()}/cwd").resolve() if os.path.isdir("/proc") else repo,
        ]
    )
    for candidate in candidates:
        if (candidate / "copier.yml").is_file():
            return candidate.resolve()
    raise HookError(f"template directory {repo} not found: run cookiecutter with an absolute path")


def answers(questions: dict[str, Any]) -> dict[str, Any]:
    """Cookiecutter's answers in Copier's types (a multiselect comes as "sql,files")."""
    data: dict[str, Any] = {}
    for name, question in questions.items():
        if name.startswith("_") or not isinstance(question, dict) or name not in CONTEXT:
            continue
        value = CONTEXT[name]
        kind = question.get("type", "str")
        if question.get("multiselect") and isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        elif kind in {"int", "float"}:
            try:
                value = int(value) if kind == "int" else float(value)
            except (TypeError, ValueError):
                raise HookError(f"{name}: {value!r} is not a number") from None
        data[name] = value
    return data


def record_source(project: Path) -> None:
    """Point the answers file at the remote template when cookiecutter fetched one."""
    source = str(CONTEXT.get("_template", ""))
    path = project / ANSWERS_FILE
    if REMOTE.match(source) and path.is_file():
        import yaml

        line = yaml.safe_dump({"_src_path": source}, width=10_000).strip()  # as Copier writes it
        text = re.sub(r"(?m)^_src_path: .*$", lambda _: line, path.read_text())
        path.write_text(text)


def main() -> int:
    try:
        import copier
        import yaml
        from copier.errors import CopierError
    except ImportError:
        print(
            "error: shipshape generates through Copier: `pip install copier`, then retry",
            file=sys.stderr,
        )
        return 1
    project = Path.cwd()
    try:
        source = template_dir()
        data = answers(yaml.safe_load((source / "copier.yml").read_text()))
        checkout = CONTEXT.get("_checkout") or "HEAD"
        copier.run_copy(
            str(source),
            project,
            data=data,
            defaults=True,
            overwrite=True,
            unsafe=True,
            vcs_ref=checkout if (source / ".git").exists() else None,
        )
    except HookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ValueError, CopierError) as exc:
        message = " ".join(str(exc).split())
        print(f"error: {message}", file=sys.stderr)
        return 1
    record_source(project)
    return 0


if __name__ == "__main__":
    sys.exit(main())
