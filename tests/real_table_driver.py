"""Carry one real table through a generated pilot, in ONE process: the real-table tier's driver.

Not part of the template: `tests/test_real_tables.py` runs it with the pilot's own interpreter
(`uv run --locked python real_table_driver.py SPEC OUT`), from the pilot's root, after restoring
the pilot to its generated state. Every step is the pilot's own command line (`<slug> ...`),
invoked in-process so the heavy imports (pandas, scikit-learn, MLflow) happen once per table;
serving is the FastAPI app in-process (TestClient), as the pilot's own API tests do.

The path, with default flags everywhere:
  data adopt FILE --label COL -> ingest -> train --shuffle-labels -> evaluate (must be refused)
  -> train -> promote --to staging (the gate) -> promote --to production -> /ready, /predict,
  /explain on the table's own rows -> score --input FILE -> ready

The shuffled-label drill runs before any champion exists, so the gate must refuse it on its
own rules (baseline, slices, declared target), not because a better champion is registered.

SPEC is JSON: {"package", "csv", "label", "task", "family"}. OUT receives a JSON record: facts
about the table and the adoption, the gate's figures, and one entry per step (ok, seconds,
a one-line detail). A step that raises an unknown exception is recorded as a crash with the
exception and the pilot frame it came from.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import re
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

SERVED_ROWS = 25  # real rows sent to /predict and /explain in one batch


class Driver:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.pkg: str = spec["package"]
        self.csv = Path(spec["csv"]).resolve()
        self.steps: list[dict[str, Any]] = []
        self.facts: dict[str, Any] = {"family": spec["family"], "expected_task": spec["task"]}

    # -- running the pilot's command line in-process ---------------------------------------
    def cli(self, step: str, *args: str, expect: int | None = 0) -> dict[str, Any]:
        """Run `<slug> ARGS` in this process; record exit code, output and a one-line detail."""
        from typer.testing import CliRunner

        cli = importlib.import_module(f"{self.pkg}.cli")
        errors = importlib.import_module(f"{self.pkg}.errors")
        started = time.perf_counter()
        result = CliRunner().invoke(cli.app, list(args), catch_exceptions=True)
        seconds = time.perf_counter() - started
        out = result.stdout
        exc = result.exception
        entry: dict[str, Any] = {"step": step, "args": list(args), "seconds": round(seconds, 2)}
        if exc is not None and not isinstance(exc, SystemExit):
            if errors.is_known(exc):  # the CLI prints these as one line and exits 1
                code, refusal = 1, f"error: {exc}"
                entry["crash"] = None
            else:
                code, refusal = None, None
                entry["crash"] = crash_line(exc, self.pkg)
        else:
            code, refusal = result.exit_code, None
            entry["crash"] = None
        entry["exit"] = code
        entry["stdout"] = out[-6000:]
        entry["refusal"] = refusal
        last = refusal or (out.strip().splitlines() or [""])[-1]
        entry["detail"] = entry["crash"] or last[:400]
        entry["ok"] = entry["crash"] is None and (expect is None or code == expect)
        self.steps.append(entry)
        return entry

    def step(self, step: str, fn: Any) -> dict[str, Any]:
        """A step that is not a command (serving): fn returns (ok, detail)."""
        started = time.perf_counter()
        entry: dict[str, Any] = {"step": step, "crash": None}
        try:
            ok, detail = fn()
        except Exception as exc:  # recorded, the table's other steps still run
            ok, detail = False, crash_line(exc, self.pkg)
            entry["crash"] = detail
        entry |= {"ok": ok, "detail": detail, "seconds": round(time.perf_counter() - started, 2)}
        self.steps.append(entry)
        return entry

    # -- the path --------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            self._path()
        finally:
            self.facts["seconds"] = round(time.perf_counter() - started, 1)
        return {"facts": self.facts, "steps": self.steps}

    def _path(self) -> None:
        import pandas as pd

        frame = pd.read_csv(self.csv)
        self.facts |= {"rows": len(frame), "columns": frame.shape[1]}
        label = self.spec["label"]
        adopt = self.cli("adopt", "data", "adopt", str(self.csv), "--label", label)
        if not adopt["ok"]:
            return
        self._forget_package()  # adopt rewrote schema.py and config/pilot.toml
        self._adoption(adopt["stdout"])
        ingest = self.cli("ingest", "ingest")
        self._ingest_counts(ingest["stdout"], len(frame))
        if not ingest["ok"]:
            return
        drill = self.cli("drill: train --shuffle-labels", "train", "--shuffle-labels")
        if drill["ok"]:
            judged = self.cli("drill: gate refuses", "evaluate", expect=1)
            verdict = self._verdict("challenger")
            self.facts["drill"] = verdict
            refused = judged["exit"] == 1 and verdict.get("verdict") == "failed"
            judged["ok"] = judged["crash"] is None and refused
            if not refused and judged["crash"] is None:
                judged["detail"] = f"the gate passed a shuffled-label model: {judged['detail']}"
        train = self.cli("train", "train")
        if not train["ok"]:
            return
        gate = self.cli("gate: promote --to staging", "promote", "--to", "staging",
                        "--reason", "real-table tier")  # fmt: skip
        self.facts["gate"] = self._verdict("challenger")
        if not gate["ok"]:
            return
        production = self.cli("promote --to production", "promote", "--to", "production",
                              "--reason", "real-table tier")  # fmt: skip
        if not production["ok"]:
            return
        self.step("serve: /ready, /predict, /explain", lambda: self._serve(frame))
        scored = Path("var") / "real-table-scored.parquet"
        score = self.cli("score", "score", "--input", str(self.csv), "--output", str(scored),
                         "--reason", "real-table tier")  # fmt: skip
        self._score_counts(score, len(frame))
        if score["ok"]:
            self._score_output(score, scored, frame)
        ready = self.cli("ready", "ready", expect=None)
        self._ready(ready)

    # -- facts -----------------------------------------------------------------------------
    def _forget_package(self) -> None:
        for name in [m for m in sys.modules if m == self.pkg or m.startswith(self.pkg + ".")]:
            del sys.modules[name]

    def _adoption(self, stdout: str) -> None:
        schema = importlib.import_module(f"{self.pkg}.data.schema")
        roles = importlib.import_module(f"{self.pkg}.data.roles")
        done = re.search(r"adopted (\d+) rows, task (\w+)", stdout)
        task = done.group(2) if done else getattr(schema, "TASK", "?")
        dropped = [line.split(":")[0] for line in stdout.splitlines() if "-> dropped" in line]
        self.facts["task"] = task
        self.facts["adoption"] = {
            "key": schema.KEY,
            "time": schema.TIME,
            "numeric": len(schema.NUMERIC_FEATURES),
            "categorical": len(schema.CATEGORICAL_FEATURES),
            "protected": list(schema.PROTECTED_COLUMNS),
            "pii": list(schema.PII_COLUMNS),
            "dropped": dropped,
            "positive": _plain(getattr(roles, "POSITIVE", None)) if task == "binary" else None,
            "review": dict(getattr(roles, "PROTECTED_REVIEW", {})),
            "decisions": [line for line in stdout.splitlines() if " -> " in line],
        }
        if task != self.spec["task"]:
            entry = self.steps[-1]
            entry["ok"] = False
            entry["detail"] = f"adopted as {task}, expected {self.spec['task']}"

    def _ingest_counts(self, stdout: str, rows: int) -> None:
        counts = {
            name: int(m.group(1))
            for name, pattern in [
                ("read", r"ingested (\d+) rows"),
                ("accepted", r"(\d+) accepted"),
                ("unlabeled", r"(\d+) unlabeled"),
                ("quarantined", r"(\d+) quarantined"),
            ]
            if (m := re.search(pattern, stdout))
        }
        self.facts["ingest"] = counts
        entry = self.steps[-1]
        if not entry["ok"]:
            return
        if counts.get("read") != rows:
            entry |= {"ok": False, "detail": f"read {counts.get('read')} of the file's {rows} rows"}
        elif counts.get("quarantined", 0):
            entry |= {"ok": False, "detail": f"quarantined {counts['quarantined']} rows of the "
                      f"table adopt wrote the contract from: {entry['detail']}"}  # fmt: skip

    def _verdict(self, alias: str) -> dict[str, Any]:
        """The gate's recorded verdict on the version behind alias (tags on the version)."""
        try:
            from mlflow import MlflowClient

            settings = importlib.import_module(f"{self.pkg}.settings").get_settings()
            registry = importlib.import_module(f"{self.pkg}.model.registry")
            client = MlflowClient()
            if hasattr(registry, "configure"):
                client = registry.configure(settings)
            version = client.get_model_version_by_alias(settings.model.name, alias)
            tags = version.tags
        except Exception as exc:
            return {"error": crash_line(exc, self.pkg)}
        out: dict[str, Any] = {"version": version.version}
        for name in ("verdict", "metric", "value", "baseline", "failed", "holdout_rows"):
            if f"gate.{name}" in tags:
                out[name] = tags[f"gate.{name}"]
        out["summary"] = tags.get("gate.summary", "")[:600]
        return out

    def _serve(self, frame: Any) -> tuple[bool, str]:
        from fastapi.testclient import TestClient

        app_module = importlib.import_module(f"{self.pkg}.serving.app")
        schema = importlib.import_module(f"{self.pkg}.data.schema")
        settings = importlib.import_module(f"{self.pkg}.settings").get_settings()
        rows = request_rows(frame, schema, SERVED_ROWS)
        labels = {str(v) for v in frame[self.spec["label"]].dropna().unique()}
        with TestClient(app_module.create_app(settings)) as client:
            ready = client.get("/ready")
            if ready.status_code != 200:
                return False, f"/ready {ready.status_code}: {ready.text[:300]}"
            for route, key in (("/predict", "predictions"), ("/explain", "explanations")):
                answer = client.post(route, json={"rows": rows})
                if answer.status_code != 200:
                    why = f"{answer.status_code} {answer.text[:300]}"
                    return False, f"{route} of the table's rows: {why}"
                items = answer.json()[key]
                if len(items) != len(rows):
                    return False, f"{route}: {len(items)} answers for {len(rows)} rows"
                for item in items:
                    problem = answer_problem(
                        item, schema.TASK, labels, lambda v: self._is_label(v, labels)
                    )
                    if problem:
                        return False, f"{route}: {problem}"
            one = client.post("/predict", json=rows[0])
            if one.status_code != 200:
                return False, f"/predict of one row: {one.status_code} {one.text[:300]}"
        return True, f"{len(rows)} rows of the table predicted and explained"

    def _score_counts(self, entry: dict[str, Any], rows: int) -> None:
        m = re.search(r"read (\d+) rows = (\d+) scored \+ (\d+) quarantined", entry["stdout"])
        if m is None:
            return
        read, scored, quarantined = (int(g) for g in m.groups())
        self.facts["score"] = {"read": read, "scored": scored, "quarantined": quarantined}
        if entry["ok"] and (read != rows or quarantined):
            entry |= {"ok": False, "detail": f"score read {read} of {rows} rows, quarantined "
                      f"{quarantined} (the table adopt wrote the contract from)"}  # fmt: skip

    def _is_label(self, value: Any, labels: set[str]) -> bool:
        """The answer is one of the table's label values, by the pilot's own rule (data/roles.py:
        1, 1.0 and "1" are the same label)."""
        same_label = importlib.import_module(f"{self.pkg}.data.roles").same_label
        return any(same_label(value, v) for v in labels)

    def _score_output(self, entry: dict[str, Any], scored: Path, frame: Any) -> None:
        """The batch output answers in the table's own label values, one row per scored row."""
        import pandas as pd

        output = pd.read_parquet(scored)
        labels = {str(v) for v in frame[self.spec["label"]].dropna().unique()}
        expected = self.facts.get("score", {}).get("scored")
        problem = None
        if expected is not None and len(output) != expected:
            problem = f"the output has {len(output)} rows for {expected} scored"
        elif "prediction" not in output:
            problem = f"no prediction column in the output ({', '.join(map(str, output))})"
        elif self.facts.get("task") != "regression":
            strange = [v for v in output["prediction"].unique() if not self._is_label(v, labels)]
            if strange:
                problem = f"predictions {strange[:3]} are not the label's values {sorted(labels)}"
        if problem:
            entry |= {"ok": False, "detail": f"batch output: {problem}"}

    def _ready(self, entry: dict[str, Any]) -> None:
        """`ready` judges evidence; 'not ready' is an answer (exit 1), a crash is not."""
        report = Path("reports") / "readiness.json"
        if entry["crash"] is None and entry["exit"] in (0, 1) and report.exists():
            data = json.loads(report.read_text())
            open_items = [
                f"{i.get('key')}: {i.get('title')}"
                for i in data.get("definition_of_done", [])
                if i.get("points", 0) < 1
            ]
            self.facts["ready"] = {"score": data.get("score"), "open": open_items,
                                   "exit": entry["exit"]}  # fmt: skip
            entry["ok"] = True
        elif entry["crash"] is None:
            entry["ok"] = False
            entry["detail"] = f"exit {entry['exit']} without a readiness report: {entry['detail']}"


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int | float):
        return value
    try:
        return value.item()  # numpy scalars
    except AttributeError:
        return str(value)


def request_rows(frame: Any, schema: Any, n: int) -> list[dict[str, Any]]:
    """The table's own rows as a caller sends them: the contract's request fields, by name."""
    renames: dict[str, str] = dict(getattr(schema, "RENAMES", {}))
    source_of = {contract: source for source, contract in renames.items()}
    fields = list(schema.FEATURES) + [c for c in (schema.KEY, schema.TIME) if c is not None]
    rows = []
    for record in frame.head(n).to_dict("records"):
        row = {}
        for name in fields:
            value = _json_value(record[source_of.get(name, name)])
            if name == schema.KEY and value is not None:
                value = str(value)
            row[name] = value
        rows.append(row)
    return rows


def _json_value(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is not None and not isinstance(value, str | int | float | bool):
        return str(value)
    return value


def answer_problem(
    item: dict[str, Any], task: str, labels: set[str], is_label: Callable[[Any], bool]
) -> str | None:
    """Why one answer lacks the task's shape, or None."""
    if task == "regression":
        ok = isinstance(item.get("prediction"), int | float) and math.isfinite(item["prediction"])
        return None if ok else f"regression answer {item.get('prediction')!r} is not a number"
    if not is_label(item.get("prediction")):
        values = sorted(labels)
        return f"prediction {item.get('prediction')!r} is not one of the label's values {values}"
    if task == "binary":
        p = item.get("probability")
        if not isinstance(p, int | float) or not 0 <= p <= 1:
            return f"binary answer without a probability in [0, 1]: {item}"
        return None
    probabilities = item.get("probabilities") or {}
    if len(probabilities) != len(labels) or not all(map(is_label, probabilities)):
        return f"probabilities for {sorted(probabilities)}, the label has {sorted(labels)}"
    if not math.isclose(sum(probabilities.values()), 1.0, rel_tol=1e-6):
        return f"probabilities sum to {sum(probabilities.values())}"
    return None


def crash_line(exc: BaseException, pkg: str) -> str:
    """The exception and the deepest frame in the pilot's own code: one line."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f"/{pkg}/" in f.filename]
    where = ours[-1] if ours else (frames[-1] if frames else None)
    place = f" at {Path(where.filename).name}:{where.lineno} ({where.name})" if where else ""
    message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    return f"crash: {type(exc).__name__}: {message}{place}"


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    os.environ.setdefault("APP_MODEL__ESTIMATOR", spec["family"])
    record = Driver(spec).run()
    out.write_text(json.dumps(record, indent=1, default=str))


if __name__ == "__main__":
    main()
