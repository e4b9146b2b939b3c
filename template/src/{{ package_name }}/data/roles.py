"""Contract facts beyond ``columns_with``, kept out of ``schema.py`` (which the user owns and
``copier update`` never overwrites)."""

from __future__ import annotations

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
