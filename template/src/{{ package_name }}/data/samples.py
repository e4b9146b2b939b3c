"""Sample rows derived from the contract alone: API examples and the tests' good and bad rows.

One place builds them, so no test, example or document names a column of its own.
"""

from __future__ import annotations

from typing import Any

from .schema import FEATURES, PilotSchema


def _check_values(column: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for check in column.checks:
        stats = check.statistics or {}
        if check.name == "greater_than_or_equal_to":
            found["ge"] = stats["min_value"]
        elif check.name == "less_than_or_equal_to":
            found["le"] = stats["max_value"]
        elif check.name == "isin":
            found["isin"] = list(stats["allowed_values"])
    return found


def _value(column: Any) -> Any:
    bounds = _check_values(column)
    if "isin" in bounds:
        return bounds["isin"][0]
    dtype = str(column.dtype)
    lo, hi = bounds.get("ge", 0), bounds.get("le", bounds.get("ge", 0) + 10)
    if dtype.startswith("int"):
        return int((int(lo) + int(hi)) // 2)
    if dtype.startswith("float"):
        return round((float(lo) + float(hi)) / 2, 2)
    return "x"


def sample_features() -> dict[str, Any]:
    """One valid request row: every feature at a value its checks accept."""
    columns = PilotSchema.to_schema().columns
    return {name: _value(columns[name]) for name in FEATURES}


def bad_feature() -> tuple[str, Any]:
    """A feature and a value the contract refuses: just past a bound, or an unknown category."""
    columns = PilotSchema.to_schema().columns
    for name in FEATURES:
        bounds = _check_values(columns[name])
        if "le" in bounds:
            return name, bounds["le"] + 1
        if "isin" in bounds:
            return name, "__not_a_category__"
    raise LookupError("the contract has no bounded feature")
