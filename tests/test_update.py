"""`copier update` from older releases keeps the user's edits and brings the new standards.

Builds its own throwaway template repository with git tags: release v0.0.1 is this checkout
with an extra line at the top of a few files (one users leave alone, the model code, the
protected data contract, and a file at its old path), the current release (CHANGELOG's
version) is this checkout plus a `_migrations` entry for the moved file. Pilots generated from
v0.0.1 get the edits real users make, then update; the updates need no network (the updated
pilot's own checks lock from the package index). Every real `v*` tag of this repository is
also updated to HEAD, and the pilot's scheduled update job runs against local remotes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml

from .conftest import ROOT, UV, uv_run

pytestmark = pytest.mark.generated

OLD = "v0.0.1"
PKG = "churn_pilot"
MARKER = "<<<<<<< "  # a conflict, as Copier and hooks/migrate.py write it
ANSWERS = ".copier-answers.yml"
# The older release had one more line at the top of these files (content-independent, so the
# test holds whatever the files say): the current release "changed" each of them.
OLDER_LINE = "# Older release: this line is gone in the current one.\n"
OLDER_FILES = [
    "template/.gitignore",  # a file users leave alone
    "template/src/{{ package_name }}/model/train.py",  # model code users change
    "template/src/{{ package_name }}/data/schema.py.jinja",  # protected: stays the user's
    "template/config/dev.toml",  # moved (see below)
]
# Edits real users make, appended so they never touch the release's changed line
OUR_MODEL_CODE = (
    "\n\ndef retention_team_tuning() -> dict[str, int]:\n"
    '    """Our tuning, kept across template updates."""\n'
    '    return {"max_iter": 2000}\n'
)
OUR_SCHEMA = '\n\nREVIEWED_BY = "data owner, after adding the central region"\n'
# A file that moved: v0.0.1 had config/dev.toml at config/development.toml
MOVED_NEW, MOVED_OLD = "config/dev.toml", "config/development.toml"


def current_version() -> str:
    found = re.search(r"^## (\d+\.\d+\.\d+\S*)", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert found, "CHANGELOG.md has no '## <version>' heading"
    return found.group(1)


NEW = f"v{current_version()}"


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        [
            "git",
            "-c",
            "user.name=Pilot Team",
            "-c",
            "user.email=pilot@example.com",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def checkout_files() -> list[str]:
    """This checkout's files (tracked and new, not ignored): what a commit of it would hold."""
    listed = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    return sorted({f for f in listed.split("\0") if f and (ROOT / f).is_file()})


def copy_checkout(dst: Path) -> None:
    for rel in checkout_files():
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dst / rel)


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template repository with two tagged releases: OLD and NEW (= this checkout)."""
    repo = tmp_path_factory.mktemp("releases") / "shipshape"
    repo.mkdir()
    git(repo, "init", "-q")
    # the older release
    copy_checkout(repo)
    for rel in OLDER_FILES:
        (repo / rel).write_text(OLDER_LINE + (repo / rel).read_text())
    (repo / "template" / MOVED_NEW).rename(repo / "template" / MOVED_OLD)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "older release")
    git(repo, "tag", OLD)
    # the current release, declaring the move
    (repo / "template" / MOVED_OLD).unlink()
    copy_checkout(repo)
    config = yaml.safe_load((repo / "copier.yml").read_text())
    config["_migrations"] = [
        *(config.get("_migrations") or []),
        {
            "version": NEW.removeprefix("v"),
            "command": [
                "{{ _copier_python }}",
                "{{ _copier_conf.src_path }}/hooks/migrate.py",
                "move",
                MOVED_OLD,
                MOVED_NEW,
            ],
        },
    ]
    (repo / "copier.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "current release")
    git(repo, "tag", NEW)
    return repo


def generate_at(src: Path | str, ref: str, dst: Path, **answers: Any) -> Path:
    """Generate a pilot from a release and commit it, as a user does."""
    answers.setdefault("verify", False)
    copier.run_copy(
        str(src),
        dst,
        data=answers,
        defaults=True,
        unsafe=True,
        quiet=True,
        skip_tasks=True,
        vcs_ref=ref,
    )
    git(dst, "init", "-q")
    git(dst, "add", "-A")
    git(dst, "commit", "-qm", "generated")
    return dst


def update(dst: Path, ref: str, **answers: Any) -> None:
    copier.run_update(
        dst,
        data=answers,
        defaults=True,
        overwrite=True,
        unsafe=True,
        quiet=True,
        skip_tasks=True,
        vcs_ref=ref,
    )


def tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text(errors="replace")
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def markers(text: str) -> int:
    return sum(line.startswith(MARKER) for line in text.splitlines())


def conflicts(project: Path, reference: dict[str, str]) -> list[str]:
    """Files left unmerged, or with more conflict markers than the template itself has (its
    docs show one), compared with a fresh render."""
    unmerged = {ln.split("\t", 1)[1] for ln in git(project, "ls-files", "-u").splitlines()}
    marked = {
        f for f, text in tree(project).items() if markers(text) > markers(reference.get(f, ""))
    }
    return sorted(unmerged | marked)


def without_answers(files: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in files.items() if k != ANSWERS}


def append(path: Path, text: str) -> str:
    path.write_text(path.read_text() + text)
    return path.read_text()


def edit(path: Path, old: str, new: str) -> str:
    text = path.read_text()
    assert old in text, f"{path}: {old!r} not found (user edit)"
    path.write_text(text.replace(old, new, 1))
    return path.read_text()


@dataclass
class Updated:
    project: Path
    fresh: dict[str, str]  # the current release rendered with the project's answers
    edited: dict[str, str]  # the user's edited files, as the user left them


@pytest.fixture(scope="module")
def updated(releases: Path, tmp_path_factory: pytest.TempPathFactory) -> Updated:
    """A pilot from OLD, edited by its user, then updated to NEW with a changed answer."""
    project = generate_at(releases, OLD, tmp_path_factory.mktemp("edited") / "churn-pilot")
    src = project / "src" / PKG
    edited = {
        # the data contract, the model code, a setting in the file that moves next release
        f"src/{PKG}/data/schema.py": append(src / "data" / "schema.py", OUR_SCHEMA),
        f"src/{PKG}/model/train.py": append(src / "model" / "train.py", OUR_MODEL_CODE),
        MOVED_OLD: append(project / MOVED_OLD, "# ours\n"),
        # the user's own module
        f"src/{PKG}/churn_rules.py": '"""Business rules of the retention team."""\n',
    }
    (src / "churn_rules.py").write_text(edited[f"src/{PKG}/churn_rules.py"])
    for doc in sorted(project.glob("governance/*.md")):  # filled-in governance documents
        edited[str(doc.relative_to(project))] = (
            doc.read_text() + "\nSigned off by the pilot board.\n"
        )
        doc.write_text(edited[str(doc.relative_to(project))])
    (project / ".env").write_text("APP_ENV=dev\n")  # ignored by git, the user's secrets
    git(project, "add", "-A")
    git(project, "commit", "-qm", "our pilot")
    update(project, NEW, description="Predicts churn for the retention team.")
    fresh = tree(
        generate_at(
            releases,
            NEW,
            tmp_path_factory.mktemp("fresh") / "churn-pilot",
            description="Predicts churn for the retention team.",
        )
    )
    return Updated(project, fresh, edited)


def test_untouched_files_match_the_new_release(updated: Updated) -> None:
    files = tree(updated.project)
    assert not conflicts(updated.project, updated.fresh)
    merged = {f"src/{PKG}/model/train.py", MOVED_NEW}  # user edits + release changes
    for rel, text in without_answers(updated.fresh).items():
        if rel not in updated.edited and rel not in merged:
            assert files[rel] == text, f"{rel} differs from a fresh render of {NEW}"
    answers = yaml.safe_load(files[ANSWERS])
    assert answers["_commit"] == NEW
    assert answers["description"] == "Predicts churn for the retention team."


def test_user_edits_survive_and_merge_with_the_release(updated: Updated) -> None:
    project = updated.project
    train = (project / "src" / PKG / "model" / "train.py").read_text()
    assert train.endswith(OUR_MODEL_CODE)  # the user's change
    assert OLDER_LINE not in train  # the release's change
    # skip_if_exists: the data contract stays exactly the user's
    schema = f"src/{PKG}/data/schema.py"
    assert (project / schema).read_text() == updated.edited[schema]
    assert (project / f"src/{PKG}/churn_rules.py").exists()
    for rel, text in updated.edited.items():
        if rel.startswith("governance/"):
            assert (project / rel).read_text() == text
    assert (project / ".env").read_text() == "APP_ENV=dev\n"


def test_migration_moves_the_edited_file(updated: Updated) -> None:
    project = updated.project
    assert not (project / MOVED_OLD).exists()
    moved = (project / MOVED_NEW).read_text()
    assert moved == updated.fresh[MOVED_NEW] + "# ours\n"  # the release's and the user's lines
    assert updated.edited[MOVED_OLD].startswith(OLDER_LINE)


def test_migration_conflict_is_marked_like_copiers(releases: Path, tmp_path: Path) -> None:
    """The user and the release changed the same line of the moved file: a normal conflict."""
    project = generate_at(releases, OLD, tmp_path / "pilot")
    edit(project / MOVED_OLD, OLDER_LINE, "# Development on our laptops.\n")
    git(project, "commit", "-qam", "our comment")
    update(project, NEW)
    moved = (project / MOVED_NEW).read_text()
    # we changed the line the release removed
    assert moved.startswith(
        "<<<<<<< before updating\n# Development on our laptops.\n=======\n>>>>>>> after updating\n"
    )
    # unmerged in the index, as the scheduled job and `git status` find conflicts
    assert git(project, "diff", "--name-only", "--diff-filter=U").split() == [MOVED_NEW]
    git(project, "checkout", "--ours", MOVED_NEW)  # docs/updating.md: keep your side
    assert (project / MOVED_NEW).read_text().startswith("# Development on our laptops.\n")


def test_updated_pilot_checks_pass(updated: Updated) -> None:
    """The pilot's own checks after the update (docs/updating.md: re-lock, then check)."""
    project = updated.project
    env = job_env(project.parent)  # uv from this interpreter's environment when not on PATH
    lock = subprocess.run(
        [UV, "lock", "-q"], cwd=project, env=env, capture_output=True, text=True, check=False
    )
    assert lock.returncode == 0, lock.stderr
    path = {"PATH": env["PATH"]}
    uv_run(project, "ruff", "check", ".", env=path)
    uv_run(project, "ruff", "format", "--check", ".", env=path)
    uv_run(project, "mypy", env=path)
    # The pilot's own tests run on the pilots of every CHANGELOG release after their update
    # (test_field_pilots_pass_their_full_checks_after_the_update): not a third time here.


def test_untouched_pilot_updates_to_exactly_the_new_release(releases: Path, tmp_path: Path) -> None:
    project = generate_at(releases, OLD, tmp_path / "untouched")
    generated = tree(project)
    update(project, NEW)
    expected = without_answers(tree(generate_at(releases, NEW, tmp_path / "fresh")))
    # protected files stay as generated, even untouched: the user owns them (docs/updating.md)
    protected = f"src/{PKG}/data/schema.py"
    assert generated[protected] != expected[protected]  # the release did change it
    expected[protected] = generated[protected]
    assert without_answers(tree(project)) == expected
    assert not conflicts(project, expected)


def test_update_to_the_same_release_changes_nothing(releases: Path, tmp_path: Path) -> None:
    project = generate_at(releases, NEW, tmp_path / "same")
    update(project, NEW)
    assert git(project, "status", "--porcelain") == ""


def test_changed_answer_swaps_the_files_it_renders(releases: Path, tmp_path: Path) -> None:
    project = generate_at(releases, NEW, tmp_path / "switch")
    assert (project / GITHUB_JOB).is_file()
    update(project, NEW, ci_provider="gitlab")
    assert not (project / ".github").exists() and (project / GITLAB_JOB).is_file()
    assert "merge request" in (project / "docs" / "updating.md").read_text()
    fresh = tree(generate_at(releases, NEW, tmp_path / "fresh", ci_provider="gitlab"))
    assert without_answers(tree(project)) == without_answers(fresh)
    assert not conflicts(project, fresh)


def release_tags() -> list[str]:
    return sorted(t for t in git(ROOT, "tag", "-l", "v*").split() if t)


@pytest.mark.parametrize("tag", [*release_tags(), f"throwaway-{OLD}"])
def test_every_release_updates_to_head(tag: str, releases: Path, tmp_path: Path) -> None:
    """Each real release of this repository (and the throwaway one) updates to its HEAD."""
    src, ref = (releases, OLD) if tag.startswith("throwaway-") else (ROOT, tag)
    project = generate_at(src, ref, tmp_path / "pilot")
    train = project / "src" / PKG / "model" / "train.py"
    append(train, OUR_MODEL_CODE)
    git(project, "commit", "-qam", "our change")
    update(project, "HEAD")
    files = tree(project)
    assert train.read_text().endswith(OUR_MODEL_CODE)
    fresh = tree(generate_at(src, "HEAD", tmp_path / "fresh"))
    assert not conflicts(project, fresh)
    for rel, text in without_answers(fresh).items():
        if rel != str(train.relative_to(project)) and not rel.endswith("schema.py"):
            assert files.get(rel) == text, f"{rel} differs from a fresh render of HEAD"


def test_skip_if_exists_patterns_name_real_files(tmp_path: Path) -> None:
    """Each protected pattern matches a file of a default pilot (or one it creates later)."""
    project = generate_at(ROOT, "HEAD", tmp_path / "p")
    config = yaml.safe_load((ROOT / "copier.yml").read_text())
    created_later = {".env", "uv.lock"}  # by the user / by the copy-time lock
    for pattern in config["_skip_if_exists"]:
        rendered = pattern.replace("{{ package_name }}", PKG)
        if rendered in created_later:
            continue
        if rendered.startswith("governance/") and not (project / "governance").exists():
            continue  # governance documents are rendered by a later part of the template
        assert list(project.glob(rendered)), f"_skip_if_exists {pattern!r} matches no file"


def test_secret_answers_are_never_recorded(tmp_path: Path) -> None:
    """Secret questions (this template's and a throwaway one) stay out of the answers file."""
    template = tmp_path / "tpl"
    template.mkdir()
    copy_checkout(template)
    config = yaml.safe_load((template / "copier.yml").read_text())
    config["throwaway_admin_key"] = {
        "type": "str",
        "secret": True,
        "default": "change-me",
        "help": "Admin key",
    }
    (template / "copier.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    secrets = {
        name: f"s3cret-{name}-value"
        for name, q in config.items()
        if isinstance(q, dict) and q.get("secret")
    }
    assert "throwaway_admin_key" in secrets
    project = tmp_path / "p"
    copier.run_copy(
        str(template),
        project,
        data={"verify": False, **secrets},
        defaults=True,
        unsafe=True,
        quiet=True,
        skip_tasks=True,
    )
    recorded = (project / ANSWERS).read_text()
    for name, value in secrets.items():
        assert name not in recorded and value not in recorded
    assert yaml.safe_load(recorded)["project_name"] == "Churn Pilot"


# --- The generated pilot's scheduled job: its real scripts, against local remotes ------------

GITHUB_JOB = ".github/workflows/template-update.yml"
GITLAB_JOB = ".gitlab/ci/template-update.yml"


def job_env(tmp_path: Path) -> dict[str, str]:
    """PATH with this interpreter's tools (copier, uv) and a fake `gh` that records its args."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> {tmp_path}/gh.log\n')
    (bin_dir / "gh").chmod(0o755)
    path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]])
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    return env | {"PATH": path, "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z"}


def pilot_with_remote(releases: Path, tmp_path: Path, **answers: Any) -> tuple[Path, Path]:
    """A pilot generated from OLD through a git URL, pushed to a local bare `origin`."""
    project = generate_at(f"git+file://{releases}", OLD, tmp_path / "pilot", **answers)
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(origin, "config", "receive.advertisePushOptions", "true")
    git(project, "remote", "add", "origin", str(origin))
    git(project, "push", "-q", "origin", "HEAD")
    return project, origin


def run_script(script: str, cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, f"{script[:200]}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.mark.parametrize("conflict", [False, True], ids=["clean", "conflict"])
def test_github_job_opens_a_pull_request_for_a_new_release(
    releases: Path, tmp_path: Path, conflict: bool
) -> None:
    project, origin = pilot_with_remote(releases, tmp_path)
    if conflict:  # the user changed the line the release changes (in the file that moves)
        edit(project / MOVED_OLD, OLDER_LINE, "# Development on our laptops.\n")
        git(project, "commit", "-qam", "our comment")
    job = yaml.safe_load((project / GITHUB_JOB).read_text())
    steps = {s["name"]: s for s in job["jobs"]["update"]["steps"] if "run" in s}
    outputs = tmp_path / "outputs"
    env = job_env(tmp_path) | {k: str(v) for k, v in job["env"].items()}
    env |= {"GITHUB_OUTPUT": str(outputs), "TEMPLATE_TOKEN": "", "GH_TOKEN": "token"}
    run_script(steps["Template source must be reachable"]["run"], project, env)
    run_script(steps["Look for a newer release"]["run"], project, env)
    found = dict(ln.split("=", 1) for ln in outputs.read_text().split())
    assert found == {"available": "true", "version": NEW.removeprefix("v")}
    update_step = steps["Update, re-lock, open a pull request"]
    assert update_step["if"] == "steps.check.outputs.available == 'true'"
    env["VERSION"] = found["version"]
    for _ in range(2):  # the second run finds the branch and does nothing
        run_script(update_step["run"], project, env)
    branch = f"template-update/{NEW}"
    answers = yaml.safe_load(git(origin, "show", f"{branch}:{ANSWERS}"))
    assert answers["_commit"] == NEW
    assert git(origin, "show", f"{branch}:uv.lock")  # re-locked after the update
    gh = (tmp_path / "gh.log").read_text().splitlines()
    assert gh[:4] == ["pr", "create", "--title", f"Update the shipshape template to {NEW}"]
    assert gh.count("create") == 1
    assert ("--draft" in gh) == conflict
    assert (MOVED_NEW in "\n".join(gh)) == conflict  # the files to resolve, in the body


def test_github_job_refuses_a_local_template_path(releases: Path, tmp_path: Path) -> None:
    project = generate_at(releases, OLD, tmp_path / "pilot")
    job = yaml.safe_load((project / GITHUB_JOB).read_text())
    check = next(s for s in job["jobs"]["update"]["steps"] if s.get("name", "").startswith("Tem"))
    proc = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", check["run"]],
        cwd=project,
        env=job_env(tmp_path) | {"TEMPLATE_TOKEN": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout.strip() == (
        f"::error::.copier-answers.yml _src_path is '{releases}', not a git URL: "
        "see docs/updating.md"
    )


def test_gitlab_job_pushes_a_merge_request_branch(releases: Path, tmp_path: Path) -> None:
    project, origin = pilot_with_remote(releases, tmp_path, ci_provider="gitlab")
    assert not (project / ".github").exists()
    job = yaml.safe_load((project / GITLAB_JOB).read_text())["template-update"]
    assert job["script"][0].startswith("pip install -q copier==9.19.1 uv==")  # tools, given here
    remote = "https://oauth2:token@gitlab.example/team/pilot.git"
    env = job_env(tmp_path) | {
        "TEMPLATE_UPDATE_TOKEN": "token",
        "CI_SERVER_HOST": "gitlab.example",
        "CI_PROJECT_PATH": "team/pilot",
        "CI_DEFAULT_BRANCH": "main",
        # the job's remote URL, served by the local bare repository
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.{origin}.insteadOf",
        "GIT_CONFIG_VALUE_0": remote,
    }
    run_script("\n".join(job["script"][1:]), project, env)
    answers = yaml.safe_load(git(origin, "show", f"template-update/{NEW}:{ANSWERS}"))
    assert answers["_commit"] == NEW


# --- Every CHANGELOG release, used as a team uses it, then updated to this checkout -----------
#
# Issue 24's proof. In a clone of this repository, each CHANGELOG release before the newest is
# tagged at the commit that introduced its heading (a heading that names a commit, "## 0.2.0
# (main at bfb534a)", was cut from main after the fact: its pilot is generated from that
# untagged commit, as pilots generated between releases were, and the tag comes after). Each
# pilot is used (data, train, promote; a real table adopted where the release has `data
# adopt`), edited (a config value, the README, a governance document) and committed; then
# `copier update` to this checkout (which migrates and re-locks) and the pilot's full checks:
# lint, format, types, import layers, its tests, serve and predict with the model trained
# before the update, and a new training run. One module-scoped fixture does the work once.

RELEASE_HEADING = re.compile(r"^## (\d+\.\d+\.\d+)(?: \(main at ([0-9a-f]{7,40})\))?$", re.M)
# Edits where teams make them (not next to lines the releases change: those conflict, as they
# should, and docs/updating.md says how to resolve them)
README_EDIT = (
    "production from its first commit.\n",
    "production from its first commit.\n\nOurs: the retention team's pilot, kept across updates.\n",
)
GOVERNANCE_EDIT = "\nReviewed by the pilot board on 2026-11-30.\n"
CONFIG = "config/staging.toml"
CONFIG_EDIT = ("pilot@postgres:5432/pilot", "pilot@pg.retention.internal:5432/pilot")


def changelog_releases() -> list[tuple[str, str, bool]]:
    """(version, commit, cut after the fact) of each CHANGELOG release before the newest."""
    found = []
    for match in RELEASE_HEADING.finditer((ROOT / "CHANGELOG.md").read_text()):
        version, named = match.groups()
        if named:
            found.append((version, named, True))
            continue
        introduced = git(
            ROOT, "log", "--format=%H", "--reverse", "-S", match.group(0), "--", "CHANGELOG.md"
        ).split()
        found.append((version, introduced[0] if introduced else "", False))
    return found[1:]  # the newest release is this checkout


def breast_cancer_csv(path: Path) -> Path:
    """A real table (scikit-learn's bundled copy, offline), with the id column teams have."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.insert(0, "patient_id", [f"P{i:05d}" for i in range(len(frame))])
    frame.to_csv(path, index=False)
    return path


def pilot_cli(project: Path, *args: str, check: bool = True) -> str:
    proc = uv_run(project, "churn-pilot", *args, check=check)
    return proc.stdout + proc.stderr


def has_command(project: Path, name: str) -> bool:
    return f'"{name}"' in (project / "src" / PKG / "cli.py").read_text() or (
        f"def {name}(" in (project / "src" / PKG / "cli.py").read_text()
    )


def use_like_a_team(project: Path, workdir: Path) -> dict[str, Any]:
    """Data, train, promote (as far as the release goes), edits; all committed."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    for args in (["lock", "-q"], ["sync", "--locked", "-q"]):
        proc = subprocess.run([UV, *args], cwd=project, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, f"uv {args[0]}: {proc.stderr[-2000:]}"
    adopted = has_command(project, "adopt")
    if adopted:
        table = breast_cancer_csv(workdir / "breast_cancer.csv")
        pilot_cli(project, "data", "adopt", str(table), "--label", "target", "--key", "patient_id")
    else:
        pilot_cli(project, "data", "seed")
    pilot_cli(project, "ingest")
    trained = pilot_cli(project, "train")
    if has_command(project, "promote"):
        pilot_cli(project, "promote", "--to", "staging", "--reason", "first model")
        pilot_cli(project, "promote", "--to", "production", "--reason", "first model")
    version = re.search(r"version (\d+)", trained)
    assert version, trained
    edit(project / CONFIG, *CONFIG_EDIT)
    edit(project / "README.md", *README_EDIT)
    documents = sorted(project.glob("governance/*.md"))
    if documents:
        append(documents[0], GOVERNANCE_EDIT)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "our pilot: data, a model, our edits")
    return {
        "adopted": adopted,
        "version": version.group(1),
        "document": str(documents[0].relative_to(project)) if documents else None,
    }


def serve_and_predict(project: Path) -> dict[str, Any]:
    """The champion served by the updated code: the request the service documents."""
    from .conftest import free_port, http

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    cmd = [UV, "run", "-q", "--locked", "churn-pilot", "serve", "--host", "127.0.0.1"]
    log = project / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [*cmd, "--port", str(port)], cwd=project, env=env, stdout=out, stderr=out
        )
    try:
        for _ in range(1200):
            assert server.poll() is None, log.read_text()[-3000:]
            try:
                if http("GET", base + "/ready")[0] == 200:
                    break
            except OSError:
                pass
            import time

            time.sleep(0.1)
        else:
            raise AssertionError(f"not ready after 120 s: {log.read_text()[-3000:]}")
        status, text = http("GET", base + "/openapi.json")
        schemas = yaml.safe_load(text)["components"]["schemas"]
        row = schemas["Features"]["examples"][0]
        status, text = http("POST", base + "/predict", row)
        assert status == 200, text
        answer: dict[str, Any] = yaml.safe_load(text)
        return answer
    finally:
        server.terminate()
        server.wait(timeout=30)


@dataclass
class FieldPilot:
    version: str
    ref: str
    project: Path
    used: dict[str, Any]
    update_output: str


@pytest.fixture(scope="module")
def field_pilots(tmp_path_factory: pytest.TempPathFactory) -> list[FieldPilot]:
    releases = changelog_releases()
    assert releases, "CHANGELOG.md lists no release before the newest"
    for version, commit, _ in releases:
        if (
            not commit
            or subprocess.run(
                ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT, check=False
            ).returncode
        ):
            message = f"release {version}: commit {commit or '?'} is not in this clone's history"
            if os.environ.get("CI") == "true":
                pytest.fail(message + " (check out with full history)")
            pytest.skip(message)
    base = tmp_path_factory.mktemp("field")
    repo = base / "shipshape"
    git(base, "clone", "-q", "--no-hardlinks", str(ROOT), str(repo))
    for tag in git(repo, "tag", "-l").split():
        git(repo, "tag", "-d", tag)
    copy_checkout(repo)  # this checkout, as it is, is the release the pilots update to
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "this checkout", "--allow-empty")
    pilots: list[tuple[str, str, Path]] = []
    # pilots of releases cut after the fact first: generated from the commit, untagged
    for version, commit, cut_later in sorted(releases, key=lambda r: not r[2]):
        ref = commit if cut_later else f"v{version}"
        if not cut_later:
            git(repo, "tag", ref, commit)
        project = generate_at(repo, ref, base / f"pilot-{version}")
        pilots.append((version, ref, project))
    for version, commit, cut_later in releases:
        if cut_later:
            git(repo, "tag", f"v{version}", commit)
    copier_bin = str(Path(sys.executable).parent / "copier")
    out = []
    for version, ref, project in sorted(pilots):
        used = use_like_a_team(project, base)
        (base / f"env-{version}").mkdir()
        proc = subprocess.run(
            [copier_bin, "update", "--trust", "--defaults", "--skip-tasks", "--vcs-ref", "HEAD"],
            cwd=project,
            env=job_env(base / f"env-{version}"),
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        out.append(FieldPilot(version, ref, project, used, proc.stdout + proc.stderr))
    return out


def test_field_pilots_update_cleanly_keeping_what_the_team_did(
    field_pilots: list[FieldPilot],
) -> None:
    for pilot in field_pilots:
        project, used = pilot.project, pilot.used
        assert git(project, "ls-files", "-u") == "", f"{pilot.version}: unmerged files"
        assert README_EDIT[1] in (project / "README.md").read_text(), pilot.version
        assert CONFIG_EDIT[1] in (project / CONFIG).read_text(), pilot.version
        if used["document"]:
            assert GOVERNANCE_EDIT in (project / used["document"]).read_text(), pilot.version
        schema = (project / "src" / PKG / "data" / "schema.py").read_text()
        assert 'SCHEMA_VERSION = "2"' in schema and "POSITIVE" in schema, pilot.version
        if used["adopted"]:
            assert "patient_id" in schema  # the team's adopted contract, migrated, not replaced
        # the floor the pilot ran with, declared (0.1.0 had no pilot.toml: the release's own)
        pilot_toml = tomllib.loads((project / "config" / "pilot.toml").read_text())
        assert pilot_toml["gate"]["min_metric"] == 0.7, pilot.version
        # the update named each change it made to the team's files, and re-locked
        lines = pilot.update_output.splitlines()
        assert any(ln.startswith("migrate: schema.py: ") for ln in lines), pilot.version
        relocked = "migrate: pyproject.toml changed: re-locked (uv lock); run `uv sync --locked`"
        changed = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--", "pyproject.toml"], cwd=project, check=False
        ).returncode
        assert (relocked in lines) == bool(changed), (pilot.version, pilot.update_output)


def full_checks(pilot: FieldPilot) -> None:
    project = pilot.project
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    # the documented relock: the update re-locked; the environment follows the lock
    sync = subprocess.run(
        [UV, "sync", "--locked", "-q"], cwd=project, env=env, capture_output=True, text=True
    )
    assert sync.returncode == 0, f"{pilot.version}: {sync.stderr[-2000:]}"
    # the model trained before the update, served and answering through the new code
    answer = serve_and_predict(project)
    assert answer["model_version"] == pilot.used["version"], (pilot.version, answer)
    uv_run(project, "ruff", "check", ".")
    uv_run(project, "ruff", "format", "--check", ".")
    uv_run(project, "mypy", "src")
    uv_run(project, "lint-imports")
    out = uv_run(project, "pytest", "-q", "-p", "no:cacheprovider").stdout
    assert " passed" in out and " failed" not in out, f"{pilot.version}: {out[-2000:]}"
    assert "registered" in pilot_cli(project, "train"), pilot.version


def test_field_pilots_pass_their_full_checks_after_the_update(
    field_pilots: list[FieldPilot],
) -> None:
    failures = []
    for pilot in field_pilots:  # every pilot checked, then every failure reported
        try:
            full_checks(pilot)
        except AssertionError as exc:
            failures.append(f"pilot from {pilot.version} ({pilot.ref}): {exc}")
    assert not failures, "\n\n".join(failures)
