"""Outcomes: the labels that arrive after a decision, joined to the decision they judge.

An outcome file (CSV, Parquet, or a table behind a SQLAlchemy URL) has the contract's label
column, and ``request_id`` (with ``row`` for batch requests, default 0) or the contract's key
column, and ``outcome_time`` (ISO 8601; needed to join by key). Each row is:

- quarantined, with its reason, when its label breaks the contract's label rules, it names no
  decision (neither request id nor key), its time or key is malformed, or it repeats another
  row of the file;
- joined to the decision with its request id (and row), or else to the latest decision for its
  key made within ``monitoring.attribution_window_hours`` before the outcome;
- unmatched when no decision fits: counted, reported and written beside the quarantine so it
  can be ingested again once its decision is found (never silently dropped).

``rows read = joined + unmatched + quarantined``. Joined outcomes are stored in SQLite
(``monitoring.outcomes_db``), one row per decision: ingesting the same outcomes again adds
nothing (they are counted as already stored).
"""

from __future__ import annotations

import json
import sqlite3
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Hashable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.errors as pa_errors
import pandera.pandas as pa

from ..data.roles import contract_column
from ..data.schema import KEY as CONTRACT_KEY
from ..data.schema import LABEL
from ..errors import PilotError
from ..records.decision_log import normalize_ts, protect_key, read_records
from ..settings import Settings

# A contract without an entity key joins outcomes by request id only; a `key` column then
# matches no decision and is reported as unmatched.
KEY = CONTRACT_KEY or "key"

REQUEST_ID, ROW, OUTCOME_TIME = "request_id", "row", "outcome_time"
REASON = "_reason"

SCHEMA = """
CREATE TABLE IF NOT EXISTS outcomes (
    request_id TEXT NOT NULL,
    row INTEGER NOT NULL,
    key TEXT,
    label TEXT NOT NULL,
    outcome_time TEXT,
    decision_ts TEXT NOT NULL,
    model_name TEXT NOT NULL,
    model_version TEXT NOT NULL,
    output TEXT NOT NULL,
    inputs TEXT NOT NULL,
    source TEXT NOT NULL,
    ingested_at REAL NOT NULL,
    PRIMARY KEY (request_id, row)
)
"""


class OutcomeError(PilotError):
    """Outcomes that cannot be read or stored, reported as one line."""


@dataclass
class OutcomeReport:
    source: str
    rows_read: int = 0
    stored: int = 0  # joined and new
    already: int = 0  # joined, stored by an earlier ingest
    unmatched: int = 0
    quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    quarantine: Path | None = None
    unmatched_file: Path | None = None
    store: Path | None = None

    @property
    def joined(self) -> int:
        return self.stored + self.already

    def summary(self) -> str:
        text = (
            f"outcomes {self.source}: {self.rows_read} read = {self.joined} joined "
            f"({self.stored} new, {self.already} already stored) + {self.unmatched} unmatched"
            f" + {self.quarantined} quarantined"
        )
        if self.reasons:
            text += " (" + ", ".join(f"{r}: {n}" for r, n in sorted(self.reasons.items())) + ")"
        return text


def read_source(source: str, table: str = "outcomes") -> pd.DataFrame:
    """Outcome rows from a .csv or .parquet file, or a table behind a SQLAlchemy URL."""
    try:
        if "://" in source:
            import sqlalchemy

            engine = sqlalchemy.create_engine(source)
            try:
                with engine.connect() as conn:
                    return pd.read_sql_table(table, conn)
            finally:
                engine.dispose()
        path = Path(source)
        if path.suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
    except FileNotFoundError:
        raise OutcomeError(f"outcomes {source}: no such file") from None
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise OutcomeError(f"outcomes {source}: cannot read ({first})") from None
    raise OutcomeError(f"outcomes {source}: not a .csv, .parquet or SQLAlchemy URL")


def _label_problems(frame: pd.DataFrame) -> dict[int, str]:
    """Row index -> why the label breaks the contract's label column (dtype and checks)."""
    schema = pa.DataFrameSchema({LABEL: contract_column(LABEL)}, coerce=True)
    problems: dict[int, str] = {}
    remaining = frame[[LABEL]]
    for _ in range(3):  # a value that cannot be coerced hides the other checks
        try:
            schema.validate(remaining, lazy=True)
            break
        except pa_errors.SchemaErrors as exc:
            cases = exc.failure_cases
            cases = cases[cases["index"].notna()]
            coerce = cases[cases["check"].astype(str).str.startswith("coerce_dtype")]
            cases = coerce if len(coerce) else cases  # other checks saw uncoerced values
            if cases.empty:
                break
            for idx, check in cases[["index", "check"]].itertuples(index=False):
                problems.setdefault(int(idx), f"{LABEL}: {check}")
            remaining = remaining.drop(index=sorted(problems), errors="ignore")
    return problems


def _key_problem(value: Any) -> str | None:
    if CONTRACT_KEY is None:
        return None
    for check in contract_column(CONTRACT_KEY).checks:
        pattern = (check.statistics or {}).get("pattern")
        if check.name == "str_matches" and pattern:
            import re

            if not re.search(str(pattern), str(value)):
                return f"{KEY}: does not match {pattern}"
    return None


def validate(frame: pd.DataFrame, source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(valid rows, quarantined rows with ``_reason``); see the module docstring."""
    if LABEL not in frame.columns:
        raise OutcomeError(f"outcomes {source}: no '{LABEL}' column (the contract's label)")
    if REQUEST_ID not in frame.columns and KEY not in frame.columns:
        raise OutcomeError(f"outcomes {source}: needs a '{REQUEST_ID}' or a '{KEY}' column")
    frame = frame.reset_index(drop=True).copy()
    for column in (REQUEST_ID, KEY, OUTCOME_TIME):
        if column not in frame.columns:
            frame[column] = None
    if ROW not in frame.columns:
        frame[ROW] = 0
    reasons: dict[int, str] = _label_problems(frame)
    times = pd.to_datetime(frame[OUTCOME_TIME], utc=True, errors="coerce", format="mixed")
    rows = pd.to_numeric(frame[ROW], errors="coerce")
    for i, rid, key, raw_time, row in zip(
        frame.index, frame[REQUEST_ID], frame[KEY], frame[OUTCOME_TIME], rows, strict=True
    ):
        if i in reasons:
            continue
        has_rid, has_key = pd.notna(rid) and str(rid) != "", pd.notna(key) and str(key) != ""
        if not has_rid and not has_key:
            reasons[i] = f"no {REQUEST_ID} or {KEY}"
        elif pd.notna(raw_time) and str(raw_time) != "" and pd.isna(times[i]):
            reasons[i] = f"{OUTCOME_TIME}: not an ISO 8601 time"
        elif pd.isna(row) or row < 0 or row != int(row):
            reasons[i] = f"{ROW}: not a row number"
        elif not has_rid and pd.isna(times[i]):
            reasons[i] = f"{OUTCOME_TIME}: needed to join by {KEY}"
        elif has_key and (problem := _key_problem(key)):
            reasons[i] = problem
    frame[OUTCOME_TIME] = times
    frame[ROW] = rows.fillna(0).astype(int)
    ids = frame[REQUEST_ID].where(frame[REQUEST_ID].notna() & (frame[REQUEST_ID] != ""))
    identity = ids.astype(str) + "/" + frame[ROW].astype(str)
    identity = identity.where(
        ids.notna(), "key:" + frame[KEY].astype(str) + "@" + times.astype(str)
    )
    seen: set[str] = set()
    for i, ident in zip(frame.index, identity, strict=True):
        if i in reasons:
            continue
        if ident in seen:
            reasons[i] = "duplicate of an earlier row of the file"
        seen.add(ident)
    bad = sorted(reasons)
    quarantined = frame.loc[bad].assign(**{REASON: [reasons[i] for i in bad]})
    return frame.drop(index=bad), quarantined


class DecisionIndex:
    """The decision log, indexed by (request id, row) and by key (sorted by time)."""

    def __init__(self, records: Iterator[dict[str, Any]]) -> None:
        self.by_request: dict[tuple[str, int], dict[str, Any]] = {}
        by_key: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for r in records:
            self.by_request[(str(r["request_id"]), int(r.get("row", 0)))] = r
            if r.get("key") is not None:
                by_key.setdefault(str(r["key"]), []).append((str(r["ts"]), r))
        self.by_key = {k: sorted(v, key=lambda t: t[0]) for k, v in by_key.items()}

    def find(
        self, outcome: Mapping[Hashable, Any], window: timedelta
    ) -> tuple[dict[str, Any] | None, str]:
        rid = outcome[REQUEST_ID]
        if pd.notna(rid) and str(rid) != "":
            found = self.by_request.get((str(rid), int(outcome[ROW])))
            return found, "" if found else f"no decision with this {REQUEST_ID} and {ROW}"
        candidates = self.by_key.get(str(protect_key(outcome[KEY])), [])
        when: pd.Timestamp = outcome[OUTCOME_TIME]
        until = normalize_ts(when.isoformat())
        since = normalize_ts((when - window).isoformat())
        i = bisect_right([ts for ts, _ in candidates], until)
        if i and candidates[i - 1][0] >= since:
            return candidates[i - 1][1], ""
        hours = window.total_seconds() / 3600
        return None, f"no decision for this {KEY} within {hours:g} h before the outcome"


def connect(settings: Settings) -> sqlite3.Connection:
    path = settings.path(settings.monitoring.outcomes_db)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute(SCHEMA)
    return conn


def _label_value(value: Any) -> Any:
    """The coerced label as JSON (numpy scalars become Python numbers)."""
    return value.item() if hasattr(value, "item") else value


def _write_rows(path: Path, frame: pd.DataFrame) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


@dataclass
class _Joined:
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # the store's columns
    unmatched: list[tuple[int, str]] = field(default_factory=list)  # (row, why)
    duplicates: dict[int, str] = field(default_factory=dict)  # row -> reason


def _join(
    valid: pd.DataFrame, labels: pd.Series, index: DecisionIndex, window: timedelta, source: str
) -> _Joined:
    """Each outcome to its decision; a decision is claimed by one outcome row at most."""
    out, now = _Joined(), time.time()
    claimed: set[tuple[str, int]] = set()
    indices: list[int] = [int(i) for i in valid.index]
    for i, outcome, label in zip(indices, valid.to_dict("records"), labels, strict=True):
        decision, why = index.find(outcome, window)
        if decision is None:
            out.unmatched.append((i, why))
            continue
        ident = (str(decision["request_id"]), int(decision.get("row", 0)))
        if ident in claimed:
            out.duplicates[i] = "another row of the file joins the same decision"
            continue
        claimed.add(ident)
        when = outcome[OUTCOME_TIME]
        out.rows.append(
            (
                *ident,
                decision.get("key"),
                json.dumps(_label_value(label)),
                None if pd.isna(when) else normalize_ts(when.isoformat()),
                decision["ts"],
                decision["model_name"],
                str(decision["model_version"]),
                json.dumps(decision["output"]),
                json.dumps(decision["inputs"]),
                source,
                now,
            )
        )
    return out


def _store(settings: Settings, rows: list[tuple[Any, ...]]) -> int:
    """Insert joined rows (idempotent: a decision's outcome is stored once); rows added."""
    try:
        with closing(connect(settings)) as conn, conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO outcomes VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows
            )
            return int(conn.total_changes - before)
    except sqlite3.Error as exc:
        raise OutcomeError(f"outcome store {settings.monitoring.outcomes_db}: {exc}") from None


def ingest(settings: Settings, source: str, table: str = "outcomes") -> OutcomeReport:
    """Validate, join and store outcomes; see the module docstring."""
    frame = read_source(source, table)
    report = OutcomeReport(source=source, rows_read=len(frame))
    valid, quarantined = validate(frame, source)
    labels = pa.DataFrameSchema({LABEL: contract_column(LABEL)}, coerce=True).validate(
        valid[[LABEL]]
    )[LABEL]
    index = DecisionIndex(read_records(settings.path(settings.serving.decision_log_dir)))
    window = timedelta(hours=settings.monitoring.attribution_window_hours)
    joined = _join(valid, labels, index, window, source)
    if joined.duplicates:
        rows = sorted(joined.duplicates)
        more = valid.loc[rows].assign(**{REASON: [joined.duplicates[i] for i in rows]})
        quarantined = pd.concat([quarantined, more])
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out_dir = settings.path(settings.data.quarantine_dir)
    if len(quarantined):
        report.quarantine = _write_rows(out_dir / f"outcomes-{stamp}.csv", quarantined)
    unmatched = joined.unmatched
    if unmatched:
        rows_ = valid.loc[[i for i, _ in unmatched]].assign(**{REASON: [w for _, w in unmatched]})
        report.unmatched_file = _write_rows(out_dir / f"outcomes-unmatched-{stamp}.csv", rows_)
    report.quarantined, report.unmatched = len(quarantined), len(unmatched)
    report.reasons = Counter(quarantined[REASON]) + Counter(w for _, w in unmatched)
    report.stored = _store(settings, joined.rows)
    report.already = len(joined.rows) - report.stored
    report.store = settings.path(settings.monitoring.outcomes_db)
    if report.rows_read != report.joined + report.unmatched + report.quarantined:
        raise OutcomeError(f"outcomes {source}: accounting does not add up ({report.summary()})")
    return report


def joined_rows(settings: Settings) -> list[dict[str, Any]]:
    """Every stored outcome with its decision (what `monitor` measures)."""
    if not settings.path(settings.monitoring.outcomes_db).exists():
        return []
    with closing(connect(settings)) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM outcomes ORDER BY decision_ts").fetchall()
    out = []
    for r in rows:
        d = dict(r)
        for column in ("label", "output", "inputs"):
            d[column] = json.loads(d[column])
        out.append(d)
    return out
