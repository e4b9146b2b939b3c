"""Copier migrations, run by `copier update` inside the project (`_migrations` in copier.yml,
stage "after": on the final tree, once the update has merged everything):

    migrate.py move OLD NEW   carry the user's edits of a file that moved between releases
    migrate.py contract       migrate the files the team owns (hooks/migrations.py): the data
                              contract, config/pilot.toml, config/*.toml, governance blocks
    migrate.py relock         re-lock (`uv lock`) when the update changed pyproject.toml

`contract` and `relock` carry no version: they run on every update (from a tag or from a
commit of main alike) and change nothing when there is nothing to do. Each prints one line
per change; a file they cannot read safely is left as it is, with one line naming it and the
manual step.

About `move`:

By then Copier has written the new release's NEW and removed OLD (it only existed in the old
release). The user's version of OLD is still in the last commit, so this 3-way merges the
user's changes (old pristine file -> user's file) into NEW, exactly like Copier merges files
that did not move. Conflicts get the usual markers; nothing is lost: OLD stays in git history.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
ANSWERS_FILE = ".copier-answers.yml"


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False)


def committed(path: str) -> str | None:
    """The file's content in the last commit (the project before the update), if tracked."""
    proc = git("show", f"HEAD:{path}")
    return proc.stdout if proc.returncode == 0 else None


def pristine_old(old: str, version_from: str) -> str | None:
    """The old release's OLD, rendered with the project's last answers."""
    import copier  # the interpreter running Copier has it

    answers = yaml.safe_load(committed(ANSWERS_FILE) or "") or {}
    data = {k: v for k, v in answers.items() if not k.startswith("_")}
    with tempfile.TemporaryDirectory() as tmp:
        copier.run_copy(
            str(TEMPLATE_ROOT),
            tmp,
            data=data,
            vcs_ref=version_from,
            defaults=True,
            overwrite=True,
            quiet=True,
            skip_tasks=True,
            unsafe=True,
        )
        path = Path(tmp, old)
        return path.read_text() if path.is_file() else None


def move(old: str, new: str) -> int:
    user = committed(old)
    if user is None:
        return 0  # the project never had OLD (or removed it): nothing to carry
    target = Path(new)
    base = pristine_old(old, os.environ.get("VERSION_FROM", ""))
    if user == base:
        return 0  # untouched: the new release's NEW is already right
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(user)
        print(f"migrate: {old} moved to {new} (kept your version)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        base_file, user_file, new_file = Path(tmp, "base"), Path(tmp, "user"), Path(tmp, "new")
        base_file.write_text(base or "")
        user_file.write_text(user)
        new_file.write_bytes(target.read_bytes())
        merged = Path(tmp, "merged")
        merged.write_text(user)
        # the same sides and labels as Copier's own conflicts: yours first, the release's second
        proc = git(
            "merge-file",
            "-L",
            "before updating",
            "-L",
            "last update",
            "-L",
            "after updating",
            str(merged),
            str(base_file),
            str(new_file),
        )
        if proc.returncode > 127:
            print(f"migrate: could not merge {old} into {new}: {proc.stderr}", file=sys.stderr)
            return 1
        target.write_bytes(merged.read_bytes())
        if proc.returncode:
            mark_unmerged(new, base_file, user_file, new_file)
    state = "with conflicts to resolve" if proc.returncode else "merged"
    print(f"migrate: {old} moved to {new}; your edits {state}")
    return 0


def mark_unmerged(path: str, base: Path, ours: Path, theirs: Path) -> None:
    """Record the conflict in git's index as Copier does: `git status` shows it unmerged, and
    `git checkout --ours/--theirs` picks the user's or the release's side."""
    stages = [(1, base), (2, ours), (3, theirs)]
    lines = [f"0 {'0' * 40}\t{path}"]
    for stage, file in stages:
        sha = git("hash-object", "-w", "--", str(file)).stdout.strip()
        lines.append(f"100644 {sha} {stage}\t{path}")
    subprocess.run(
        ["git", "update-index", "--index-info"],
        input="\n".join(lines) + "\n",
        text=True,
        check=True,
    )


def package_name() -> str | None:
    answers = yaml.safe_load(Path(ANSWERS_FILE).read_text()) if Path(ANSWERS_FILE).is_file() else {}
    name = (answers or {}).get("package_name")
    if not name:
        # answers files before package_name was recorded: the package beside data/schema.py
        found = sorted(Path("src").glob("*/data/schema.py"))
        name = found[0].parts[1] if len(found) == 1 else None
    return name


def release_documents() -> dict[str, str]:
    """The governance documents of the release being updated to, rendered with the project's
    answers (they are `_skip_if_exists`: the project keeps its own, filled-in ones)."""
    import copier

    answers = yaml.safe_load(Path(ANSWERS_FILE).read_text()) or {}
    data = {k: v for k, v in answers.items() if not k.startswith("_")}
    with tempfile.TemporaryDirectory() as tmp:
        copier.run_copy(
            str(TEMPLATE_ROOT),
            tmp,
            data={**data, "verify": False},
            vcs_ref="HEAD",  # TEMPLATE_ROOT is Copier's checkout of the release: its HEAD
            defaults=True,
            overwrite=True,
            quiet=True,
            skip_tasks=True,
            unsafe=True,
        )
        return {
            str(p.relative_to(tmp)): p.read_text()
            for p in sorted(Path(tmp, "governance").rglob("*.md"))
        }


def contract() -> int:
    """Migrate the team's own files; a refusal leaves its file alone and the others go on."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import migrations as m

    refused = 0

    def apply(path: Path, migrate: Callable[[str], m.Result]) -> None:
        nonlocal refused
        if not path.is_file():
            return
        text = path.read_text()
        try:
            result = migrate(text)
        except m.Refused as exc:
            print(f"migrate: {exc}")
            refused += 1
            return
        if result.text != text:
            path.write_text(result.text)
        for change in result.changes:
            print(f"migrate: {change}")

    package = package_name()
    if package:
        schema = Path("src", package, "data", "schema.py")
        apply(schema, lambda t: m.migrate_schema(t, str(schema)))
    apply(Path("config/pilot.toml"), lambda t: m.migrate_pilot_toml(t, "config/pilot.toml"))
    for config in sorted(Path("config").glob("*.toml")):
        apply(config, lambda t, c=config: m.migrate_moved_keys(t, str(c)))
    # the team's documents: those the project had before this update (new ones are the release's)
    documents = [
        doc
        for doc in (sorted(Path("governance").rglob("*.md")) if Path("governance").is_dir() else [])
        if committed(str(doc)) is not None
    ]
    if documents:
        try:
            release = release_documents()
        except Exception as exc:  # the documents are optional; the contract is done
            print(
                f"migrate: governance/: the release's documents did not render ({exc}); "
                "copy new GENERATED blocks from a fresh pilot by hand (docs/updating.md)"
            )
            release = {}
        for doc in documents:
            if str(doc) in release:
                apply(doc, lambda t, d=doc: m.migrate_blocks(t, release[str(d)], str(d)))
    if refused:
        print(f"migrate: {refused} file(s) need the manual step named above (docs/updating.md)")
    return 0  # a refusal is reported, never an update that fails half-way


def uv_binary() -> str | None:
    """uv beside the Python running Copier (a venv or pipx install), else on PATH."""
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.is_file() else shutil.which("uv")


def relock() -> int:
    """`uv lock` when the update changed pyproject.toml (never a hand-merged lock)."""
    if not Path("pyproject.toml").is_file():
        return 0
    changed = git("diff", "--quiet", "HEAD", "--", "pyproject.toml").returncode != 0
    if not changed and Path("uv.lock").is_file():
        return 0
    if not changed:
        return 0  # no lock yet and nothing new: the project's own first `uv lock` makes it
    manual = "then run `uv lock && uv sync --locked` (docs/updating.md)"
    if "\n<<<<<<< " in "\n" + Path("pyproject.toml").read_text():
        print(f"migrate: pyproject.toml has conflict markers: resolve them, {manual}")
        return 0
    uv = uv_binary()
    if uv is None:
        print(f"migrate: pyproject.toml changed and uv is not installed here: install it, {manual}")
        return 0
    proc = subprocess.run([uv, "lock", "-q"], capture_output=True, text=True, check=False)
    if proc.returncode:
        last = (proc.stderr.strip().splitlines() or ["uv lock failed"])[-1]
        print(f"migrate: uv lock failed ({last}): fix it, {manual}")
        return 0
    print("migrate: pyproject.toml changed: re-locked (uv lock); run `uv sync --locked`")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "move":
        return move(argv[1], argv[2])
    if argv == ["contract"]:
        return contract()
    if argv == ["relock"]:
        return relock()
    print("usage: migrate.py move OLD NEW | contract | relock", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
