"""The pilot exit gate: score the ML Test Score and the definition of done from evidence."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from ..settings import PROJECT_ROOT, Settings
from . import evidence as ev
from .documents import document_problem, manual_entries, sign_off_problem
from .sources import RegistryFacts, TestReport, ci_jobs, read_test_report, registry_facts

Level = Literal["automated", "documented", "missing", "pending"]
RANK = {"automated": 2, "documented": 1, "missing": 0, "pending": 0}
LIVE_ONLY = "only a live pilot shows this, not counted yet"


@dataclass(frozen=True)
class CheckResult:
    level: Level
    text: str  # the evidence, or why it is missing


@dataclass(frozen=True)
class ItemResult:
    key: str
    title: str
    points: float
    status: str  # automated, manual or missing
    evidence: list[str]
    note: str  # what is missing, or why the item stays manual
    manual_only: bool = False  # no automated check exists for this item


@dataclass(frozen=True)
class Readiness:
    sections: dict[str, list[ItemResult]]
    definition_of_done: list[ItemResult]
    domain: list[ItemResult]
    regulated_domain: str
    threshold: float
    report: str

    def section_score(self, section: str) -> float:
        return sum(i.points for i in self.sections[section])

    @property
    def score(self) -> float:
        return min(self.section_score(s) for s in self.sections)

    @property
    def done(self) -> int:
        return sum(i.status != "missing" for i in self.definition_of_done)

    def passed(self, require_dod: bool) -> bool:
        dod_ok = self.done == len(self.definition_of_done) or not require_dod
        return self.score >= self.threshold and dod_ok


class Evaluator:
    def __init__(self, settings: Settings, root: Path = PROJECT_ROOT) -> None:
        self.root = root
        gov = settings.governance
        reports = settings.path(gov.reports_dir)
        self.report: TestReport | None = read_test_report(root, reports, gov.junit_reports)
        self.report_name = f"{gov.reports_dir}/{gov.junit_reports}"
        self.jobs = ci_jobs(root)
        self.registry: RegistryFacts = registry_facts(settings)
        self.manual = manual_entries(settings.path(gov.docs_dir) / "manual-tests.md")
        self.suite_job = next((n for n, text in self.jobs.items() if "pytest" in text), "")
        self.settings = settings

    def check(self, c: ev.Check) -> CheckResult:
        if isinstance(c, ev.Test):
            return self._test(c)
        if isinstance(c, ev.CiJob):
            pattern = re.compile(c.pattern)
            found = [n for n, text in self.jobs.items() if pattern.search(f"{n}\n{text}")]
            if found:
                return CheckResult("automated", f"CI job `{found[0]}` (/{c.pattern}/)")
            return CheckResult("missing", f"no CI job matching /{c.pattern}/")
        if isinstance(c, ev.AnyOf):
            results = [self.check(a) for a in c.checks]
            return max(results, key=lambda r: RANK[r.level])
        if isinstance(c, ev.File):
            return self._file(c)
        if isinstance(c, ev.Live):
            return self._live(c)
        if isinstance(c, ev.Registry):
            return self._registry(c)
        if isinstance(c, ev.Contract):
            return contract_decision(self.settings, c.what)
        if isinstance(c, ev.Document):
            problem = document_problem(self.root / c.path)
            return (
                CheckResult("missing", problem)
                if problem
                else CheckResult("documented", f"file `{c.path}` complete")
            )
        problem = sign_off_problem(self.root / c.path)
        if problem:
            return CheckResult("missing", problem)
        return CheckResult("documented", f"file `{c.path}` signed, approved")

    def _test(self, c: ev.Test) -> CheckResult:
        if self.report is None:
            return CheckResult("missing", f"no test report at {self.report_name} ({c.id})")
        outcome = self.report.outcome(c.id)
        if outcome == "absent":
            return CheckResult("missing", f"test `{c.id}` not in the last run")
        if outcome != "passed":
            return CheckResult("missing", f"test `{c.id}` {outcome} in the last run")
        if not self.suite_job:
            return CheckResult("documented", f"test `{c.id}` passed (no CI job runs pytest)")
        return CheckResult("automated", f"test `{c.id}` passed; CI job `{self.suite_job}`")

    def _file(self, c: ev.File) -> CheckResult:
        paths = sorted(p for p in self.root.glob(c.path) if p.is_file())
        if not paths:
            return CheckResult("missing", f"no file `{c.path}`")
        for path in paths:
            if not c.pattern or re.search(c.pattern, path.read_text(errors="replace")):
                return CheckResult("automated", f"file `{path.relative_to(self.root)}`")
        return CheckResult("missing", f"no file `{c.path}` with /{c.pattern}/")

    def _registry(self, c: ev.Registry) -> CheckResult:
        r = self.registry
        if r.problem:
            return CheckResult("missing", r.problem)
        where = f"{r.name} v{r.version} @{r.alias}"
        found: dict[str, str] = {
            "param": r.params,
            "metric": {k: f"{v:.4g}" for k, v in r.metrics.items()},
            "tag": r.tags,
            "artifact": dict.fromkeys(r.artifacts, ""),
        }[c.kind]
        if c.key not in found:
            return CheckResult("missing", f"{where}: no {c.kind} `{c.key}`")
        value = found[c.key]
        if c.value and value != c.value:
            return CheckResult("missing", f"{where}: {c.kind} `{c.key}` is `{value}`")
        shown = f"={value}" if value else ""
        return CheckResult("automated", f"registry {where}: {c.kind} `{c.key}{shown}`")

    def _live(self, c: ev.Live) -> CheckResult:
        if c.what == "shadow":
            r = self.registry
            verdict = r.tags.get("shadow.verdict")
            if r.problem or verdict is None:
                return CheckResult(
                    "pending",
                    f"{LIVE_ONLY}: the champion was not promoted with shadow evidence"
                    " (APP_SERVING__SHADOW_ALIAS, APP_MODEL__REQUIRE_SHADOW)",
                )
            figures = (
                f"{r.tags.get('shadow.rows')} rows, agreement {r.tags.get('shadow.agreement')}"
            )
            if verdict != "passed":
                return CheckResult("missing", f"champion v{r.version} shadow {verdict}: {figures}")
            return CheckResult("automated", f"champion v{r.version} shadowed: {figures}")
        from ..monitoring.live import read_latest

        report = read_latest(self.settings)
        if report is None:
            return CheckResult(
                "pending", f"{LIVE_ONLY}: no `monitor` report (`outcomes ingest`, then `monitor`)"
            )
        if not report["judged"]:
            return CheckResult(
                "pending",
                f"{LIVE_ONLY}: {report['rows']} decisions with outcomes < {report['min_rows']}",
            )
        if report["breached"]:
            return CheckResult("missing", "live quality breached: " + "; ".join(report["breaches"]))
        shown = ", ".join(
            f"v{f['version']} live {report['metric']} {f['value']:.3f} on {f['rows']} rows"
            for f in report["figures"]
            if f["window"] == "all" and not f["column"] and f["value"] is not None
        )
        return CheckResult("automated", f"`monitor` report: {shown or 'judged'}, no breach")

    def item(self, item: ev.Item, scored: bool = True) -> ItemResult:
        checked = [self.check(c) for c in item.checks]
        # A live-only figure that does not exist yet is reported, not counted either way.
        pending = [r.text for r in checked if r.level == "pending"]
        results = [r for r in checked if r.level != "pending"]
        if pending and results:
            result = self._item(item, results, scored)
            note = "; ".join([result.note, *pending] if result.note else pending)
            return ItemResult(
                result.key, result.title, result.points, result.status, result.evidence, note,
                result.manual_only,
            )  # fmt: skip
        return self._item(item, checked, scored)

    def _item(self, item: ev.Item, results: list[CheckResult], scored: bool) -> ItemResult:
        level: Level = min((r.level for r in results), key=RANK.__getitem__, default="missing")
        texts = [r.text for r in results if r.level != "missing"]
        missing = [r.text for r in results if r.level == "missing"]
        manual = self.manual.get(item.key)
        if level == "automated":
            return ItemResult(item.key, item.title, 1.0, "automated", texts, "")
        if level == "documented":
            note = "tests pass but no CI job runs them" if scored else ""
            return ItemResult(item.key, item.title, 0.5, "manual", texts, note)
        if manual and manual.complete:
            entry = f"manual result in governance/manual-tests.md#{item.key}"
            return ItemResult(
                item.key, item.title, 0.5, "manual", [entry], item.manual_why, not item.checks
            )
        note = "; ".join(missing) or f"manual test not documented yet ({item.manual_why})"
        if manual and not manual.complete:
            note += f"; manual-tests.md#{item.key}: {manual.problem}"
        return ItemResult(item.key, item.title, 0.0, "missing", texts, note, not item.checks)


def contract_decision(settings: Settings, what: str) -> CheckResult:
    """A decision the owner records before the first model (``ev.Contract``)."""
    from ..model.gate import NOT_DECLARED

    if what == "quality-target":
        floor = settings.gate.min_metric
        if floor is None:
            return CheckResult(
                "missing", f"{NOT_DECLARED} (data adopt --min-metric X, or [gate] min_metric)"
            )
        return CheckResult("automated", f"quality target declared: gate.min_metric = {floor:g}")
    from ..data.roles import PROTECTED_REVIEW

    open_ = sorted(c for c, answer in PROTECTED_REVIEW.items() if answer == "unanswered")
    if open_:
        return CheckResult(
            "missing",
            "protected-attribute review unanswered: " + ", ".join(open_)
            + " (data adopt --protected COL / --not-protected COL)",
        )  # fmt: skip
    return CheckResult(
        "automated", f"protected-attribute review answered ({len(PROTECTED_REVIEW)} columns)"
    )


def score_readiness(settings: Settings, root: Path = PROJECT_ROOT) -> Readiness:
    """Every readiness item judged from its evidence (tests, CI, documents, registry)."""
    e = Evaluator(settings, root)
    domain_name = settings.governance.regulated_domain
    domain = [e.item(i, scored=False) for i in ev.DOMAIN_CHECKS.get(domain_name, ())]
    dod = [e.item(i, scored=False) for i in ev.DEFINITION_OF_DONE]
    open_domain = [d.key for d in domain if d.status == "missing"]
    if open_domain and dod[-1].status != "missing":
        last = dod[-1]
        dod[-1] = ItemResult(
            last.key, last.title, 0.0, "missing", last.evidence,
            f"{domain_name} checks open: {', '.join(open_domain)}",
        )  # fmt: skip
    sections: dict[str, list[ItemResult]] = {
        s: [e.item(i) for i in ev.ML_TEST_SCORE[s]] for s in ev.SECTIONS
    }
    stamp = e.report.timestamp if e.report else "none"
    return Readiness(
        sections=sections,
        definition_of_done=dod,
        domain=domain,
        regulated_domain=domain_name,
        threshold=settings.governance.readiness_threshold,
        report=f"{e.report_name} ({stamp})",
    )


def summary(r: Readiness) -> str:
    parts = ", ".join(f"{s} {r.section_score(s):.1f}" for s in r.sections)
    return (
        f"ML Test Score {r.score:.1f} ({parts}); definition of done "
        f"{r.done}/{len(r.definition_of_done)}; threshold {r.threshold:.1f}"
    )


def as_json(r: Readiness) -> str:
    data = {
        "score": r.score,
        "threshold": r.threshold,
        "sections": {s: r.section_score(s) for s in r.sections},
        "items": {s: [asdict(i) for i in items] for s, items in r.sections.items()},
        "definition_of_done": [asdict(i) for i in r.definition_of_done],
        "domain": [asdict(i) for i in r.domain],
        "regulated_domain": r.regulated_domain,
        "test_report": r.report,
    }
    return json.dumps(data, indent=2) + "\n"
