"""Row-level validation: every row read is either accepted or quarantined with its reasons.

The contract (``PilotSchema``) is applied lazily, so all failures of a batch are collected;
rows that fail go to quarantine with the failed checks, the rest are coerced and accepted.
Structural problems (missing columns, nothing to read) fail the whole source instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pandera.errors as pa_errors
import pandera.pandas as pa

from .errors import DataError
from .schema import KEY, LABEL, RENAMES, PilotSchema

CONTRACT_COLUMNS: list[str] = list(PilotSchema.to_schema().columns)
FAILED = "_failed_checks"
SOURCE = "_source"


@dataclass(frozen=True)
class Split:
    """One batch of rows, partitioned: ``read == accepted + quarantined`` always."""

    accepted: pd.DataFrame
    quarantined: pd.DataFrame  # the rows as read, plus _source and _failed_checks

    @property
    def rows_read(self) -> int:
        return len(self.accepted) + len(self.quarantined)


def conform(frame: pd.DataFrame, label: str, rename: dict[str, str] | None = None) -> pd.DataFrame:
    """Map a source's own column names onto the contract and keep only contract columns.

    The contract's ``RENAMES`` (names that are not identifiers) apply first, then the
    source's configured ``rename``.
    """
    if frame.empty and len(frame.columns) == 0:
        raise DataError(f"source {label}: no rows", "empty")
    frame = frame.rename(columns=RENAMES).rename(columns=rename or {})
    missing = [c for c in CONTRACT_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"source {label}: missing columns {', '.join(missing)}")
    if frame.empty:
        raise DataError(f"source {label}: no rows", "empty")
    return frame[CONTRACT_COLUMNS].reset_index(drop=True)


def scoring_schema() -> pa.DataFrameSchema:
    """The contract for rows to score: every column but the label (scored rows have none yet)."""
    return PilotSchema.to_schema().remove_columns([LABEL])


def split_valid(frame: pd.DataFrame, label: str, schema: pa.DataFrameSchema | None = None) -> Split:
    """Validate a conformed frame row by row (the contract, or ``schema``); see the docstring."""
    contract = schema if schema is not None else PilotSchema
    frame = frame.reset_index(drop=True)
    reasons: dict[int, list[str]] = {}
    remaining = frame
    accepted: pd.DataFrame | None = None
    # A value that cannot be coerced hides the other checks of its column; after removing such
    # rows, the next pass sees them. Two or three passes settle any batch.
    for _ in range(5):
        if remaining.empty:
            accepted = remaining
            break
        try:
            accepted = contract.validate(remaining, lazy=True)
            break
        except pa_errors.SchemaErrors as exc:
            cases = exc.failure_cases
            per_row = cases[cases["index"].notna()]
            coerce = per_row["check"].astype(str).str.startswith("coerce_dtype")
            if coerce.any():
                # The other checks of a column that failed coercion saw uncoerced values (every
                # row of it may "fail" them): keep its coercion failures, judge the rest next pass.
                uncoerced = set(per_row.loc[coerce, "column"])
                per_row = per_row[coerce | ~per_row["column"].isin(uncoerced)]
            if per_row.empty:
                first = cases.iloc[0]
                raise DataError(
                    f"source {label}: column '{first['column']}' failed {first['check']}"
                ) from None
            for idx, column, check in per_row[["index", "column", "check"]].itertuples(index=False):
                found = reasons.setdefault(int(idx), [])
                reason = f"{column}: {check}"
                if reason not in found:
                    found.append(reason)
            remaining = remaining.drop(index=sorted({int(i) for i in per_row["index"]}))
    if accepted is None:
        raise DataError(f"source {label}: validation did not settle")
    bad = sorted(reasons)
    failed = pd.Series(["; ".join(reasons[i]) for i in bad], index=bad, dtype="str")
    quarantined = frame.loc[bad].assign(**{FAILED: failed})
    return Split(accepted.reset_index(drop=True), quarantined.reset_index(drop=True))


def split_cross_source_duplicates(accepted: pd.DataFrame) -> Split:
    """Keys must be unique across sources too; every copy of a clashing key is quarantined."""
    if KEY is None:  # no key in the contract: rows have no identity to clash on
        return Split(accepted.reset_index(drop=True), accepted.iloc[0:0])
    clash = accepted[KEY].duplicated(keep=False)
    quarantined = accepted[clash].assign(**{FAILED: f"{KEY}: unique across sources"})
    return Split(accepted[~clash].reset_index(drop=True), quarantined.reset_index(drop=True))
