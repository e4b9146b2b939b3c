"""Look-alike rows from the fixture profile (``data/profile.json``, written by ``data adopt``).

Each column is drawn from its own summary (numeric quantiles, category shares, missing share);
keys, times and PII get synthetic values of the right shape. The label depends on the
features through a fixed random model, so a pilot trained on fixture rows has something real
to learn and its gate can pass. No value here comes from a real row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PROFILE = Path(__file__).with_name("profile.json")
MODEL_SEED = 20260101  # the fixture label's fixed random model of the features


def load_profile(path: Path = PROFILE) -> dict[str, Any] | None:
    """The adopted table's profile, or None for the demo contract."""
    return json.loads(path.read_text()) if path.is_file() else None


def _numeric(spec: dict[str, Any], rows: int, rng: np.random.Generator) -> np.ndarray:
    qs = np.asarray(spec["quantiles"], dtype=float)
    values = np.interp(rng.random(rows), np.linspace(0, 1, len(qs)), qs)
    return np.asarray(np.round(values) if spec.get("integer") else np.round(values, 4))


def _categorical(spec: dict[str, Any], rows: int, rng: np.random.Generator) -> np.ndarray:
    shares = spec["shares"]
    p = np.asarray(list(shares.values()), dtype=float)
    return rng.choice(np.asarray(list(shares), dtype=object), rows, p=p / p.sum())


def _pii(kind: str, ids: np.ndarray) -> list[str]:
    shapes = {
        "email": "person{}@example.com",
        "phone": "+1555{:07d}",
        "name": "Person {}",
        "card": "400000{:010d}",
        "iban": "XX00TEST{:012d}",
    }
    return [shapes.get(kind, "ID{:08d}").format(i) for i in ids]


def _with_nulls(
    values: np.ndarray | list[Any], share: float, rng: np.random.Generator
) -> pd.Series:
    out = pd.Series(values, dtype=object)
    if share > 0:
        out[rng.random(len(out)) < share] = None
    return out


def _score(frame: pd.DataFrame, features: list[str], rng: np.random.Generator) -> np.ndarray:
    """A fixed random model of the features: what the fixture label depends on."""
    z = np.zeros(len(frame))
    for col in features:
        values = frame[col]
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().mean() > 0.5 and values.map(lambda v: not isinstance(v, str)).all():
            x = numeric.fillna(numeric.median()).to_numpy(dtype=float)
            weight = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.5)  # every feature matters
            z += weight * (x - x.mean()) / (x.std() or 1.0)
        else:
            levels = sorted(values.dropna().astype(str).unique())
            spread = rng.permutation(np.linspace(-1.0, 1.0, len(levels)))
            effects = dict(zip(levels, spread, strict=True))
            z += values.map(effects).astype(float).fillna(0.0).to_numpy()
    return np.asarray(z / max(np.sqrt(len(features)), 1.0))


def generate(profile: dict[str, Any], rows: int, seed: int, end: pd.Timestamp) -> pd.DataFrame:
    """``rows`` look-alike rows with contract column names; times end at ``end``."""
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    ids = np.arange(1, rows + 1)
    label_name, label_spec = "", {}
    features: list[str] = []
    for name, spec in profile["columns"].items():
        kind, nulls = spec["kind"], float(spec.get("null_share", 0.0))
        if spec["role"] == "label":
            label_name, label_spec = name, spec
            continue
        if kind == "key":
            out[name] = ids if spec.get("dtype") == "int" else [f"K{i:08d}" for i in ids]
        elif kind == "time":
            hours = max(float(spec.get("span_days", 300.0)), 1.0) * 24
            offsets = pd.to_timedelta(rng.random(rows) * hours, "h")
            out[name] = _with_nulls((end - offsets).floor("s").to_numpy(), nulls, rng)
        elif kind == "pii":
            out[name] = _with_nulls(_pii(spec.get("pii", "id"), ids), nulls, rng)
        elif kind == "numeric":
            out[name] = _with_nulls(_numeric(spec, rows, rng), nulls, rng)
        elif kind == "categorical":
            drawn = _categorical(spec, rows, rng)
            if spec.get("numeric"):  # a few-valued numeric column (e.g. sex coded 1/2)
                drawn = drawn.astype(float)
            out[name] = _with_nulls(drawn, nulls, rng)
        if spec["role"] == "feature":
            features.append(name)
    frame = pd.DataFrame(out)
    # The label's model is the same for every seed (its own generator): rows drawn with
    # another seed follow the relation a model trained on the first ones learned.
    z = _score(frame, features, np.random.default_rng(MODEL_SEED)) * 2.5
    z += rng.normal(0, 0.5, rows)
    frame[label_name] = _label(label_spec, z, rng)
    for name, spec in profile["columns"].items():
        if spec["role"] == "protected":
            frame[name] = _spread(frame[name], z)
    return frame[list(profile["columns"])]


def _spread(values: pd.Series, z: np.ndarray) -> pd.Series:
    """The same values, each group spread evenly over the score range: fixture rows carry no
    built-in bias, so a fairness check on them judges the pilot, not the generator."""
    text = values.astype(str)
    within = text.groupby(text).cumcount().to_numpy()
    size = text.map(text.value_counts()).to_numpy()
    interleaved = values.to_numpy()[np.argsort((within + 0.5) / size, kind="stable")]
    out = np.empty(len(values), dtype=object)
    out[np.argsort(z, kind="stable")] = interleaved
    return pd.Series(out, index=values.index)


def _label(spec: dict[str, Any], z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    order = np.argsort(np.argsort(z)) / max(len(z) - 1, 1)  # rank of each row, 0..1
    if spec["kind"] == "numeric":  # regression: the label's own quantiles, in score order
        qs = np.asarray(spec["quantiles"], dtype=float)
        return np.asarray(np.interp(order, np.linspace(0, 1, len(qs)), qs))
    shares = spec["shares"]
    classes = list(shares)
    cuts = np.cumsum([float(shares[c]) for c in classes])[:-1]
    picked = np.asarray(classes, dtype=object)[np.searchsorted(cuts, order, side="right")]
    if all(c.lstrip("-").isdigit() for c in classes):
        return picked.astype(int)
    return picked
