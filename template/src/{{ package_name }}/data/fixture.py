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
SCORE_SPREAD = 2.5  # about the standard deviation of that model's score (``generate``'s z)


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


def _score(
    frame: pd.DataFrame, specs: dict[str, dict[str, Any]], rng: np.random.Generator
) -> np.ndarray:
    """A fixed random model of the features (``specs``: each feature's profile): what the
    fixture label depends on. It reads the profile, not the rows drawn, so every draw follows
    the same relation: a category's effect does not depend on which categories a small draw
    happens to hold, nor a number's scale on the draw's own spread."""
    z = np.zeros(len(frame))
    for col, spec in specs.items():
        values = frame[col]
        if spec["kind"] == "numeric":
            qs = np.asarray(spec["quantiles"], dtype=float)  # evenly spaced: their spread
            center, scale = float(np.mean(qs)), float(np.std(qs)) or 1.0  # is the column's
            x = pd.to_numeric(values, errors="coerce").fillna(center).to_numpy(dtype=float)
            weight = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.5)  # every feature matters
            z += weight * np.clip((x - center) / scale, -3.0, 3.0)
        else:
            levels = sorted(str(level) for level in spec["shares"])
            spread = rng.permutation(np.linspace(-1.0, 1.0, len(levels)))
            effects = dict(zip(levels, spread, strict=True))
            z += values.astype(str).map(effects).astype(float).fillna(0.0).to_numpy()
    return np.asarray(z / max(np.sqrt(len(specs)), 1.0))


def generate(profile: dict[str, Any], rows: int, seed: int, end: pd.Timestamp) -> pd.DataFrame:
    """``rows`` look-alike rows with contract column names; times end at ``end``."""
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    ids = np.arange(1, rows + 1)
    label_name, label_spec = "", {}
    features: dict[str, dict[str, Any]] = {}
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
        if spec["role"] == "feature" and kind in {"numeric", "categorical"}:
            features[name] = spec
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
    if spec["kind"] == "numeric":
        # Regression: linear in the score, at the label's own centre and spread and within its
        # range. (Its quantiles in score order would make a skewed label, sales or wages, a
        # steep curve of the score that a few thousand rows cannot teach: the gate would
        # rightly refuse every model trained on them.)
        qs = np.asarray(spec["quantiles"], dtype=float)
        centre, spread = float(np.mean(qs)), float(np.std(qs)) or 1.0
        values = np.clip(centre + spread * z / SCORE_SPREAD, qs[0], qs[-1])
        return np.round(values) if spec.get("integer") else np.round(values, 4)
    shares = spec["shares"]
    classes = list(shares)
    cuts = np.cumsum([float(shares[c]) for c in classes])[:-1]
    picked = np.asarray(classes, dtype=object)[np.searchsorted(cuts, order, side="right")]
    if all(c.lstrip("-").isdigit() for c in classes):
        return picked.astype(int)
    return picked
