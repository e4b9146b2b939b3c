"""The readiness report, three ways: a terminal table, Markdown and a standalone HTML page."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..atomic import write_text
from ..settings import Settings
from .ready import ItemResult, Readiness, as_json, score_readiness, summary

MARK = {"automated": "1.0 auto", "manual": "0.5 manual", "missing": "0 missing"}


def _rows(r: Readiness) -> list[tuple[str, str, ItemResult]]:
    rows = [(s, f"{i.points:.1f}", i) for s, items in r.sections.items() for i in items]
    rows += [("done", "done" if i.status != "missing" else "open", i) for i in r.definition_of_done]
    rows += [(r.regulated_domain, "ok" if i.status != "missing" else "open", i) for i in r.domain]
    return rows


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (regular expressions hold pipes)."""
    return text.replace("|", "\\|")


def table(r: Readiness) -> str:
    lines = [f"{'item':<17} {'points':<7} {'status':<9} evidence / what is missing"]
    for _, points, i in _rows(r):
        said = "; ".join(i.evidence) if i.status != "missing" else i.note
        lines.append(f"{i.key:<17} {points:<7} {i.status:<9} {said[:140]}")
    lines.append(summary(r))
    return "\n".join(lines)


def _scored(r: Readiness) -> list[ItemResult]:
    return [i for items in r.sections.values() for i in items]


def markdown(r: Readiness) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    verdict = "PASS" if r.score >= r.threshold else "BELOW THRESHOLD"
    out = [
        "# Readiness report",
        "",
        f"Written by `ready` on {now} from the test report {r.report}, the CI configuration,",
        "the model registry and the documents in `governance/`. Do not edit: re-run `ready`.",
        "",
        f"**{verdict}**: {summary(r)}.",
        "",
        "## ML Test Score (Breck et al., 2017)",
        "",
        "| section | score |",
        "| --- | --- |",
        *[f"| {s} | {r.section_score(s):.1f} / 7 |" for s in r.sections],
        f"| **final (lowest section)** | **{r.score:.1f}** |",
        "",
    ]
    for section, items in r.sections.items():
        out += [f"### {section.capitalize()}", "", "| item | test | points | evidence |"]
        out += ["| --- | --- | --- | --- |"]
        for i in items:
            said = "<br>".join(i.evidence) if i.status != "missing" else f"missing: {i.note}"
            out.append(f"| {i.key} | {i.title} | {i.points:.1f} ({i.status}) | {_cell(said)} |")
        out.append("")
    manual = [i for i in _scored(r) if i.manual_only]
    out += ["## Tests that remain manual, and why", ""]
    out += ["No automated check exists for these; a result documented in"]
    out += ["`governance/manual-tests.md` earns half a point each.", ""]
    out += [f"- **{i.key}** {i.title}: {i.note}" for i in manual] or ["None."]
    pending = [i for i in _scored(r) if not i.manual_only and i.status != "automated"]
    out += ["", "## Automated checks not (yet) earning a point", ""]
    out += [f"- **{i.key}** {i.title}: {i.note}" for i in pending] or ["None."]
    out.append("")
    out += ["## Definition of done", "", "| item | status | evidence |", "| --- | --- | --- |"]
    for i in [*r.definition_of_done, *r.domain]:
        said = "<br>".join(i.evidence) if i.status != "missing" else f"missing: {i.note}"
        state = "done" if i.status != "missing" else "open"
        out.append(f"| {i.key} {i.title} | {state} | {_cell(said)} |")
    return "\n".join(out) + "\n"


CSS = """body{font:15px/1.5 system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;
padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#f3f3f3}
.automated,.done{background:#e6f4ea}.manual{background:#fff4d6}.missing,.open{background:#fde7e7}
.score{font-size:1.4rem}code{font-size:.9em}"""


def html_page(r: Readiness) -> str:
    e = html.escape
    verdict = "meets" if r.score >= r.threshold else "is below"
    head = (
        f"<p class=score>ML Test Score <b>{r.score:.1f}</b> ({verdict} the threshold "
        f"{r.threshold:.1f}); definition of done {r.done}/{len(r.definition_of_done)}.</p>"
        f"<p>Evidence: test report {e(r.report)}, CI configuration, model registry, "
        "documents in <code>governance/</code>.</p>"
    )
    scores = "".join(
        f"<tr><td>{e(s)}</td><td>{r.section_score(s):.1f} / 7</td></tr>" for s in r.sections
    )
    body = [head, f"<table><tr><th>section</th><th>score</th></tr>{scores}</table>"]
    current = ""
    for group, points, i in _rows(r):
        if group != current:
            if current:
                body.append("</table>")
            body.append(f"<h2>{e(group)}</h2><table><tr><th>item</th><th>test</th>")
            body.append("<th>result</th><th>evidence / what is missing</th></tr>")
            current = group
        said = "<br>".join(e(t) for t in i.evidence) if i.status != "missing" else e(i.note)
        css = i.status if group not in ("done", r.regulated_domain) else points
        body.append(
            f"<tr class={css}><td>{e(i.key)}</td><td>{e(i.title)}</td>"
            f"<td>{e(points)} {e(i.status)}</td><td>{said}</td></tr>"
        )
    body.append("</table>")
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Readiness report</title>"
        f"<style>{CSS}</style><h1>Readiness report</h1>{''.join(body)}</html>\n"
    )


@dataclass(frozen=True)
class ReadinessRun:
    """What `ready` did: the scores, whether they pass, the files written."""

    readiness: Readiness
    passed: bool
    written: tuple[Path, ...]


def write_readiness(settings: Settings) -> ReadinessRun:
    """The `ready` stage: score readiness, write governance/readiness.md and .html and
    reports/readiness.json, and judge it (with ``governance.require_definition_of_done``)."""
    result = score_readiness(settings)
    docs = settings.path(settings.governance.docs_dir)
    report = settings.path(settings.governance.reports_dir) / "readiness.json"
    written = (
        (docs / "readiness.md", markdown(result)),
        (docs / "readiness.html", html_page(result)),
        (report, as_json(result)),
    )
    for path, text in written:
        write_text(path, text)
    passed = result.passed(settings.governance.require_definition_of_done)
    return ReadinessRun(result, passed, tuple(path for path, _ in written))
