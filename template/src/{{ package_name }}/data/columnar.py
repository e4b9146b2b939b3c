"""``split_valid_fast`` for Arrow tables (batch scoring): the same rows and reasons, in Arrow.

A chunk read from Parquet is already typed. Each contract column whose Arrow type is the
contract's dtype (or casts to it losslessly) is checked on the Arrow column itself: nulls and
key uniqueness by Arrow kernels, the contract's own check objects on a zero-copy pandas view
(so a check means exactly what it means to pandera: pandas runs regexes with RE2 where that is
exact, Python's ``re`` where it is not). Any other column goes through ``split_valid_fast``'s
pandas path. A text column with few distinct values (``dictionary_columns``) is read as an
Arrow dictionary and each check judges its distinct values once. Flagged rows only (if any)
are converted to pandas and judged by pandera for their exact reasons; accepted rows stay
Arrow. Only batch scoring imports this (the serving image has no pyarrow).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as arrow
import pyarrow.compute as pc

from .quality import FAILED, judge, mirrorable, split_valid, split_valid_fast, vector_column
from .schema import CATEGORICAL_FEATURES


@dataclass(frozen=True)
class ColumnarSplit:
    """One chunk, partitioned: accepted rows (coerced, Arrow) and quarantined rows (pandas)."""

    accepted: arrow.Table
    quarantined: pd.DataFrame  # the rows as read, plus _failed_checks
    # The accepted rows' positions in the chunk (ascending): a key-less table's row identity.
    positions: Any = None

    @property
    def rows_read(self) -> int:
        return len(self.accepted) + len(self.quarantined)


def dictionary_columns(schema: pa.DataFrameSchema) -> frozenset[str]:
    """Text columns whose values come from a small set: the categorical features and the
    columns an ``isin`` check bounds (never a unique one). A reader decodes them as Arrow
    dictionaries: the distinct values once, then an index per row."""
    return frozenset(
        name
        for name, column in schema.columns.items()
        if not column.unique
        and isinstance(column.dtype.type, pd.StringDtype)
        and (name in CATEGORICAL_FEATURES or any(c.name == "isin" for c in column.checks))
    )


def to_arrow(frame: pd.DataFrame) -> arrow.Table:
    """Accepted (coerced) pandas rows as Arrow; strings as large_string, as Parquet reads them."""
    table = arrow.Table.from_pandas(frame, preserve_index=False)
    fields = [
        f.with_type(arrow.large_string()) if arrow.types.is_string(f.type) else f
        for f in table.schema
    ]
    return table.cast(arrow.schema(fields))


def split_frame(frame: pd.DataFrame, label: str, schema: pa.DataFrameSchema) -> ColumnarSplit:
    """A pandas chunk (CSV, SQL): the pandas fast path, accepted rows handed on as Arrow."""
    split = split_valid_fast(frame, label, schema)
    return ColumnarSplit(to_arrow(split.accepted), split.quarantined, _kept(len(frame), split))


def _kept(rows: int, split: Any) -> Any:
    """The positions of a ``Split``'s accepted rows among ``rows``."""
    return np.setdiff1d(np.arange(rows, dtype=np.int64), split.bad_rows, assume_unique=True)


def split_table(table: arrow.Table, label: str, schema: pa.DataFrameSchema) -> ColumnarSplit:
    """Validate an Arrow chunk with ``schema``; see the module docstring."""
    if not mirrorable(schema, table.column_names):
        split = split_valid(decoded(table).to_pandas(), label, schema)
        return ColumnarSplit(to_arrow(split.accepted), split.quarantined, _kept(len(table), split))
    rows = np.arange(len(table))
    remaining, suspects = table, np.zeros(len(table), dtype=bool)
    for _ in range(5):  # each pass removes flagged rows; a pass without any settles it
        coerced, flagged = _arrow_pass(remaining, schema)
        if not flagged.any():
            break
        suspects[rows[flagged]] = True
        rows = rows[~flagged]
        remaining = remaining.filter(arrow.array(~flagged))
    else:
        split = split_valid(decoded(table).to_pandas(), label, schema)
        return ColumnarSplit(to_arrow(split.accepted), split.quarantined, _kept(len(table), split))
    if not suspects.any():
        everything = np.arange(len(table), dtype=np.int64)
        return ColumnarSplit(coerced, _no_rows(dense_schema(table.schema)), everything)
    return _with_suspects(table, coerced, rows, suspects, label, schema)


@functools.lru_cache(maxsize=8)
def _no_rows(schema: arrow.Schema) -> pd.DataFrame:
    """An empty quarantine with the columns and dtypes of the rows as read (one per schema:
    converting an empty table costs more than checking some columns)."""
    frame: pd.DataFrame = schema.empty_table().to_pandas()
    return frame.assign(**{FAILED: pd.Series([], dtype="str")})


def _with_suspects(
    table: arrow.Table,
    coerced: arrow.Table,
    kept: np.ndarray,
    suspects: np.ndarray,
    label: str,
    schema: pa.DataFrameSchema,
) -> ColumnarSplit:
    """Flagged rows judged by pandera (exact reasons); the ones it accepts rejoin in order."""
    where = np.flatnonzero(suspects)
    frame = decoded(table.take(arrow.array(where))).to_pandas()
    frame.index = where  # positions in the chunk, as split_valid_fast's judge sees them
    judged, reasons = judge(frame, label, schema)
    bad = sorted(reasons)
    failed = pd.Series(["; ".join(reasons[i]) for i in bad], index=bad, dtype="str")
    quarantined = frame.loc[bad].assign(**{FAILED: failed}).reset_index(drop=True)
    accepted, positions = coerced, kept
    if len(judged):
        back = to_arrow(judged).cast(coerced.schema)
        both = np.concatenate([kept, judged.index.to_numpy()])
        order = np.argsort(both, kind="stable")
        accepted = arrow.concat_tables([coerced, back]).take(arrow.array(order))
        positions = both[order]
    return ColumnarSplit(accepted, quarantined, np.asarray(positions, dtype=np.int64))


def dense_schema(schema: arrow.Schema) -> arrow.Schema:
    """``schema`` with each dictionary column as its values' type."""
    dense = (
        f.with_type(f.type.value_type) if arrow.types.is_dictionary(f.type) else f for f in schema
    )
    return arrow.schema(list(dense), schema.metadata)


def decoded(table: arrow.Table) -> arrow.Table:
    """Dictionary columns decoded: the rows exactly as pandas and pandera see a dense read."""
    dense = dense_schema(table.schema)
    return table if dense.equals(table.schema) else table.cast(dense)


def _arrow_pass(table: arrow.Table, schema: pa.DataFrameSchema) -> tuple[arrow.Table, Any]:
    """Every column coerced and checked whole: (the coerced table, rows any check flags).

    Flags stay Arrow booleans (bitmaps, OR-ed a word at a time) until one numpy conversion."""
    flags: list[Any] = []
    columns: dict[str, Any] = {}
    for name, column in schema.columns.items():
        array, bad = _arrow_column(table[name], column)
        columns[name] = array
        flags += bad
    flagged = functools.reduce(pc.or_, flags) if flags else np.zeros(len(table), dtype=bool)
    return arrow.table(columns), np.asarray(flagged, dtype=bool)


def _target(column: Any) -> arrow.DataType | None:
    """The Arrow type of the contract's dtype, when this path can mirror its coercion."""
    dtype = column.dtype.type
    if isinstance(dtype, pd.StringDtype):
        return arrow.large_string()
    if isinstance(dtype, np.dtype) and dtype.kind in "ifM":
        return arrow.from_numpy_dtype(dtype)
    return None


def _lossless(source: arrow.DataType, target: arrow.DataType) -> bool:
    """Casts that change no value (anything else is coerced by pandas, as pandera does)."""
    if source == target:
        return True
    if arrow.types.is_large_string(target):
        return bool(arrow.types.is_string(source))
    if arrow.types.is_timestamp(target):  # a safe cast refuses values out of the ns range
        return bool(arrow.types.is_timestamp(source) and source.tz is None)
    if arrow.types.is_int64(target):
        return bool(
            arrow.types.is_signed_integer(source) or source in (arrow.uint8(), arrow.uint16())
        )
    return bool(arrow.types.is_float64(target) and arrow.types.is_float32(source))


def _plain(column: Any) -> bool:
    """No default fills and no parsers: the values are checked as they are read."""
    return column.default is None and not getattr(column, "parsers", None)


Flags = list[Any]  # Arrow boolean arrays, one per check that ran: true marks a flagged row


def _arrow_column(array: arrow.ChunkedArray, column: Any) -> tuple[arrow.ChunkedArray, Flags]:
    if arrow.types.is_dictionary(array.type):
        return _dictionary_column(array, column)
    target = _target(column)
    plain = _plain(column)
    integral = target is not None and arrow.types.is_integer(target)
    if target is None or not plain or not _lossless(array.type, target):
        return _pandas_column(array, column)
    if integral and array.null_count:  # pandas cannot coerce a null to int64: pandera's call
        return _pandas_column(array, column)
    try:
        array = array.cast(target)  # safe: raises instead of changing a value
    except (arrow.ArrowInvalid, arrow.ArrowNotImplementedError):
        return _pandas_column(array, column)
    bad: Flags = []
    if not column.nullable and array.null_count:
        bad.append(pc.is_null(array))  # NaN is a value here: only float columns can hold one
    if not column.nullable and arrow.types.is_floating(array.type):
        bad.append(pc.fill_null(pc.is_nan(array), False))
    if column.unique:
        bad += _duplicated(array)
    series = None
    for check in column.checks:
        flagged = _arrow_check(check, array)
        if flagged is None:  # no kernel for it: pandera's check, on a zero-copy view
            series = array.to_pandas() if series is None else series
            flagged = arrow.array(~_passed(check(series).check_output, series))
        bad.append(flagged)
    return array, bad


def _dictionary_column(array: arrow.ChunkedArray, column: Any) -> tuple[arrow.ChunkedArray, Flags]:
    """A dictionary column: each check judges the distinct values once and every row takes its
    value's verdict (exact, as the Arrow kernels are element-wise). Anything else (a check
    without a kernel, a parser, a lossy cast) decodes the column and takes the dense path."""
    values_type = array.type.value_type
    target = _target(column)
    if target is None or not _plain(column) or column.unique or not _lossless(values_type, target):
        return _arrow_column(array.cast(values_type), column)
    array = array.cast(arrow.dictionary(array.type.index_type, target))
    if column.nullable and not column.checks:
        return array, []
    verdicts = []
    for chunk in array.chunks:
        values = arrow.chunked_array([chunk.dictionary])
        value_bad: Flags = [] if column.nullable else [pc.is_null(values)]
        for check in column.checks:
            flagged = _arrow_check(check, values)
            if flagged is None:
                return _arrow_column(array.cast(target), column)
            value_bad.append(flagged)
        # A row takes its value's verdict; a null index is a null row, bad where not nullable.
        verdict = pc.take(functools.reduce(pc.or_, value_bad), chunk.indices)
        verdicts += pc.fill_null(verdict, not column.nullable).chunks
    return array, [arrow.chunked_array(verdicts, arrow.bool_())]


def _pandas_column(array: arrow.ChunkedArray, column: Any) -> tuple[arrow.ChunkedArray, Flags]:
    """The pandas path's coercion and checks, for a column Arrow cannot mirror."""
    series, bad = vector_column(array.to_pandas(), column)
    flags = [arrow.array(np.asarray(bad, dtype=bool))]
    # The contract's type where Arrow would infer none (no rows left, or no value in them),
    # so that the chunk's accepted rows concatenate with the rows pandera judged.
    target = _target(column) or arrow.null()
    try:
        values = arrow.Array.from_pandas(series)
    except (arrow.ArrowInvalid, arrow.ArrowTypeError):
        # Coercion failed (flagged rows): only a pass that flags nothing keeps its columns.
        return arrow.chunked_array([arrow.nulls(len(series), type=target)]), flags
    if arrow.types.is_null(values.type):
        values = values.cast(target)
    if isinstance(values, arrow.ChunkedArray):  # a column pandas keeps in Arrow: as it is
        return values, flags  # (re-wrapping one with no chunk would lose its type)
    return arrow.chunked_array([values]), flags


_ESCAPE = re.compile(r"\\(.)")
_NEGATED_ESCAPE = re.compile(r"\[\^[^\]]*\\")
_COMPARE = {
    "greater_than_or_equal_to": ("min_value", pc.greater_equal),
    "greater_than": ("min_value", pc.greater),
    "less_than_or_equal_to": ("max_value", pc.less_equal),
    "less_than": ("max_value", pc.less),
}


def _arrow_check(check: Any, array: arrow.ChunkedArray) -> Any | None:
    """The rows a built-in check may fail, by an Arrow kernel; None when none mirrors it.

    A kernel may flag more rows than pandera would (pandera judges every flagged row), never
    fewer. Nulls pass, as pandera's checks skip them (nullability is checked on its own).
    """
    if not check.ignore_na or getattr(check, "element_wise", False):
        return None
    try:
        passed = _kernel(check.name, check.statistics or {}, array)
    except (arrow.ArrowInvalid, arrow.ArrowNotImplementedError, arrow.ArrowTypeError):
        return None
    return None if passed is None else pc.invert(pc.fill_null(passed, True))


def _kernel(name: str, stats: dict[str, Any], array: arrow.ChunkedArray) -> Any:
    numeric = arrow.types.is_integer(array.type) or arrow.types.is_floating(array.type)
    if name in _COMPARE and numeric:
        key, compare = _COMPARE[name]
        bound = stats.get(key)
        if isinstance(bound, int | float) and not isinstance(bound, bool):
            return compare(array, bound)
    elif name in ("isin", "notin"):
        values = stats.get("allowed_values" if name == "isin" else "forbidden_values")
        if values is not None:
            found = pc.is_in(array, value_set=arrow.array(list(values), array.type))
            return found if name == "isin" else pc.invert(found)
    elif name == "str_matches" and arrow.types.is_large_string(array.type):
        pattern = stats.get("pattern")
        if isinstance(pattern, str) and _re2_no_wider(pattern):
            # pandas' own translation of re.match for RE2: anchored at the start
            return pc.match_substring_regex(array, f"^({pattern.removeprefix('^')})")
    return None


def _re2_no_wider(pattern: str) -> bool:
    """Whether RE2 accepts nothing Python's ``re`` rejects for this pattern. RE2's \\d \\w \\s
    are ASCII-only (narrower: fine); negated and boundary escapes, escapes inside a negated
    class, inline flags and look-arounds (``(?``) are wider, differ or do not exist in RE2."""
    if "(?" in pattern or _NEGATED_ESCAPE.search(pattern):
        return False
    return all(not e.isalnum() or e in "dws" for e in _ESCAPE.findall(pattern))


def _duplicated(array: arrow.ChunkedArray) -> Flags:
    """Every copy of a repeated value (nulls repeat each other, as in pandas).

    Keys often arrive in order (a table read by its key, an export): strictly increasing
    values are unique, proven by one comparison per row instead of a hash table (20x less)."""
    if not array.null_count and pc.all(pc.less(array[:-1], array[1:])).as_py() is not False:
        return []
    if len(pc.unique(array)) == len(array):
        return []
    counts = pc.value_counts(array)
    repeated = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
    return [pc.fill_null(pc.is_in(array, value_set=repeated, skip_nulls=False), False)]


def _passed(result: Any, series: pd.Series) -> Any:
    if not isinstance(result, pd.Series):  # a whole-column verdict
        return np.full(len(series), bool(result))
    if len(result) != len(series):  # nulls skipped (ignore_na)
        result = result.reindex(series.index, fill_value=True)
    return np.asarray(result, dtype=bool)
