"""Training: fit the pipeline, log everything to MLflow, register a version, alias challenger.

A run records what is needed to audit and repeat it: parameters, metrics, the data lineage,
the git commit (and whether the tree was dirty), the data contract, an input example with
the signature, and a reference profile of the training features for drift checks. Training
is deterministic for a given seed and data: ``model_sha256`` fingerprints the whole fitted
pipeline. The estimator comes from ``model/estimators.py`` (family from settings), the
metrics from ``model/metrics.py`` (task from the contract).

`train` reads the training table `ingest` wrote (lineage describes it) instead of reading
the sources again; with no table yet it ingests first. A training part larger than
``model.max_train_rows`` is fitted on a sample of that size (stratified by class, or the most
recent rows when the contract has a time column); the holdout stays whole. The run records
the sample, how the holdout was taken (the time boundary when there is a time column) and a
learning curve (the metric at 25/50/100% of the sample) for the model card.

Everything around the fit is done once: the table is read once (only the columns the model
needs, text features as categorical codes), the training rows are transformed once and the
learning curve's and the permutation null's estimators are fitted on that matrix, and the
holdout is scored in chunks in one pass for all of them. ``train`` prints each step's seconds.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import pickle
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ..data.lineage import CONTENT_HASH_DEFINITION, code_version, content_hash, load_lineage
from ..data.schema import (
    CATEGORICAL_FEATURES,
    FEATURES,
    LABEL,
    SCHEMA_VERSION,
    TASK,
    TIME,
    PilotSchema,
)
from ..features import build_transformer, categories_present, feature_frame
from ..settings import ModelSettings, Settings
from . import metrics
from .estimators import build_estimator
from .holdout import CHUNK_ROWS, describe_split, predict, split, split_text
from .profile import build_profile
from .registry import configure, ensure_experiment

# Explicit requirements: MLflow's guessing costs seconds and picks up test tools.
PIP_REQUIREMENTS = ["scikit-learn", "pandas", "numpy", "scipy", "skops", "lightgbm"]
PROFILE_ARTIFACT = "reference_profile.json"
CURVE_SHARES = (0.25, 0.5, 1.0)  # the learning curve's points, shares of the training sample
NULL_ROWS = 100_000  # the permutation null is fitted on at most this many training rows
Progress = Callable[[str], None]
# imported on a thread while the table is read and the model fits (``train_from_table``)
LOGGING_MODULES = (
    "mlflow.sklearn",
    "mlflow.models",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "skops.io",
)


class Steps:
    """Seconds per step of a run, in order (``train`` prints them at the end), and a line for
    a person before each long step."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.seconds: dict[str, float] = {}
        self._progress = progress

    @contextmanager
    def __call__(self, name: str, doing: str | None = None) -> Iterator[None]:
        if doing and self._progress is not None:
            self._progress(f"train: {doing}")
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    version: str
    metrics: dict[str, float]
    fingerprint: str
    notes: tuple[str, ...] = ()  # for a person: the holdout, the sample, the learning curve
    steps: dict[str, float] = field(default_factory=dict)  # seconds per step (``Steps``)


def build_pipeline(model: ModelSettings, categories: list[np.ndarray] | None = None) -> Pipeline:
    transformer = build_transformer(categories)
    return Pipeline([("features", transformer), ("model", build_estimator(model))])


def holdout_metrics(
    model: ModelSettings, pipeline: Pipeline, rows: pd.DataFrame
) -> dict[str, float]:
    """Every reported metric of the pipeline on held-out rows (scored in chunks)."""
    out = predict(pipeline, rows)
    return metrics.metrics_for(metrics.label(rows), out, model.decision_threshold)


def fingerprint(pipeline: Pipeline) -> str:
    """Hash of the whole fitted pipeline (every family): equal hashes mean identical models."""
    return hashlib.sha256(pickle.dumps(pipeline, protocol=5)).hexdigest()


def trusted_types(pipeline: Pipeline) -> list[str]:
    """Types skops must be told to load (LightGBM's): the pipeline is our own, just built."""
    import skops.io

    return list(skops.io.get_untrusted_types(data=skops.io.dumps(pipeline)))


def git_state(settings: Settings) -> dict[str, str]:
    """Commit and dirty flag of the project checkout (no commit yet counts as dirty)."""
    version = code_version(settings.path("."))
    return {"git.sha": str(version["git_sha"]), "git.dirty": str(version["dirty"]).lower()}


def lineage(settings: Settings, frame: pd.DataFrame, content: str | None = None) -> dict[str, Any]:
    """The ingestion's lineage record if it describes these rows, plus the rows' hash."""
    record = load_lineage(settings)
    content = content_hash(frame) if content is None else content
    matches = record is not None and record.get("content_hash") == content
    return _with_record(record, matches, len(frame), content)


def _with_record(
    record: dict[str, Any] | None, matches: bool, rows: int, content: str
) -> dict[str, Any]:
    return (record if record is not None and matches else {}) | {
        "ingest_lineage_matches": matches,
        "training_rows": rows,
        # the data_sha256 tag: names the rows when no ingest record matches (kept for readers
        # of earlier releases' lineage.json)
        "training_sha256": content,
    }


def contract_typed(x: pd.DataFrame) -> pd.DataFrame:
    """Feature rows in the contract's own dtypes (int columns as int64, where they hold no
    gap): the input example and signature a registered model is called with, so that
    ``mlflow.pyfunc`` accepts rows typed as the contract says (``long``, not ``double``)."""
    columns = PilotSchema.to_schema().columns
    out = x.copy()
    for name in FEATURES:
        if isinstance(out[name].dtype, pd.CategoricalDtype):  # read as codes: its values again
            out[name] = out[name].astype(out[name].cat.categories.dtype)
        kind = str(columns[name].dtype)
        if kind.startswith(("int", "Int")) and out[name].notna().all():
            out[name] = out[name].astype("int64")
    return out


def sample_training(
    model: ModelSettings, rows: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """The rows to fit on: all of them, or ``max_train_rows`` of them (stratified by class,
    or the most recent by time), with what was done for lineage and the model card."""
    n, limit = len(rows), model.max_train_rows
    if n <= limit:
        return rows, None
    if TIME is not None and TIME in rows.columns:
        order = np.argsort(pd.to_datetime(rows[TIME]).to_numpy(), kind="stable")
        sample, how = rows.iloc[order[n - limit :]], f"the {limit} most recent rows by {TIME}"
    else:
        from sklearn.model_selection import train_test_split

        strata = metrics.stratify(rows)
        sample, _ = train_test_split(
            rows, train_size=limit, random_state=model.seed, stratify=strata
        )
        how = f"{'a stratified' if strata is not None else 'a'} random sample of {limit} rows"
    return sample, {"rows": len(sample), "of": n, "how": how, "seed": model.seed}


@dataclass(frozen=True)
class Fitted:
    pipeline: Pipeline
    example: pd.DataFrame  # a few training rows in contract dtypes: input example, signature
    metrics: dict[str, float]
    profile: dict[str, Any]  # the training distribution drift is judged against
    split: dict[str, Any]  # how the holdout was taken (time boundary) and the sample fitted
    curve: dict[str, float]  # the gate metric at 25/50/100% of the training sample
    null: float | None  # the gate metric of the permutation null (``null_metric``)


def _shuffled(model: ModelSettings, y: pd.Series) -> pd.Series:
    rng = np.random.default_rng(model.seed)
    return pd.Series(rng.permutation(y.to_numpy()), index=y.index)


def curve_models(model: ModelSettings, x: np.ndarray, y: pd.Series) -> dict[str, Any]:
    """The estimator fitted on the first 25% and 50% of the (shuffled, seeded) training
    sample, on the rows as already transformed: the learning curve's points below 100% (the
    model itself). Rising at 100% says more rows would still help."""
    order = np.random.default_rng(model.seed).permutation(len(x))
    fitted: dict[str, Any] = {}
    for share in CURVE_SHARES:
        if share == 1.0:
            continue
        take = np.sort(order[: max(2, int(len(order) * share))])  # in order: a faster copy
        y_part = y.iloc[take]
        if metrics.CLASSES is not None and y_part.nunique() < y.nunique():
            continue  # too few rows to hold every class: no point on the curve
        fitted[f"{int(share * 100)}pct"] = build_estimator(model).fit(x[take], y_part)
    return fitted


def null_model(model: ModelSettings, x: np.ndarray, y: pd.Series) -> Any:
    """The permutation null: the same estimator fitted on the same (transformed) rows with the
    labels permuted (seeded by ``model.seed``); the gate reads its metric on the holdout.

    With few, strong features a model that learned nothing can still rank the holdout well
    by chance: its random direction leans on the real signal (on the demo, ROC AUC from 0.40
    to 0.62 across permutations), and the holdout alone cannot tell it from a weak real
    model. What can is the training procedure: the gate asks the model to clearly beat what
    the same procedure learns when the labels carry nothing.
    """
    if len(x) > NULL_ROWS:  # a random direction needs no more rows to show its reach
        rng = np.random.default_rng(model.seed)
        keep = np.sort(rng.choice(len(x), NULL_ROWS, replace=False))
        x, y = x[keep], y.iloc[keep]
    return build_estimator(model).fit(x, _shuffled(model, y))


def holdout_outputs(
    transformer: Any, models: dict[str, Any], rows: pd.DataFrame
) -> dict[str, np.ndarray]:
    """Each model's output on the held-out rows, ``CHUNK_ROWS`` at a time: each chunk is
    transformed once for every model, and only the outputs are kept."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name in models}
    for start in range(0, max(len(rows), 1), CHUNK_ROWS):
        x = transformer.transform(feature_frame(rows.iloc[start : start + CHUNK_ROWS]))
        for name, estimator in models.items():
            parts[name].append(metrics.output(estimator, x))
    return {name: np.concatenate(outs) for name, outs in parts.items()}


def fit(
    settings: Settings,
    frame: pd.DataFrame,
    shuffle_labels: bool = False,
    steps: Steps | None = None,
) -> Fitted:
    """Fit on the training part (sampled if too large), measure on the holdout, profile.

    The training rows are transformed once; the learning curve's and the permutation null's
    estimators are fitted on that same matrix, and the holdout is scored in one chunked pass
    for all of them."""
    steps = Steps() if steps is None else steps
    model, threshold = settings.model, settings.model.decision_threshold
    metric = metrics.gate_metric(settings.gate)
    with steps("split"):
        train_all, test_rows = split(model, frame)
        train_rows, sample = sample_training(model, train_all)
        info = describe_split(train_all, test_rows) | {"sample": sample}
        del train_all
        y_train = metrics.label(train_rows)
        if shuffle_labels:
            y_train = _shuffled(model, y_train)
    with steps("features", f"transforming {len(train_rows):,} training rows"):
        x_frame = feature_frame(train_rows)
        pipeline = build_pipeline(model, categories_present(x_frame))
        transformer, estimator = pipeline.named_steps["features"], pipeline.named_steps["model"]
        # as Pipeline.fit does: the same fitted steps, so the same model_sha256
        x_train = transformer.fit_transform(x_frame, y_train)
    doing = f"fitting {model.estimator} on {x_train.shape[0]:,} rows x {x_train.shape[1]} columns"
    with steps("fit", doing):
        started = time.perf_counter()
        estimator.fit(x_train, y_train)
        fit_seconds = time.perf_counter() - started
    with steps("curve", "learning curve: fitting on 25% and 50% of the training rows"):
        curve_fits = curve_models(model, x_train, y_train)
    # The drill is the permutation null itself (same rows, estimator and seeded permutation,
    # and fitting is deterministic): refitting it would give the same model.
    with steps("null"):
        null_fit = None if shuffle_labels else null_model(model, x_train, y_train)
    with steps("profile"):
        monitored = metrics.monitored(metrics.output(estimator, x_train), threshold)
        profile = build_profile(x_frame, monitored, settings.monitoring.bins)
        del x_frame, x_train, monitored
    with steps("holdout", f"scoring the holdout ({len(test_rows):,} rows)"):
        others = curve_fits | ({"null": null_fit} if null_fit is not None else {})
        outs = holdout_outputs(transformer, {"model": estimator} | others, test_rows)
        y_test = metrics.label(test_rows)
        measured = metrics.metrics_for(y_test, outs["model"], threshold)
        measured["fit_seconds"] = fit_seconds
    full = measured.get(metric)
    curve: dict[str, float] = {}
    for share in CURVE_SHARES:
        key = f"{int(share * 100)}pct"
        value = (
            full
            if share == 1.0
            else metrics.metric_value(metric, y_test, outs[key], threshold)
            if key in outs
            else None
        )
        if value is not None:
            curve[key] = value
    null = full if shuffle_labels else metrics.metric_value(metric, y_test, outs["null"], threshold)
    example = contract_typed(train_rows[FEATURES].head(5))
    return Fitted(pipeline, example, measured, profile, info, curve, null)


def run_params(model: ModelSettings, rows: int, shuffle_labels: bool) -> dict[str, Any]:
    """What the run is a function of: the task, the estimator and its settings, the split."""
    family = model.estimator
    hyper = getattr(model, family).model_dump()
    return {
        "task": TASK,
        "estimator": family,
        **{f"{family}.{k}": v for k, v in hyper.items()},
        "seed": model.seed,
        "test_size": model.test_size,
        "max_train_rows": model.max_train_rows,
        "rows": rows,
        "schema_version": SCHEMA_VERSION,
        "shuffle_labels": shuffle_labels,
    }


def table_lineage(settings: Settings) -> dict[str, Any] | None:
    """The lineage record when it describes the training table as it is on disk: ingest
    writes the table, then the record (both atomically), so a table no newer than its record
    is the one the record hashed; the rows need no hashing again. Not a record whose hash is
    of an earlier definition: versions record it and the gate compares it with today's."""
    record = load_lineage(settings)
    table, written = settings.training_table, settings.lineage_file
    if record is None or not table.is_file() or not record.get("content_hash"):
        return None
    if record.get("content_hash_definition") != CONTENT_HASH_DEFINITION:
        return None
    return record if table.stat().st_mtime <= written.stat().st_mtime else None


def train(
    settings: Settings,
    frame: pd.DataFrame,
    shuffle_labels: bool = False,
    described: dict[str, Any] | None = None,
    steps: Steps | None = None,
) -> TrainResult:
    """Fit, log, register and alias challenger (never champion: only `promote` moves that).

    ``shuffle_labels`` is a drill: a model without signal, which the gate must refuse.
    ``described``: the lineage record of the table the rows were read from, whose content
    hash is theirs (``table_lineage``), so they are not hashed again.
    """
    steps = Steps() if steps is None else steps
    fitted = fit(settings, frame, shuffle_labels, steps)
    with steps("hash"):
        model_sha = fingerprint(fitted.pipeline)
        # the ingested table's content hash is its lineage's (``frame`` may hold only the
        # columns the model needs); otherwise the rows are hashed once here
        content = str(described["content_hash"]) if described else content_hash(frame)
    sample = fitted.split.get("sample")
    tags = git_state(settings) | {
        "model_sha256": model_sha,
        "data_sha256": content,  # what the gate compares its table with (same_data)
        "data_hash": content,  # as ingest's lineage names it (evidence reads this tag)
        "holdout": split_text(fitted.split),
        "train.sample": "all training rows" if sample is None else
        f"{sample['how']} of {sample['of']} training rows",
    }  # fmt: skip
    if fitted.split.get("kind") == "time":
        tags["holdout.boundary"] = str(fitted.split["boundary"])
    if shuffle_labels:
        tags["drill"] = "shuffled_labels"
    if fitted.null is not None:
        tags["null_metric"] = repr(fitted.null)  # read by the gate (model/evaluate.py)
    run_lineage = (
        _with_record(described, True, len(frame), content)
        if described
        else lineage(settings, frame, content)
    ) | {"holdout": fitted.split}
    with steps("log", "logging the run and registering the model"):
        run_id, version = _log(settings, fitted, tags, run_lineage, len(frame), shuffle_labels)
    notes: tuple[str, ...] = (f"holdout: {tags['holdout']}", f"fitted on: {tags['train.sample']}")
    if fitted.curve:
        points = ", ".join(f"{k.removesuffix('pct')}%: {v:.3f}" for k, v in fitted.curve.items())
        notes += (f"learning curve ({metrics.gate_metric(settings.gate)}): {points}",)
    return TrainResult(run_id, version, fitted.metrics, model_sha, notes, dict(steps.seconds))


def _log(
    settings: Settings,
    fitted: Fitted,
    tags: dict[str, str],
    run_lineage: dict[str, Any],
    rows: int,
    shuffle_labels: bool,
) -> tuple[str, str]:
    """Log the run, register the model, tag the version and alias it challenger."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    pipeline, example = fitted.pipeline, fitted.example
    curve = {f"learning_curve.{k}": v for k, v in fitted.curve.items()}
    if fitted.null is not None:
        curve["null_metric"] = fitted.null
    client = configure(settings)
    with mlflow.start_run(experiment_id=ensure_experiment(settings)) as run:
        mlflow.log_params(run_params(settings.model, rows, shuffle_labels))
        mlflow.log_metrics(fitted.metrics | curve)
        mlflow.set_tags(tags)
        mlflow.log_dict(run_lineage, settings.lineage_file.name)
        mlflow.log_dict(json.loads(PilotSchema.to_schema().to_json()), "schema.json")
        mlflow.log_dict(fitted.profile, PROFILE_ARTIFACT)
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            # the contract's dtypes in, the label's own values out (what pyfunc returns)
            signature=infer_signature(example, pipeline.predict(example)),
            input_example=example,
            pip_requirements=PIP_REQUIREMENTS,
            skops_trusted_types=trusted_types(pipeline),
            registered_model_name=settings.model.name,
            tags=tags,  # on the version as it is created: one call, not one per tag
        )
    version = str(info.registered_model_version)
    client.set_registered_model_alias(settings.model.name, settings.model.challenger_alias, version)
    return run.info.run_id, version


def train_from_sources(
    settings: Settings, shuffle_labels: bool = False, steps: Steps | None = None
) -> TrainResult:
    """Ingest the enabled sources afresh, then ``train`` on the accepted rows (`retrain`)."""
    from ..data.ingest import ingest  # only here: `train` reads the table ingest wrote

    steps = Steps() if steps is None else steps
    with steps("ingest", "no training table yet: ingesting the sources"):
        frame = ingest(settings).frame
    return train(settings, frame, shuffle_labels=shuffle_labels, steps=steps)


def read_rows(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A Parquet table as pandas, materialised once: text features as categoricals (read
    through Arrow dictionaries: a code per row, each text once, as a Python string, which
    the one-hot encoder reads several times faster than Arrow text) and integer features in
    their narrowest exact type. ``columns``: only these (the rest is never decoded)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    names = [c for c in schema.names if columns is None or c in columns]
    kinds = (pa.types.is_string, pa.types.is_large_string)
    text = [c for c in CATEGORICAL_FEATURES if c in names and any(
        kind(schema.field(c).type) for kind in kinds
    )]  # fmt: skip
    table = pq.read_table(path, columns=names, read_dictionary=text, use_pandas_metadata=True)
    frame: pd.DataFrame = table.to_pandas()
    del table
    pa.default_memory_pool().release_unused()  # the reader's buffers: hundreds of MB kept
    for name in set(CATEGORICAL_FEATURES) & set(frame.columns):
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype) and pd.api.types.is_string_dtype(
            column.cat.categories
        ):  # read as a dictionary, or stored as one
            texts = pd.Index(column.cat.categories, dtype=object)
            frame[name] = pd.Categorical.from_codes(column.cat.codes, texts)
    for name in set(FEATURES) & set(frame.columns):
        if pd.api.types.is_integer_dtype(frame[name]) and not pd.api.types.is_bool_dtype(
            frame[name]
        ):
            frame[name] = pd.to_numeric(frame[name], downcast="integer")
    return frame


def training_frame(settings: Settings, columns: list[str] | None = None) -> pd.DataFrame | None:
    """The training table `ingest` wrote, when lineage describes it; None: ingest first.
    ``columns``: read only these (with every feature and the label)."""
    import pyarrow.parquet as pq

    path = settings.training_table
    if not path.is_file() or load_lineage(settings) is None:
        return None
    names = pq.read_schema(path).names
    if any(c not in names for c in [*FEATURES, LABEL]):
        return None  # written under another contract: ingest again
    return read_rows(path, columns)


def train_from_table(
    settings: Settings, shuffle_labels: bool = False, progress: Progress | None = None
) -> TrainResult:
    """The `train` stage: the ingested training table (ingesting first when there is none).

    When lineage describes the table, only the columns the model needs are read, and the
    rows' hash is the record's. MLflow's imports (about a second of a run's fixed cost) run on
    a thread from the start: reading, splitting and fitting spend most of their time in native
    code that releases the GIL, so the imports overlap them instead of following them."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(_logging_imports)
        described = table_lineage(settings)
        steps = Steps(progress)
        needed = [*FEATURES, LABEL, *([TIME] if TIME else [])] if described else None
        with steps("read", "reading the training table"):
            frame = training_frame(settings, needed)
        if frame is None:
            return train_from_sources(settings, shuffle_labels=shuffle_labels, steps=steps)
        if described is None:
            return train(settings, frame, shuffle_labels=shuffle_labels, steps=steps)
        return train(settings, frame, shuffle_labels, described, steps)


def _logging_imports() -> None:
    """What ``_log`` imports (MLflow, its SQL stores, skops)."""
    for name in LOGGING_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # a store this install lacks: `_log` never needs it either
            continue
