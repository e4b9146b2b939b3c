"""Row-level validation: every row read is either accepted or quarantined with its reasons.

The contract (``PilotSchema``) is applied lazily, so all failures of a batch are collected;
rows that fail go to quarantine with the failed checks, the rest are coerced and accepted.
Structural problems (missing columns, nothing to read) fail the whole source instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.errors as pa_errors
import pandera.pandas as pa
import pyarrow as arrow
import pyarrow.compute as pc

from .errors import DataError
from .schema import KEY, LABEL, RENAMES, PilotSchema

CONTRACT_COLUMNS: list[str] = list(PilotSchema.to_schema().columns)
FAILED = "_failed_checks"
SOURCE = "_source"


@dataclass(frozen=True)
class Split:
    """One batch of rows, partitioned: ``read == accepted + unlabeled + quarantined`` always."""

    accepted: pd.DataFrame
    quarantined: pd.DataFrame  # the rows as read, plus _source and _failed_checks
    # Rows without a label that pass the scoring contract: rows to score, not to train on.
    unlabeled: pd.DataFrame | None = None
    # Positions (in the frame validated) of the quarantined rows, in order (None: not known).
    bad_rows: Any = None

    @property
    def rows_unlabeled(self) -> int:
        return 0 if self.unlabeled is None else len(self.unlabeled)

    @property
    def rows_read(self) -> int:
        return len(self.accepted) + len(self.quarantined) + self.rows_unlabeled


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


def conform_table(
    table: arrow.Table, label: str, rename: dict[str, str] | None = None
) -> arrow.Table | pd.DataFrame:
    """``conform`` for an Arrow chunk (a Parquet file's): the same names, checks and errors,
    without converting the rows to pandas. Two source columns named onto one contract column
    are pandas' case (it keeps both): such a chunk goes through ``conform`` as pandas."""
    if table.num_columns == 0:
        raise DataError(f"source {label}: no rows", "empty")
    names = [RENAMES.get(c, c) for c in table.column_names]
    names = [(rename or {}).get(c, c) for c in names]
    missing = [c for c in CONTRACT_COLUMNS if c not in names]
    if missing:
        raise DataError(f"source {label}: missing columns {', '.join(missing)}")
    if not table.num_rows:
        raise DataError(f"source {label}: no rows", "empty")
    if any(names.count(c) > 1 for c in CONTRACT_COLUMNS):
        return conform(table.to_pandas(), label, rename)
    return table.rename_columns(names).select(CONTRACT_COLUMNS)


def label_missing_arrow(column: arrow.ChunkedArray) -> np.ndarray:
    """``label_missing`` of an Arrow label column: null, NaN, or blank text."""
    if arrow.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    missing = pc.is_null(column, nan_is_null=True)
    if arrow.types.is_string(column.type) or arrow.types.is_large_string(column.type):
        blank = pc.equal(pc.utf8_trim_whitespace(column), "")
        missing = pc.or_(missing, pc.fill_null(blank, False))
    return np.asarray(missing, dtype=bool)


def scoring_schema() -> pa.DataFrameSchema:
    """The contract for rows to score: every column but the label (scored rows have none yet)."""
    return PilotSchema.to_schema().remove_columns([LABEL])


def label_missing(frame: pd.DataFrame) -> pd.Series:
    """The rows whose label is missing: null, or a blank cell of a text file."""
    missing = frame[LABEL].isna()
    if frame[LABEL].dtype == object or pd.api.types.is_string_dtype(frame[LABEL]):
        missing |= frame[LABEL].astype("str").str.strip().eq("")
    return missing


def split_labeled(frame: pd.DataFrame, label: str) -> Split:
    """A conformed frame validated in two parts: rows with a label against the contract, rows
    whose label is missing against ``scoring_schema()`` (the label is never a reason to
    quarantine a row: such rows are scored, not trained on). Accepted and unlabeled rows keep
    their order; the quarantine holds the labeled rows' failures first."""
    frame = frame.reset_index(drop=True)
    missing = label_missing(frame)
    if not missing.any():
        return split_valid_fast(frame, label, PilotSchema.to_schema())
    labeled = split_valid_fast(frame[~missing], label, PilotSchema.to_schema())
    scored = split_valid_fast(frame[missing].drop(columns=LABEL), label, scoring_schema())
    quarantined = pd.concat([labeled.quarantined, scored.quarantined], ignore_index=True)
    return Split(labeled.accepted, quarantined, scored.accepted)


def split_valid(frame: pd.DataFrame, label: str, schema: pa.DataFrameSchema | None = None) -> Split:
    """Validate a conformed frame row by row (the contract, or ``schema``); see the docstring."""
    frame = frame.reset_index(drop=True)
    accepted, reasons = judge(frame, label, schema if schema is not None else PilotSchema)
    return _split(frame, accepted, reasons)


def _split(frame: pd.DataFrame, accepted: pd.DataFrame, reasons: dict[int, list[str]]) -> Split:
    bad = sorted(reasons)
    failed = pd.Series(["; ".join(reasons[i]) for i in bad], index=bad, dtype="str")
    quarantined = frame.loc[bad].assign(**{FAILED: failed})
    return Split(
        accepted.reset_index(drop=True),
        quarantined.reset_index(drop=True),
        bad_rows=np.asarray(bad, dtype=np.int64),
    )


def judge(
    frame: pd.DataFrame, label: str, contract: pa.DataFrameSchema | type[PilotSchema]
) -> tuple[pd.DataFrame, dict[int, list[str]]]:
    """Pandera on ``frame``: the accepted rows (coerced, index kept) and each bad row's reasons."""
    reasons: dict[int, list[str]] = {}
    schema = contract if isinstance(contract, pa.DataFrameSchema) else contract.to_schema()
    remaining = integral_frame(frame, schema)
    # A value that cannot be coerced hides the other checks of its column; after removing such
    # rows, the next pass sees them. Two or three passes settle any batch.
    for _ in range(5):
        if remaining.empty:
            return remaining, reasons
        try:
            return contract.validate(remaining, lazy=True), reasons
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
    raise DataError(f"source {label}: validation did not settle")


def split_valid_fast(frame: pd.DataFrame, label: str, schema: pa.DataFrameSchema) -> Split:
    """``split_valid``, the same rows and reasons, with the contract's checks run vectorised.

    The contract's own column objects do the work (its parsers, dtype coercion, checks,
    nullability, uniqueness) on whole columns; only the rows some check flags (if any) go
    through ``split_valid``'s pandera passes for their exact reasons. A contract this path
    cannot mirror (frame-wide checks, an index, a non-coercing column) is pandera's alone.
    """
    frame = frame.reset_index(drop=True)
    if not mirrorable(schema, list(frame.columns)):
        return split_valid(frame, label, schema)
    remaining, parts = frame, []
    suspects = np.zeros(len(frame), dtype=bool)
    for _ in range(5):  # each pass removes flagged rows; a pass without any settles it
        coerced, flagged = _vector_pass(remaining, schema)
        if not flagged.any():
            break
        suspects[remaining.index[flagged]] = True
        remaining = remaining[~flagged]
    else:
        return split_valid(frame, label, schema)
    parts.append(coerced)
    reasons: dict[int, list[str]] = {}
    if suspects.any():
        judged, reasons = judge(frame[suspects], label, schema)
        if len(judged):  # an empty one is uncoerced: its dtypes would spoil the concat
            parts.append(judged)
    accepted = parts[0] if len(parts) == 1 else pd.concat(parts).sort_index()
    return _split(frame, accepted, reasons)


def mirrorable(schema: pa.DataFrameSchema, names: list[str]) -> bool:
    plain = not (schema.checks or schema.unique or schema.index is not None)
    plain = plain and not getattr(schema, "parsers", None) and not schema.add_missing_columns
    columns = schema.columns.values()
    coercing = all((schema.coerce or c.coerce) and c.dtype is not None for c in columns)
    simple = not any(c.regex for c in columns)
    return plain and coercing and simple and list(names) == list(schema.columns)


def _vector_pass(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> tuple[pd.DataFrame, Any]:
    """Every column coerced and checked whole: (the coerced frame, rows any check flags)."""
    flagged = np.zeros(len(frame), dtype=bool)
    out: dict[str, pd.Series] = {}
    for name, column in schema.columns.items():
        series, bad = vector_column(frame[name], column)
        out[name] = series
        flagged |= bad
    return pd.DataFrame(out, index=frame.index), flagged


def integral_frame(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """``frame`` with each number column ``judgeable`` and ``integral`` applied to each of the
    schema's integer columns."""
    out = None
    for name, column in schema.columns.items():
        if name in frame.columns and _is_number(column):
            series = judgeable(frame[name], column)
            series = integral(series) if _is_int(column) else series
            if series is not frame[name]:
                out = frame.copy() if out is None else out
                out[name] = series
    return frame if out is None else out


def _is_int(column: Any) -> bool:
    dtype = getattr(column.dtype, "type", None)
    return isinstance(dtype, np.dtype) and dtype.kind in "iu"


def _is_number(column: Any) -> bool:
    dtype = getattr(column.dtype, "type", None)
    return isinstance(dtype, np.dtype) and dtype.kind in "iuf"


def judgeable(series: pd.Series, column: Any) -> pd.Series:
    """A number column held as Arrow text or a categorical (as a Parquet file may hold it) as
    object values: pandera names the values a number column cannot take only from those."""
    if _is_number(column) and not pd.api.types.is_numeric_dtype(series.dtype):
        return series.astype(object)
    return series


_INTEGRAL_TEXT = r"^\s*[+-]?\d+\.0*\s*$"


def integral(series: pd.Series) -> pd.Series:
    """An integer column as files deliver it: ``73.0`` (what pandas writes for an int column
    with a missing value) is 73. A value with a fraction (``73.5``) is kept as text, so the
    int coercion fails on that row and quarantines it naming the column (pandas' own cast
    would silently truncate it to 73)."""
    if series.dtype.kind == "f":
        fraction = series.notna() & np.isfinite(series) & (series % 1 != 0)
        if not fraction.any():
            return series
        out = series.astype(object)
        out[fraction] = series[fraction].astype(str)
        return out
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        text = series.astype("str")  # an object column may hold numbers too
        if not text.str.contains(".", regex=False).fillna(False).astype(bool).any():
            return series  # the common case: no decimal point anywhere, nothing to do
        whole = text.str.match(_INTEGRAL_TEXT).fillna(False).astype(bool)
        if not whole.any():
            return series
        out = series.copy()
        out[whole] = text[whole].str.strip().str.replace(r"\.0*$", "", regex=True)
        return out
    return series


def vector_column(series: pd.Series, column: Any) -> tuple[pd.Series, Any]:
    if _is_int(column):
        series = integral(series)
    backend = column.get_backend(series)
    if column.default is not None:
        series = backend.set_default(series, column)
    series = backend.run_parsers(column, series)
    series = judgeable(series, column)
    try:
        series = column.dtype.try_coerce(series)
    except pa_errors.ParserError as exc:
        bad = series.index.isin(exc.failure_cases["index"])
        return series, bad | np.asarray(series.isna())  # the next pass coerces the rest
    bad = np.zeros(len(series), dtype=bool)
    if not column.nullable:
        bad |= np.asarray(series.isna())
    if column.unique:
        bad |= np.asarray(series.duplicated(keep=False))
    for check in column.checks:
        result = check(series).check_output
        if not isinstance(result, pd.Series):  # a whole-column verdict
            bad |= not bool(result)
            continue
        passed = result.reindex(series.index, fill_value=True)  # nulls skipped (ignore_na)
        bad |= ~np.asarray(passed, dtype=bool)
    return series, bad


def split_cross_source_duplicates(accepted: pd.DataFrame) -> Split:
    """Keys must be unique across sources too; every copy of a clashing key is quarantined."""
    if KEY is None:  # no key in the contract: rows have no identity to clash on
        return Split(accepted.reset_index(drop=True), accepted.iloc[0:0])
    clash = accepted[KEY].duplicated(keep=False)
    quarantined = accepted[clash].assign(**{FAILED: f"{KEY}: unique across sources"})
    return Split(accepted[~clash].reset_index(drop=True), quarantined.reset_index(drop=True))
