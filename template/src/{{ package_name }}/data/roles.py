"""Contract facts beyond ``columns_with``, kept out of ``schema.py`` (which the user owns and
``copier update`` never overwrites)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandera.pandas as pa

from . import schema


def contract_column(name: str) -> pa.Column:
    """The contract's column (dtype, checks, metadata), e.g. to validate outcomes' labels."""
    column: pa.Column = schema.PilotSchema.to_schema().columns[name]
    return column


def _meta(name: str) -> dict[str, Any]:
    return dict(contract_column(name).metadata or {})


# The task ("binary", "multiclass", "regression"); contracts written before it existed are binary.
TASK: str = getattr(schema, "TASK", "binary")
# binary: the label value counted as positive; contracts before SCHEMA_VERSION 2 used 1.
POSITIVE: Any = getattr(schema, "POSITIVE", 1 if TASK == "binary" else None)
# Column -> "protected" / "not protected" / "unanswered" (data adopt's question to the owner).
PROTECTED_REVIEW: dict[str, str] = dict(getattr(schema, "PROTECTED_REVIEW", {}))
# A key the contract marks ``pii: True`` is hashed wherever it is recorded (decisions, outcomes).
KEY_IS_PII = schema.KEY is not None and bool(_meta(schema.KEY).get("pii"))
# The event time's text form when the table writes it in a local one (``"%m/%d/%Y %H:%M"``:
# `data adopt` records it in the column's metadata): a file source reads it so, never guessing
# the order, and the API takes it besides ISO 8601. None: ISO 8601 or date-time values.
TIME_FORMAT: str | None = _meta(schema.TIME).get("format") if schema.TIME is not None else None


def same_label(value: Any, label: Any) -> bool:
    """Whether a stored or logged label is this label value: the same value, or the same number
    or text once stored (1 arrives as 1, 1.0 or "1"; "yes" as "yes")."""
    if value == label:
        return True
    try:
        return float(value) == float(label)
    except (TypeError, ValueError):
        return str(value) == str(label)


def is_positive(value: Any) -> bool:
    """Whether a label value is the binary contract's positive class, ``POSITIVE``."""
    return same_label(value, POSITIVE)


def positives(values: Iterable[Any]) -> list[bool]:
    """Which of a binary label's values are the positive class. Outcomes that arrive as 0/1
    indicators of a contract whose ``POSITIVE`` is another value ("yes", say) read 1 as
    positive: when no value is ``POSITIVE`` itself and every value is 0 or 1."""
    values = list(values)
    if not any(map(is_positive, values)) and all(map(_indicator, values)):
        return [same_label(v, 1) for v in values]
    return [is_positive(v) for v in values]


def _indicator(value: Any) -> bool:
    return same_label(value, 0) or same_label(value, 1)
