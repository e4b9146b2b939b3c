"""The data contract: one pandera model that training, ingestion and serving all derive from.

Column metadata marks the role of each column, so that privacy rules and feature selection
are read from the contract instead of being repeated in code:
``pii`` (never a feature, hashed or dropped), ``protected`` (never a feature, used for
fairness slices), ``feature`` (``numeric`` or ``categorical``), ``key``, ``label``, ``time``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

SCHEMA_VERSION = "1"
# What the model predicts: "binary", "multiclass" or "regression" (batch output shapes follow).
TASK = "binary"

PLANS = ["basic", "standard", "premium"]
REGIONS = ["north", "south", "east", "west"]
GENDERS = ["female", "male", "nonbinary", "undisclosed"]


class CustomerSchema(pa.DataFrameModel):
    customer_id: Series[str] = pa.Field(
        unique=True, str_matches=r"^C\d{6,}$", metadata={"role": "key"}
    )
    email: Series[str] = pa.Field(nullable=True, metadata={"role": "pii"})
    age: Series[int] = pa.Field(ge=18, le=100, metadata={"role": "feature", "kind": "numeric"})
    tenure_months: Series[int] = pa.Field(
        ge=0, le=240, metadata={"role": "feature", "kind": "numeric"}
    )
    monthly_spend: Series[float] = pa.Field(
        ge=0, le=10_000, metadata={"role": "feature", "kind": "numeric"}
    )
    support_tickets: Series[int] = pa.Field(
        ge=0, le=100, metadata={"role": "feature", "kind": "numeric"}
    )
    plan: Series[str] = pa.Field(isin=PLANS, metadata={"role": "feature", "kind": "categorical"})
    region: Series[str] = pa.Field(
        isin=REGIONS, metadata={"role": "feature", "kind": "categorical"}
    )
    gender: Series[str] = pa.Field(isin=GENDERS, metadata={"role": "protected"})
    churned: Series[int] = pa.Field(isin=[0, 1], metadata={"role": "label"})
    event_ts: Series[pd.Timestamp] = pa.Field(metadata={"role": "time"})

    class Config:
        strict = True
        coerce = True


def columns_with(role: str, kind: str | None = None) -> list[str]:
    """Column names whose metadata has the given role (and kind, for features)."""
    out = []
    for name, col in CustomerSchema.to_schema().columns.items():
        meta: dict[str, Any] = col.metadata or {}
        if meta.get("role") == role and (kind is None or meta.get("kind") == kind):
            out.append(name)
    return out


NUMERIC_FEATURES = columns_with("feature", "numeric")
CATEGORICAL_FEATURES = columns_with("feature", "categorical")
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES
LABEL = columns_with("label")[0]
KEY = columns_with("key")[0]
TIME = columns_with("time")[0]
PII_COLUMNS = columns_with("pii")
PROTECTED_COLUMNS = columns_with("protected")
