"""Facts for the governance documents, read from the registry, the data and the settings.

Each function returns the Markdown of one generated block. A fact that cannot be read says
``MISSING`` and why, which keeps the document incomplete until the system provides it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .. import atomic
from ..data.schema import SCHEMA_VERSION, TASK, PilotSchema
from ..model import metrics
from ..settings import Settings
from . import quality
from .evidence import PKG
from .sources import RegistryFacts, registry_facts

CODE = f"../src/{PKG}"
FAIRNESS_HEAD = (
    "attribute", "group", "class", "rows", quality.OUTCOME, "impact ratio", "95% upper", "p"
)  # fmt: skip  # documents live in governance/, one level below the project root


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _table(head: tuple[str, ...], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


class Facts:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registry: RegistryFacts = registry_facts(settings)
        self.processed = settings.training_table
        self._scored: tuple[pd.DataFrame, np.ndarray] | None = None

    def blocks(self) -> dict[str, Callable[[], str]]:
        return {
            "model": self.model,
            "metrics": self.metrics,
            "slices": self.slices,
            "fairness": self.fairness,
            "data": self.data,
            "schema": self.schema,
            "thresholds": self.thresholds,
            "kpis": self.kpis,
            "decision-log": self.decision_log,
            "live-quality": self.live_quality,
            "shadow": self.shadow,
            "alerts": self.alerts,
            "explainability": self.explainability,
            "access-control": self.access_control,
            "lineage": self.lineage,
            "rollback": self.rollback,
            "decisions": self.decisions,
            "protected-review": self.protected_review,
        }

    # the model and its quality
    def model(self) -> str:
        r = self.registry
        if r.problem:
            return f"MISSING: {r.problem}; run `train`."
        from ..model.scorer import EXPLAINED, method_of

        params = ", ".join(f"{k}={v}" for k, v in sorted(r.params.items()))
        family = r.params.get("estimator", self.settings.model.estimator)
        return _table(
            ("fact", "value"),
            [
                ("registered model", f"`{r.name}` version {r.version} (alias `{r.alias}`)"),
                ("registered at", _when(r.created_ms)),
                ("MLflow run", f"`{r.run_id}`"),
                ("training code", f"[model/train.py]({CODE}/model/train.py)"),
                ("task", f"{TASK} (from the data contract)"),
                ("model family", f"`{family}` ([model/estimators.py]({CODE}/model/estimators.py))"),
                ("explanations", f"{method_of(family)}, contributions to the {EXPLAINED}"),
                ("holdout", r.tags.get("holdout", "MISSING: not recorded by this run")),
                ("fitted on", r.tags.get("train.sample", "MISSING: not recorded by this run")),
                ("learning curve", _curve(r.metrics) or "not recorded by this run"),
                ("parameters", params),
            ],
        )

    def metrics(self) -> str:
        r = self.registry
        if r.problem:
            return f"MISSING: {r.problem}."
        rows = [(k, f"{v:.4g}") for k, v in sorted(r.metrics.items())]
        return "Held-out test split, as logged by training:\n\n" + _table(("metric", "value"), rows)

    def _holdout(self) -> tuple[pd.DataFrame, np.ndarray] | str:
        if self.registry.problem:
            return self.registry.problem
        if not self.processed.exists():
            return f"no processed data at {self.processed}"
        if self._scored is None:
            from ..model.holdout import holdout, predict
            from ..model.registry import load_pipeline, resolve_alias

            ref = resolve_alias(self.settings, self.registry.alias)
            pipeline = load_pipeline(self.settings, ref)
            test = holdout(self.settings.model, pd.read_parquet(self.processed))
            self._scored = (test, predict(pipeline, test))
        return self._scored

    def slices(self) -> str:
        scored = self._holdout()
        if isinstance(scored, str):
            return f"MISSING: {scored}."
        test, out = scored
        gate = self.settings.gate
        metric = metrics.gate_metric(gate)
        rows = [
            (s.column, s.value, s.rows, _fmt(s.label_mean), _fmt(s.metric))
            for s in quality.slice_metrics(self.settings, test, out)
        ]
        mean = "mean label" if TASK == "regression" else "positive rate"
        rule = (
            f"a group's MAE may not be clearly above {gate.max_slice_error_ratio:g} x the overall "
            f"MAE, nor its mean residual clearly beyond the holdout's by +-{gate.max_slice_bias:g}"
            " x the MAE"
            if TASK == "regression"
            else f"a group's {metric} may not be clearly below the model's overall figure minus "
            f"{gate.max_slice_gap:g} (AUC: below the AUC within the column's groups, since pairs"
            " across groups rank easily when the model reads the column)"
        )
        return (
            f"Held-out rows per value of each categorical feature (missing values form the "
            f"group `missing`). The gate judges the groups of `{', '.join(gate.slices) or '-'}` "
            f"with at least {gate.min_slice_rows} rows: {rule} (its one-sided "
            f"{gate.slice_confidence:.0%} bootstrap bound; tested by "
            f"`tests/test_ml_score.py::test_quality_on_every_slice`).\n\n"
            + _table(("feature", "value", "rows", mean, metric), rows)
        )

    def fairness(self) -> str:
        scored = self._holdout()
        if isinstance(scored, str):
            return f"MISSING: {scored}."
        test, out = scored
        gov, gate = self.settings.governance, self.settings.gate
        groups = quality.group_rates(self.settings.model, test, out, gate.min_slice_rows)
        rows = [
            (g.column, g.group, g.outcome or "-", g.rows, f"{g.selection_rate:.3f}",
             _fmt(g.impact_ratio), _fmt(g.ratio_high), _fmt(g.p_value))
            for g in groups
        ]  # fmt: skip
        return (
            f"The {quality.OUTCOME} per protected group, and its ratio to the highest "
            f"group's (impact ratio). A ratio under {gov.min_impact_ratio} (the four-fifths rule) "
            "with a significant gap (p < 0.05) and a 95% upper bound also under it fails the "
            f"test; groups under {gate.min_slice_rows} rows are shown, not judged; rows whose "
            "attribute is missing form the group `missing`. Protected "
            "attributes are never model inputs; they are kept only to measure this.\n\n"
            + _table(FAIRNESS_HEAD, rows)
        )

    # the data
    def data(self) -> str:
        if not self.processed.exists():
            return f"MISSING: no processed data at {self.processed.name}; run `ingest`."
        frame = pd.read_parquet(self.processed)
        digest = hashlib.sha256(self.processed.read_bytes()).hexdigest()
        from ..data.schema import LABEL, TIME

        span = "-" if TIME is None else f"{frame[TIME].min()} to {frame[TIME].max()}"
        rows = [
            ("training table", f"`{self.settings.data.processed_dir}/{self.processed.name}`"),
            ("SHA-256", f"`{digest}`"),
            ("rows", len(frame)),
            ("time range", span),
            ("task", TASK),
            ("label", _label_summary(frame[LABEL])),
            ("schema version", SCHEMA_VERSION),
        ]
        return _table(("fact", "value"), rows)

    def schema(self) -> str:
        rows = []
        for name, col in PilotSchema.to_schema().columns.items():
            meta = col.metadata or {}
            role = meta.get("role", "") + (f" ({meta['kind']})" if "kind" in meta else "")
            checks = "; ".join(str(c) for c in col.checks) or "-"
            rows.append((f"`{name}`", str(col.dtype), role, checks, "yes" if col.nullable else ""))
        return (
            f"From the data contract, [data/schema.py]({CODE}/data/schema.py) "
            f"(version {SCHEMA_VERSION}):\n\n"
            + _table(("column", "type", "role", "checks", "nullable"), rows)
        )

    def thresholds(self) -> str:
        gov, gate = self.settings.governance, self.settings.gate
        metric = metrics.gate_metric(gate)
        target = "not declared" if gate.min_metric is None else f"{gate.min_metric:g}"
        rows = [
            ("decision threshold (binary: P(positive))", self.settings.model.decision_threshold),
            (f"quality target ({metric}, declared by the owner)", target),
            ("lead over the baseline: one-sided bound of the paired bootstrap", gate.confidence),
            ("extra lead over the baseline required", gate.baseline_margin),
            ("largest gap of a group below the overall figure", gate.max_slice_gap),
            ("minimum rows to judge a slice or group", gate.min_slice_rows),
            ("minimum impact ratio (four-fifths rule)", gov.min_impact_ratio),
            ("readiness threshold (ML Test Score)", gov.readiness_threshold),
        ]
        return _table(("threshold", "value"), rows)

    def kpis(self) -> str:
        s, gov = self.settings.serving, self.settings.governance
        per_thousand = s.hourly_cost / (s.peak_rps * 3600) * 1000
        rows = [
            ("latency SLA (p95)", f"{s.latency_sla_ms:g} ms", "load test at 10x peak"),
            ("peak traffic", f"{s.peak_rps:g} requests/s", "capacity plan"),
            (
                "cost per 1,000 predictions",
                f"USD {per_thousand:.4f}",
                f"USD {s.hourly_cost:g}/h per instance at peak traffic",
            ),
            ("uptime target", f"{gov.uptime_target_pct:g} %", "readiness probe `/ready`"),
            (
                "audit compliance",
                f"{gov.audit_coverage_pct:g} % of decisions logged",
                "decision log",
            ),
            (
                "integration reliability",
                f"{gov.integration_success_pct:g} % of source reads succeed",
                "ingestion errors name the source",
            ),
        ]
        return _table(("KPI", "target", "measured by"), rows)

    # the checklist answers
    def decision_log(self) -> str:
        where = getattr(self.settings.serving, "decision_log_dir", None)
        if where is None:
            return "MISSING: the service keeps no decision log yet (`serving.decision_log_dir`)."
        from ..data.roles import KEY_IS_PII
        from ..data.schema import KEY, TIME

        key = f"`{KEY}`" + (" (hashed: the contract marks it PII)" if KEY_IS_PII else "")
        online = (
            f"Each decision is appended as one JSON line under `{where}` (request id, time, "
            f"model version, inputs, output, explanation), by [serving/]({CODE}/serving/), "
            f"before the answer is sent. A request may carry the entity key {key} and event "
            f"time `{TIME}`: they are logged as `key` and `event_time` to join outcomes later "
            "and are never model inputs. A shadow model's predictions are logged beside, in "
            "`shadow-*.jsonl`, joined by request id and row."
        )
        return f"{online}\n\n{self.batch_decisions()}"

    def batch_decisions(self) -> str:
        """Batch decisions: each output row names its model version and batch; one record each."""
        where = self.settings.batch.records_dir
        text = (
            f"Batch decisions (`score`, [batch/]({CODE}/batch/)) carry the entity key, model "
            f"name and version and the batch id on every output row; each batch writes one "
            f"record under `{where}` (input URI and content hash, rows read, scored and "
            "quarantined, model version, start and end, actor and reason; `audit --batch`)."
        )
        records = sorted(self.settings.path(where).glob("*.json"))
        if not records:
            return text + " No batch has run yet."
        last = json.loads(max(records, key=lambda p: p.stat().st_mtime).read_text())
        return text + (
            f" Latest: `{last.get('batch_id')}` at {last.get('finished_at')}, "
            f"{last.get('rows_read')} rows read = {last.get('rows_scored')} scored + "
            f"{last.get('rows_quarantined')} quarantined, model version "
            f"{last.get('model', {}).get('version')}, input `{last.get('input', {}).get('uri')}` "
            f"({last.get('input', {}).get('content_hash')})."
        )

    def live_quality(self) -> str:
        from ..model.tasks import metric
        from ..monitoring.live import read_latest

        mon, gate = self.settings.monitoring, self.settings.gate
        how = (
            f"Outcomes (`outcomes ingest`) are validated with the contract's label rules and "
            f"joined to logged decisions by request id, or by key within "
            f"{mon.attribution_window_hours:g} h; `monitor` measures live {metric().name} per "
            f"version, {mon.live_window_hours:g} h window and slice, with a bootstrap 95% "
            f"interval, and breaches below the gate's floor "
            f"{'(not declared)' if gate.min_metric is None else f'{gate.min_metric:g}'} or "
            f"{mon.live_max_drop:g} under the offline figure once {mon.live_min_rows} decisions "
            f"have outcomes ([monitoring/live.py]({CODE}/monitoring/live.py))."
        )
        report = read_latest(self.settings)
        if report is None:
            return (
                how
                + "\n\nNo live figures yet: they exist once the pilot serves and outcomes arrive."
            )
        offline = report["offline"]
        rows = [
            (f["version"], f["window"], f["rows"], *(_fmt(f[k]) for k in ("value", "low", "high")),
             _fmt(offline.get(f["version"])))
            for f in report["figures"]
            if not f["column"]
        ]  # fmt: skip
        verdict = (
            "breached: " + "; ".join(report["breaches"]) if report["breached"] else "no breach"
        )
        return (
            how
            + f"\n\nLast report ({report['rows']} decisions with outcomes; {verdict}):\n\n"
            + _table(
                ("version", "window", "rows", report["metric"], "95% low", "95% high", "offline"),
                rows,
            )
        )

    def shadow(self) -> str:
        serving, model = self.settings.serving, self.settings.model
        alias = f"`{serving.shadow_alias}`" if serving.shadow_alias else "none configured"
        floor = self.settings.gate.min_metric
        rule = (
            f"required: at least {model.shadow_min_rows} shadowed rows, agreement >= "
            f"{model.shadow_min_agreement:g}"
            f"{'' if floor is None else f' (or live quality >= {floor:g})'},"
            f" shadow p95 latency within the {serving.latency_sla_ms:g} ms SLA"
            if model.require_shadow
            else "recorded when present, not required (`model.require_shadow` is off)"
        )
        tags = self.registry.tags
        champion = (
            f"champion v{self.registry.version}: {tags['shadow.rows']} shadowed rows, agreement "
            f"{tags['shadow.agreement']}, p95 {tags.get('shadow.p95_latency_ms')} ms"
            if "shadow.rows" in tags
            else "the champion was promoted without shadow figures"
        )
        return (
            f"Shadow alias: {alias}. The service scores every request with it off the answer "
            f"path ([serving/shadow.py]({CODE}/serving/shadow.py)): callers never wait for it "
            f"and its failures never fail a request. Shadow evidence for production: {rule}. "
            f"Now: {champion}."
        )

    def alerts(self) -> str:
        import yaml

        path = self.settings.path("deploy/monitoring/alerts.yaml")
        if not path.exists():
            return "MISSING: no alert rules (`deploy/monitoring/alerts.yaml`)."
        groups = yaml.safe_load(path.read_text())["groups"]
        rows = [
            (r["alert"], r["labels"].get("severity", ""), r["annotations"]["summary"])
            for g in groups
            for r in g["rules"]
        ]
        return (
            "Prometheus rules in `deploy/monitoring/alerts.yaml`, each unit-tested by promtool "
            "(`alerts.test.yaml`), and a Grafana dashboard `deploy/monitoring/dashboard.json`:"
            "\n\n" + _table(("alert", "severity", "when"), rows)
        )

    def explainability(self) -> str:
        from ..model.scorer import EXPLAINED, method_of

        family = self.settings.model.estimator
        return (
            f"{method_of(family)}: every input column's contribution to the {EXPLAINED} "
            f"of the `{family}` model; the three largest are returned with every prediction "
            f"([model/scorer.py]({CODE}/model/scorer.py), `top_contributions`). Base value "
            "plus contributions equal the model's output, which `tests/test_train.py::"
            "test_scorer_matches_pipeline` verifies."
        )

    def access_control(self) -> str:
        auth = self.settings.path(f"src/{PKG}/serving/auth.py")
        if not auth.exists():
            return "MISSING: the prediction API has no authentication (no `serving/auth.py`)."
        return (
            f"Requests are authenticated by [serving/auth.py]({CODE}/serving/auth.py); keys "
            "come from the environment, never from `config/`."
        )

    def lineage(self) -> str:
        path = self.settings.lineage_file
        if not path.exists():
            return f"MISSING: no lineage record next to the processed data (`{path.name}`)."
        record = json.loads(path.read_text())
        rows = [
            (k, v if not isinstance(v, (dict, list)) else json.dumps(v)[:120])
            for k, v in record.items()
        ]
        run = self.registry.run_id or "no champion run"
        return f"Record `{path.name}`, also logged to the MLflow run `{run}`:\n\n" + _table(
            ("field", "value"), rows
        )

    def rollback(self) -> str:
        from ..model import promote  # the service behind the `rollback` command

        if not callable(getattr(promote, "rollback", None)):
            return "MISSING: no `rollback` service; the champion alias can only be moved by hand."
        return (
            "`rollback` moves the `champion` alias back to the previous version; the service "
            f"reloads it without restart ([model/]({CODE}/model/))."
        )

    # decisions recorded before the first model
    def decisions(self) -> str:
        from ..data.roles import PROTECTED_REVIEW
        from ..model.gate import NOT_DECLARED

        gate = self.settings.gate
        metric = metrics.gate_metric(gate)
        target = (
            f"MISSING: {NOT_DECLARED}. Declare it before the first model is promoted: "
            "`data adopt ... --min-metric X` or `[gate] min_metric` in config/pilot.toml."
            if gate.min_metric is None
            else f"Quality target: {metric} >= {gate.min_metric:g} on the holdout, declared by "
            "the owner; the gate refuses any model below it."
        )
        open_ = sorted(c for c, a in PROTECTED_REVIEW.items() if a == "unanswered")
        review = (
            f"MISSING: protected-attribute review unanswered for {', '.join(open_)}: answer with "
            "`data adopt ... --protected COL` or `--not-protected COL`."
            if open_
            else "Every column adopt flagged as a possible protected attribute or proxy is "
            "answered (see the table)."
        )
        return f"{target}\n\n{review}\n\n{self.protected_review()}"

    def protected_review(self) -> str:
        from ..data.roles import PROTECTED_REVIEW
        from ..data.schema import PROTECTED_COLUMNS

        if not PROTECTED_REVIEW:
            return "No column was flagged as a possible protected attribute or proxy."
        rows = [
            (f"`{c}`", answer, "fairness slices, never a feature" if c in PROTECTED_COLUMNS
             else "-")
            for c, answer in sorted(PROTECTED_REVIEW.items())
        ]  # fmt: skip
        return "Protected-attribute review (the data contract's `PROTECTED_REVIEW`):\n\n" + _table(
            ("column", "answer", "use"), rows
        )


def _curve(logged: dict[str, float]) -> str:
    points = sorted(
        (int(k.removeprefix("learning_curve.").removesuffix("pct")), v)
        for k, v in logged.items()
        if k.startswith("learning_curve.")
    )
    return ", ".join(f"{share}% of the sample: {v:.3f}" for share, v in points)


def _label_summary(y: pd.Series) -> str:
    if TASK == "regression":
        return f"mean {y.mean():.4g}, std {y.std():.4g}"
    shares = y.astype(str).value_counts(normalize=True).sort_index()
    return ", ".join(f"{k}: {v:.3f}" for k, v in shares.items())


def render(settings: Settings) -> list[tuple[Path, list[str]]]:
    """Fill every generated block of every governance document; hand-written text is kept."""
    from .documents import block_names, replace_blocks

    docs = settings.path(settings.governance.docs_dir)
    facts = Facts(settings)
    makers = facts.blocks()
    done = []
    for path in sorted(docs.glob("*.md")):
        text = path.read_text()
        names = block_names(text)
        if not names:
            continue
        known = {n: makers[n]() for n in names if n in makers}
        new = replace_blocks(text, known, str(path.relative_to(docs.parent)))
        atomic.write_text(path, new)
        done.append((path, names))
    return done
