"""Where evidence is read from: the last test report, the CI configuration, the registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import parse as defused_parse

from ..settings import Settings
from .documents import GovernanceError

GITLAB_RESERVED = {
    "stages", "variables", "default", "include", "workflow", "image", "services", "cache",
    "before_script", "after_script",
}  # fmt: skip


@dataclass(frozen=True)
class TestReport:
    path: Path
    outcomes: dict[str, list[str]]  # test id without parameters -> outcome of each case
    timestamp: str

    def outcome(self, test_id: str) -> str:
        """passed, failed, skipped or absent (every parametrised case must pass)."""
        cases = self.outcomes.get(test_id, [])
        if not cases:
            return "absent"
        bad = [c for c in cases if c != "passed"]
        return bad[0] if bad else "passed"


def _test_id(root: Path, classname: str, name: str) -> str:
    parts = classname.split(".")
    for cut in range(len(parts), 0, -1):
        module = "/".join(parts[:cut]) + ".py"
        if (root / module).exists():
            return "::".join([module, *parts[cut:], name.split("[")[0]])
    return "::".join(["/".join(parts) + ".py", name.split("[")[0]])


def read_test_report(root: Path, directory: Path, pattern: str) -> TestReport | None:
    """Outcomes from every JUnit report matching the pattern (e.g. the main run and a fuzz
    run that wrote its own file); None when there is none."""
    paths = sorted(directory.glob(pattern))
    if not paths:
        return None
    outcomes: dict[str, list[str]] = {}
    stamps = []
    for path in paths:
        try:
            # defusedxml: a report is a file on disk that anyone with write access can replace;
            # entity expansion and external entities are refused rather than trusted.
            tree = defused_parse(path)
        except (ParseError, DefusedXmlException) as exc:
            raise GovernanceError(f"{path.name}: not a JUnit XML report ({exc})") from None
        stamps += [s.get("timestamp", "") for s in tree.iter("testsuite")]
        for case in tree.iter("testcase"):
            test_id = _test_id(root, case.get("classname", ""), case.get("name", ""))
            tags = {child.tag for child in case}
            result = next((t for t in ("failure", "error", "skipped") if t in tags), "passed")
            outcomes.setdefault(test_id, []).append(
                {"failure": "failed", "error": "failed"}.get(result, result)
            )
    return TestReport(directory, outcomes, max(stamps, default=""))


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise GovernanceError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None


def ci_jobs(root: Path) -> dict[str, str]:
    """CI job name -> its definition as text (GitHub workflows and GitLab CI files)."""
    jobs: dict[str, str] = {}
    for path in sorted((root / ".github" / "workflows").glob("*.y*ml")):
        doc = _load_yaml(path)
        for name, job in (doc.get("jobs") or {}).items():
            jobs[str(name)] = yaml.safe_dump(job)
    gitlab = [root / ".gitlab-ci.yml", *sorted((root / ".gitlab" / "ci").glob("*.y*ml"))]
    for path in gitlab:
        if not path.exists():
            continue
        for name, job in _load_yaml(path).items():
            if isinstance(job, dict) and name not in GITLAB_RESERVED and not name.startswith("."):
                jobs[str(name)] = yaml.safe_dump(job)
    return jobs


@dataclass(frozen=True)
class RegistryFacts:
    problem: str = ""  # why there are no facts
    name: str = ""
    alias: str = ""
    version: str = ""
    run_id: str = ""
    created_ms: int = 0
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: list[str] = field(default_factory=list)


def registry_facts(
    settings: Settings, aliases: tuple[str, ...] = ("champion", "challenger")
) -> RegistryFacts:
    """The first aliased version found (champion, else the challenger a CI run just trained)
    and its run, or the reason they cannot be read."""
    uri = settings.sqlite_abs(settings.mlflow.tracking_uri)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return RegistryFacts(problem=f"no registry yet ({settings.mlflow.tracking_uri})")
    from ..model.registry import configure, resolve_alias

    ref = None
    problem = ""
    for alias in aliases:
        try:
            ref = resolve_alias(settings, alias)
            break
        except Exception as exc:
            first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            problem = problem or f"no {alias} model '{settings.model.name}' ({first})"
    if ref is None:
        return RegistryFacts(problem=problem)
    try:
        client = configure(settings)
        run = client.get_run(ref.run_id)
        artifacts = [a.path for a in client.list_artifacts(ref.run_id)]
    except Exception as exc:
        first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        return RegistryFacts(problem=f"{ref.name} v{ref.version}: unreadable run ({first})")
    return RegistryFacts(
        name=ref.name,
        alias=ref.alias,
        version=ref.version,
        run_id=ref.run_id,
        created_ms=ref.created_ms,
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        tags=dict(run.data.tags) | ref.tags,
        artifacts=artifacts,
    )
