"""Copier migration: carry the user's edits of a file that moved between releases.

Run by `copier update` (a `_migrations` entry in copier.yml, stage "after") inside the project:

    migrate.py move OLD NEW

By then Copier has written the new release's NEW and removed OLD (it only existed in the old
release). The user's version of OLD is still in the last commit, so this 3-way merges the
user's changes (old pristine file -> user's file) into NEW, exactly like Copier merges files
that did not move. Conflicts get the usual markers; nothing is lost: OLD stays in git history.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
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


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "move":
        print("usage: migrate.py move OLD NEW", file=sys.stderr)
        return 2
    return move(argv[1], argv[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
