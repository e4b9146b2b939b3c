"""Sample rows derived from the contract: API examples and the tests' good and bad rows.

One place builds them, so no test, example or document names a column of its own: after
``data adopt`` the same tests run on rows shaped like the adopted table.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .schema import (
    CATEGORICAL_FEATURES,
    FEATURES,
    KEY,
    NUMERIC_FEATURES,
    RENAMES,
    PilotSchema,
)

NOT_A_CATEGORY = "__not_a_category__"


def checks(name: str) -> dict[str, Any]:
    """A column's bounds and allowed values, as the contract states them."""
    found: dict[str, Any] = {}
    for check in PilotSchema.to_schema().columns[name].checks:
        stats = check.statistics or {}
        if check.name == "greater_than_or_equal_to":
            found["ge"] = stats["min_value"]
        elif check.name == "less_than_or_equal_to":
            found["le"] = stats["max_value"]
        elif check.name == "isin":
            found["isin"] = list(stats["allowed_values"])
    return found


def _value(name: str) -> Any:
    bounds = checks(name)
    if "isin" in bounds:
        return bounds["isin"][0]
    dtype = str(PilotSchema.to_schema().columns[name].dtype)
    if dtype == "bool":  # a yes/no feature a table wrote as booleans
        return True
    if dtype.startswith("datetime"):  # a date kept as a feature: ISO 8601, as JSON carries it
        return "2026-01-01T00:00:00"
    lo = bounds.get("ge", 0)
    hi = bounds.get("le", lo + 10)
    if dtype.startswith("int"):
        return int((int(lo) + int(hi)) // 2)
    if dtype.startswith("float"):
        return round((float(lo) + float(hi)) / 2, 2)
    return "x"


def sample_features() -> dict[str, Any]:
    """One valid request row: every feature at a value its checks accept."""
    return {name: _value(name) for name in FEATURES}


def another_features() -> dict[str, Any]:
    """A second valid request row, differing from ``sample_features`` in its first feature."""
    row = sample_features()
    name = FEATURES[0]
    bounds = checks(name)
    if "isin" in bounds:
        row[name] = other_category(name, row[name])
    elif isinstance(row[name], bool):
        row[name] = not row[name]
    elif isinstance(row[name], str):  # free text or a date: another value of that shape
        row[name] = "2026-02-01T00:00:00"
    else:
        lo, hi = float(bounds.get("ge", 0)), float(bounds.get("le", 10))
        value = lo + (hi - lo) / 4
        row[name] = int(value) if isinstance(row[name], int) else round(value, 2)
    return row


def sample_rows(rows: int, seed: int = 42, end: str = "2026-06-01") -> pd.DataFrame:
    """Whole contract rows (key, label, PII, ...) as ingestion accepts them: shaped like the
    adopted table when ``data/profile.json`` exists, else the demo customers. Deterministic
    per seed."""
    from .fixture import generate, load_profile

    profile = load_profile()
    if profile is not None:
        frame = generate(profile, rows, seed, end=pd.Timestamp(end))
    else:
        from .synthetic import generate as demo

        frame = demo(rows, seed, start=str(pd.Timestamp(end) - pd.Timedelta(days=300)))
    return PilotSchema.validate(frame)  # coerced, missing values filled by the contract


def as_source(frame: pd.DataFrame) -> pd.DataFrame:
    """Contract rows under the source's own column names (what a source holds)."""
    return frame.rename(columns={contract: source for source, contract in RENAMES.items()})


def fresh_keys(existing: pd.Series, n: int) -> list[Any]:
    """``n`` keys unlike any of ``existing``, of its type and shape (an existing key, longer)."""
    if pd.api.types.is_integer_dtype(existing):
        start = int(existing.max()) + 1
        return list(range(start, start + n))
    first = str(existing.iloc[0])
    return [f"{first}9{i:06d}" for i in range(n)]


def bad_feature() -> tuple[str, Any]:
    """A feature and a value the contract refuses: past a bound, or an unknown category."""
    for name in FEATURES:
        bounds = checks(name)
        if "le" in bounds:
            return name, bounds["le"] + 1
        if "isin" in bounds:
            return name, NOT_A_CATEGORY
    raise LookupError("the contract has no bounded feature")


def bad_values() -> list[tuple[str, Any]]:
    """(column, value) pairs that each break exactly one contract rule."""
    columns = PilotSchema.to_schema().columns
    out: list[tuple[str, Any]] = []
    for name, column in columns.items():
        bounds = checks(name)
        dtype = str(column.dtype)
        if "ge" in bounds:
            out.append((name, bounds["ge"] - 1))
        if "le" in bounds:
            out.append((name, bounds["le"] + 1))
        if "isin" in bounds:
            out.append((name, NOT_A_CATEGORY if dtype in {"str", "object"} else 987654))
        if dtype.startswith(("int", "float")):
            out.append((name, "not a number"))
        if dtype.startswith("datetime"):
            out.append((name, "not a time"))
        if not column.nullable and column.default is None and name != KEY:
            out.append((name, None))
    return out


def other_category(name: str, value: Any) -> Any:
    """Another allowed value of a categorical column."""
    allowed = checks(name)["isin"]
    return next((v for v in allowed if v != value), value)


def shifted(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows after a large drift: numeric features move up by their range, and the first
    categorical feature collapses to one value. Returns the shifted columns too."""
    out = frame.copy()
    for name in NUMERIC_FEATURES:
        bounds = checks(name)
        span = float(bounds.get("le", 1) - bounds.get("ge", 0))
        moved = out[name].astype(float) + span / 3
        out[name] = moved.clip(upper=bounds.get("le"))
    if CATEGORICAL_FEATURES:
        name = CATEGORICAL_FEATURES[0]
        counts = out[name].astype(str).value_counts()
        out[name] = str(counts.index[-1])  # the rarest category, for every row
    return out


def drifted_columns() -> list[str]:
    """The features ``shifted`` moves."""
    return NUMERIC_FEATURES + CATEGORICAL_FEATURES[:1]
