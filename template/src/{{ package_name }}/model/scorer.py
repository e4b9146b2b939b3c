"""The registered pipeline scored without pandas: one fast, exact path for outputs and reasons.

A scikit-learn pipeline spends most of a one-row call in pandas and validation overhead.
The fitted transformer (scaler, one-hot categories) is compiled to numpy once at load; the
model part is scored by the family's own fast path:

- linear models: a dot product. Explanations are exact: the margin is the intercept plus
  coefficient times transformed value, so each input column contributes its features' terms;
- LightGBM trees (gradient boosting, random forest): the native booster on the same matrix
  (one thread), explained by TreeSHAP (``pred_contrib``), whose values add up to the margin.

The explained quantity is the model's *margin*: the log-odds of the positive class (binary),
of the predicted class (multiclass, softmax margin) or the predicted value (regression);
``base + sum(contributions) == margin`` for every row. ``tests/test_train.py`` proves the
outputs equal the pipeline's and the additivity, for whichever family is configured.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from ..atomic import replacing
from ..data.schema import CATEGORICAL_FEATURES, FEATURES, LABEL, NUMERIC_FEATURES, TASK
from .metrics import CLASSES

if TYPE_CHECKING:  # scoring a compiled version imports no scikit-learn
    from sklearn.pipeline import Pipeline


@dataclass(frozen=True)
class Scores:
    output: np.ndarray  # as model/metrics.py: P(positive) (n,), P(class) (n, k) or value (n,)
    contributions: np.ndarray  # (n, len(FEATURES)): each input column's share of the margin
    base: np.ndarray  # (n,): the margin before any input column


class Scorer(Protocol):
    method: str

    def score(self, rows: Sequence[Mapping[str, Any]]) -> Scores: ...

    def score_frame(self, frame: Any, explain: bool = True) -> Scores:
        """``score`` for a whole pandas frame of feature columns (batch scoring); without
        ``explain`` the contributions are left out (an (n, 0) array) and base is zero."""
        ...


EXPLAINED = {
    "binary": f"log-odds of {LABEL} = {CLASSES[-1] if CLASSES else ''}",
    "multiclass": "log-odds (softmax margin) of the predicted class",
    "regression": f"the predicted {LABEL}",
}[TASK]


class Inputs:
    """The fitted ColumnTransformer as numpy: rows -> the exact matrix the model saw."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, categories: list[list[str]]) -> None:
        n_num = len(NUMERIC_FEATURES)
        self._mean, self._scale, self.categories = mean, scale, categories
        # For each categorical column: category -> its one-hot column (unknown: all zero, as
        # the encoder's handle_unknown="ignore").
        self._cat_index: list[dict[str, int]] = []
        groups = list(range(n_num))
        offset = n_num
        for j, cats in enumerate(categories):
            self._cat_index.append({c: offset + i for i, c in enumerate(cats)})
            groups += [n_num + j] * len(cats)
            offset += len(cats)
        self.width = offset
        # transformed column -> input column, to sum contributions per input column
        self.group = np.zeros((offset, len(FEATURES)))
        self.group[np.arange(offset), groups] = 1.0

    @classmethod
    def fitted(cls, transformer: Any) -> Inputs:
        n_num = len(NUMERIC_FEATURES)
        mean, scale = np.zeros(n_num), np.ones(n_num)
        if n_num:
            scaler = transformer.named_transformers_["num"]
            mean = np.asarray(scaler.mean_, dtype=float)
            scale = np.asarray(scaler.scale_, dtype=float)
        categories = []
        if CATEGORICAL_FEATURES:
            encoder = transformer.named_transformers_["cat"]
            categories = [[str(c) for c in cats] for cats in encoder.categories_]
        return cls(mean, scale, categories)

    def matrix(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        n, n_num = len(rows), len(NUMERIC_FEATURES)
        x = np.zeros((n, self.width))
        num = np.array([[r[c] for c in NUMERIC_FEATURES] for r in rows], dtype=float)
        x[:, :n_num] = (num.reshape(n, n_num) - self._mean) / self._scale
        for col, index in zip(CATEGORICAL_FEATURES, self._cat_index, strict=True):
            for i, r in enumerate(rows):
                hit = index.get(str(r[col]))
                if hit is not None:
                    x[i, hit] = 1.0
        return x

    def frame_matrix(self, frame: Any) -> np.ndarray:
        """``matrix`` for a pandas frame or an Arrow table, column by column: the same numbers,
        vectorised (numbers are read in place, categories by one hash lookup per row)."""
        numeric, onehot = self._frame_columns(frame)
        n = len(frame)
        x = np.zeros((n, self.width))
        for j, values in enumerate(numeric):
            x[:, j] = values
        flat = x.reshape(-1)  # a view: one-hot cells are set by flat index, row * width + column
        starts = np.arange(n) * self.width
        for at in onehot:
            hit = at >= 0
            flat[starts[hit] + at[hit]] = 1.0
        return x

    def frame_dot(self, frame: Any, weights: np.ndarray) -> np.ndarray:
        """``frame_matrix(frame) @ weights.T`` without the matrix: (n, k') from (k', width).
        A one-hot column contributes its weight where it is 1, so each categorical column is
        one lookup per row; the sums are the same up to rounding order."""
        numeric, onehot = self._frame_columns(frame)
        out = np.zeros((len(frame), len(weights)))
        for j, values in enumerate(numeric):
            out += values[:, None] * weights[:, j]
        padded = np.hstack([weights, np.zeros((len(weights), 1))]).T  # row -1: no category
        for at in onehot:
            out += padded[at]
        return out

    def _frame_columns(self, frame: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The scaled numeric columns, and each categorical column's one-hot column per row
        (-1: an unknown category or null, all zero as the encoder's handle_unknown="ignore")."""
        # pyarrow comes with the jobs dependency group (batch); the serving image has none.
        import pyarrow as pa

        arrow = isinstance(frame, pa.Table)
        numeric = []
        for j, name in enumerate(NUMERIC_FEATURES):
            values = frame[name].to_numpy() if arrow else frame[name].to_numpy(dtype=float)
            numeric.append((values - self._mean[j]) / self._scale[j])
        onehot = []
        for col, index in zip(CATEGORICAL_FEATURES, self._cat_index, strict=True):
            found = _positions(frame[col], list(index))
            columns = np.append(np.fromiter(index.values(), int, len(index)), -1)
            onehot.append(columns[found])  # found -1 picks the appended -1
        return numeric, onehot


def _positions(values: Any, known: list[str]) -> np.ndarray:
    """Each row's position in ``known`` (-1: unknown or null): one hash lookup per row, or per
    distinct value of an Arrow dictionary column (then an index per row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def lookup(texts: Any) -> Any:
        return pc.index_in(texts, value_set=pa.array(known, pa.string()).cast(texts.type))

    if isinstance(values, pa.ChunkedArray) and pa.types.is_dictionary(values.type):
        found = []
        for chunk in values.chunks:
            at = lookup(_texts(pa.chunked_array([chunk.dictionary])))
            found += pc.take(at, chunk.indices).chunks
        values = pa.chunked_array(found, pa.int32())
    else:
        values = lookup(_texts(values))
    return np.asarray(pc.fill_null(values, -1).to_numpy(), dtype=np.int64)


def _texts(values: Any) -> Any:
    """A categorical column as Arrow text: as it is, or each value's text as pandas gives it."""
    import pyarrow as pa

    if isinstance(values, pa.ChunkedArray):
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            return values
        values = values.to_pandas()
    return pa.array(values if pd.api.types.is_string_dtype(values) else values.astype("str"))


def _link(margin: np.ndarray) -> np.ndarray:
    """Margins (n, k') -> the task's output; k' is 1 except for multiclass."""
    if TASK == "regression":
        return np.asarray(margin[:, 0])
    if TASK == "binary":
        return np.asarray(1.0 / (1.0 + np.exp(-margin[:, 0])))
    shifted = np.exp(margin - margin.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))


def _sign(model: Any) -> float:
    """+1, or -1 for a binary model whose classes_ (sorted by scikit-learn) put the contract's
    POSITIVE first: its margin is the log-odds of the negative class, so it is negated to
    read as the log-odds of POSITIVE (``metrics.CLASSES`` is ``[negative, POSITIVE]``)."""
    classes = [c.item() if hasattr(c, "item") else c for c in getattr(model, "classes_", [])]
    if CLASSES is None or classes == CLASSES:
        return 1.0
    if TASK == "binary" and classes == CLASSES[::-1]:
        return -1.0
    raise ValueError("the model's classes differ from the contract's: retrain it")


def _explained(margin: np.ndarray) -> np.ndarray:
    """Which margin column each row's explanation is about (the predicted class)."""
    if margin.shape[1] == 1:
        return np.zeros(len(margin), dtype=int)
    return np.asarray(np.argmax(margin, axis=1))


class LinearScorer:
    method = "exact linear attribution (coefficient x transformed value)"

    def __init__(self, inputs: Inputs, coef: np.ndarray, intercept: np.ndarray) -> None:
        self.inputs, self._coef, self._intercept = inputs, coef, intercept  # (k', d), (k',)

    @classmethod
    def fitted(cls, pipeline: Pipeline) -> LinearScorer:
        model = pipeline.named_steps["model"]
        sign = _sign(model)
        return cls(
            Inputs.fitted(pipeline.named_steps["features"]),
            sign * np.atleast_2d(np.asarray(model.coef_, dtype=float)),
            sign * np.atleast_1d(np.asarray(model.intercept_, dtype=float)),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything the scorer holds, as plain arrays (``compiled``, ``load_compiled``)."""
        i = self.inputs
        cats = {f"categories_{j}": np.array(c, dtype=str) for j, c in enumerate(i.categories)}
        return {
            "mean": i._mean,
            "scale": i._scale,
            "coef": self._coef,
            "intercept": self._intercept,
        } | cats

    @classmethod
    def from_arrays(cls, a: Mapping[str, np.ndarray]) -> LinearScorer:
        categories = [a[f"categories_{j}"].tolist() for j in range(len(CATEGORICAL_FEATURES))]
        return cls(Inputs(a["mean"], a["scale"], categories), a["coef"], a["intercept"])

    def score(self, rows: Sequence[Mapping[str, Any]]) -> Scores:
        return self._scores(self.inputs.matrix(rows))

    def score_frame(self, frame: Any, explain: bool = True) -> Scores:
        if not explain:  # the margin needs no design matrix (n x width floats)
            margin = self.inputs.frame_dot(frame, self._coef) + self._intercept
            return Scores(_link(margin), np.zeros((len(frame), 0)), np.zeros(len(frame)))
        return self._scores(self.inputs.frame_matrix(frame))

    def _scores(self, x: np.ndarray) -> Scores:
        margin = x @ self._coef.T + self._intercept
        which = _explained(margin)
        terms = x * self._coef[which]
        return Scores(_link(margin), terms @ self.inputs.group, self._intercept[which])


class TreeScorer:
    method = "TreeSHAP (LightGBM pred_contrib, exact for trees)"

    def __init__(self, pipeline: Pipeline) -> None:
        model = pipeline.named_steps["model"]
        self.inputs = Inputs.fitted(pipeline.named_steps["features"])
        self._booster = model.booster_
        # Random-forest mode sums its trees' raw scores; the model averages them. The sign
        # turns a binary margin into the log-odds of POSITIVE (``_sign``).
        rf = self._booster.params.get("boosting", model.boosting_type) == "rf"
        self._scale = (1.0 / self._booster.current_iteration() if rf else 1.0) * _sign(model)
        self._k = 1 if TASK != "multiclass" else len(CLASSES or [])

    def score(self, rows: Sequence[Mapping[str, Any]]) -> Scores:
        return self._scores(self.inputs.matrix(rows))

    def score_frame(self, frame: Any, explain: bool = True) -> Scores:
        x = self.inputs.frame_matrix(frame)
        # Boosting's raw score is the margin itself (random-forest mode's is not: it needs
        # the contributions' sum, scaled).
        if not explain and abs(self._scale) == 1.0 and len(x):
            raw = self._booster.predict(x, raw_score=True, num_threads=1) * self._scale
            margin = np.asarray(raw).reshape(len(x), self._k)
            return Scores(_link(margin), np.zeros((len(x), 0)), np.zeros(len(x)))
        return self._scores(x)

    def _scores(self, x: np.ndarray) -> Scores:
        n, d = x.shape
        if n == 0:  # LightGBM refuses an empty matrix
            return Scores(_link(np.zeros((0, self._k))), np.zeros((0, len(FEATURES))), np.zeros(0))
        raw = self._booster.predict(x, pred_contrib=True, num_threads=1) * self._scale
        shap = np.asarray(raw).reshape(n, self._k, d + 1)  # per class: d values, then bias
        margin = shap.sum(axis=2)
        which = _explained(margin)
        picked = shap[np.arange(n), which]
        return Scores(_link(margin), picked[:, :d] @ self.inputs.group, picked[:, d])


def build_scorer(pipeline: Pipeline) -> Scorer:
    """The fast path for the pipeline's model family (add a family's scorer here)."""
    model = pipeline.named_steps["model"]
    if hasattr(model, "booster_"):
        return TreeScorer(pipeline)
    if hasattr(model, "coef_"):
        return LinearScorer.fitted(pipeline)
    raise ValueError(f"no fast scorer for {type(model).__name__}: add one in model/scorer.py")


# A compiled linear scorer is kept as plain arrays (``.npz``, never a pickle): a process that
# finds it scores without importing scikit-learn and skops to rebuild the same numbers (about a
# second of each scheduled run). Trees keep loading the pipeline: LightGBM imports scikit-learn.
COMPILED_FORMAT = "1"
# Bookkeeping MLflow (re)writes into a model directory when it loads it through the registry
# (the registered name and version): not the model.
REGISTRY_NOTES = frozenset({"registered_model_meta"})


def compiled_key(model_dir: Path) -> str:
    """What a compiled scorer is valid for: every file of the version's model directory, the
    contract and this module's format. Another version, a re-trained or altered model file, or
    an edited contract gives another key, so a stale compiled scorer is never found."""
    digest = hashlib.sha256()
    files = (p for p in model_dir.rglob("*") if p.is_file() and p.name not in REGISTRY_NOTES)
    for path in sorted(files):
        digest.update(path.relative_to(model_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    contract = [COMPILED_FORMAT, TASK, FEATURES, NUMERIC_FEATURES, CATEGORICAL_FEATURES, CLASSES]
    digest.update(json.dumps(contract, default=str).encode())
    return digest.hexdigest()


def load_compiled(directory: Path, key: str) -> Scorer | None:
    """The scorer compiled under ``key``, or None (not compiled yet, or unreadable)."""
    try:
        with np.load(directory / f"{key}.npz", allow_pickle=False) as data:
            return LinearScorer.from_arrays({name: data[name] for name in data.files})
    except (OSError, KeyError, ValueError):
        return None


def save_compiled(directory: Path, key: str, scorer: Scorer) -> None:
    """Keep a linear scorer's arrays under ``key``; a directory that cannot be written only
    costs the next process the rebuild."""
    if not isinstance(scorer, LinearScorer):
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with replacing(directory / f"{key}.npz") as tmp, tmp.open("wb") as out:
            np.savez(out, allow_pickle=False, **scorer.arrays())
    except OSError:
        pass


def top_contributions(contrib_row: np.ndarray, k: int = 3) -> dict[str, float]:
    order = np.argsort(-np.abs(contrib_row))[:k]
    return {FEATURES[i]: round(float(contrib_row[i]), 6) for i in order}


def top_contributions_rows(contrib: np.ndarray, k: int = 3) -> list[dict[str, float]]:
    """``top_contributions`` for every row at once (one argsort for the whole batch)."""
    order = np.argsort(-np.abs(contrib), axis=1)[:, :k]
    values = np.round(np.take_along_axis(contrib, order, axis=1), 6).tolist()
    return [
        {FEATURES[i]: v for i, v in zip(idx, vals, strict=True)}
        for idx, vals in zip(order.tolist(), values, strict=True)
    ]


METHODS = {
    "linear": LinearScorer.method,
    "gradient_boosting": TreeScorer.method,
    "random_forest": TreeScorer.method,
}


def method_of(family: str) -> str:
    """The explanation method of a model family (model card, docs)."""
    return METHODS[family]
