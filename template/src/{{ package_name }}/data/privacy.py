"""PII policy: each PII column is hashed or dropped before data reaches training, logs or files.

The policy comes from settings (``data.pii``: column -> "hash" | "drop"); a PII column the
policy does not name is dropped, so a new PII column is never let through by omission. Hashes
are HMAC-SHA256 keyed by a secret from the environment, so they still join across tables but
cannot be reversed by hashing guessed values without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..settings import DataSettings, Settings
from .errors import DataError
from .keyed_hash import HEX, macs_later
from .quality import CONTRACT_COLUMNS
from .schema import PII_COLUMNS

DISTINCT_PROBE = 10_000  # values looked at to tell a key-like text column from a few-valued one


def pseudonymise(value: object, key: bytes) -> object:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()


def _macs(values: pa.Array, key: bytes) -> pa.Array:
    return _macs_later(values, key)()


def _macs_later(values: pa.Array, key: bytes) -> Callable[[], pa.Array]:
    """HMAC-SHA256 of each value of a ``large_binary`` array, as hex text: the same as
    ``pseudonymise`` (a null's slot is hashed like a value: callers mask it or have none).
    Arrow's own buffers go to ``keyed_hash`` (a large batch is hashed by worker processes
    while the caller goes on; the call returned waits), and the hex text is built there in one
    go, not per value."""
    count = len(values)
    _, offsets, data = values.buffers()
    positions = np.frombuffer(offsets, dtype=np.int64, count=count + 1, offset=8 * values.offset)
    digests = macs_later(key, b"" if data is None else memoryview(data), positions.tolist())

    def text() -> pa.Array:
        hexed = digests()
        hex_offsets = np.arange(0, HEX * count + 1, HEX, dtype=np.int64)
        return pa.Array.from_buffers(
            pa.large_string(), count, [None, pa.py_buffer(hex_offsets), pa.py_buffer(hexed)]
        )

    return text


def pseudonymise_arrow(values: pa.Array | pa.ChunkedArray, key: bytes) -> pa.Array:
    """``pseudonymise`` of an Arrow text column, once per distinct value; nulls stay null.
    Any other type goes through pandas (``str`` of each value, as ``pseudonymise`` does)."""
    return pseudonymise_arrow_later(values, key)()


def pseudonymise_arrow_later(
    values: pa.Array | pa.ChunkedArray, key: bytes
) -> Callable[[], pa.Array]:
    """``pseudonymise_arrow``, returned by the call this returns: a key-like column is hashed
    by the workers until then."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        column = pseudonymise_column(pd.Series(values.to_pandas()), key)
        done = pa.array(column, pa.large_string(), from_pandas=True)
        return lambda: done
    # a text's UTF-8 bytes are what str(v).encode() gives
    if _mostly_distinct(values):  # a key-like column: finding its distinct values saves nothing
        hashed = _macs_later(values.cast(pa.large_binary()), key)  # a null's slot: hashed...
        if not values.null_count:
            return hashed
        valid = values.is_valid()
        return lambda: pc.if_else(valid, hashed(), None)  # ...then masked
    encoded = values.dictionary_encode()
    distinct = _macs(encoded.dictionary.cast(pa.large_binary()), key).take(encoded.indices)
    return lambda: distinct


def _mostly_distinct(values: pa.Array) -> bool:
    """Whether the first ``DISTINCT_PROBE`` values of a longer array are nearly all different
    (e-mails, ids): hashing each row then costs less than a hash table of them first (a third
    of hashing's time), for the same hashes."""
    if len(values) <= DISTINCT_PROBE:
        return False
    distinct = pc.count_distinct(values.slice(0, DISTINCT_PROBE)).as_py()
    return bool(distinct > 0.9 * DISTINCT_PROBE)


def pseudonymise_column(series: pd.Series, key: bytes) -> pd.Series:
    """``pseudonymise`` of every value, computed once per distinct value (an HMAC per row
    was most of ingestion's time on large tables); missing values stay missing."""
    return pseudonymise_column_later(series, key)()


def pseudonymise_column_later(series: pd.Series, key: bytes) -> Callable[[], pd.Series]:
    """``pseudonymise_column``, returned by the call this returns: a key-like text column is
    hashed by the workers until then."""
    if isinstance(series.dtype, pd.StringDtype):
        values = pa.array(series, pa.large_string(), from_pandas=True)
        hashed = pseudonymise_arrow_later(values, key)
        return lambda: pd.Series(hashed().to_pandas(), index=series.index, dtype="str")
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    values = np.asarray(uniques, dtype=object)  # plain Python values: iterating Arrow is slow
    macs = _macs(pa.array([str(v).encode() for v in values], pa.large_binary()), key)
    # code -1 (a missing value) is a null index: a null hash
    column = pd.Series(
        macs.take(pa.array(codes, pa.int64(), mask=codes < 0)).to_pandas(),
        index=series.index,
        dtype="str",
    )
    return lambda: column


def pii_policy(data: DataSettings) -> dict[str, str]:
    """The action per column: the configured one, ``drop`` for unlisted PII."""
    unknown = sorted(set(data.pii) - set(CONTRACT_COLUMNS))
    if unknown:
        raise DataError(
            f"PII policy (APP_DATA__PII): unknown columns {', '.join(unknown)}", "config"
        )
    policy: dict[str, str] = {col: "drop" for col in PII_COLUMNS}
    policy.update(data.pii)
    return policy


def pii_key(settings: Settings) -> bytes:
    return os.environ.get(settings.data.pii_salt_env, "").encode()


def apply_pii_policy(frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    return apply_pii_policy_later(frame, settings)()


def apply_pii_policy_later(frame: pd.DataFrame, settings: Settings) -> Callable[[], pd.DataFrame]:
    """``apply_pii_policy``, returned by the call this returns: a key-like text column is
    hashed by the workers until then (``ingest`` validates the next chunk meanwhile)."""
    key = pii_key(settings)
    policy = pii_policy(settings.data)
    dropped = [c for c, action in policy.items() if action == "drop" and c in frame.columns]
    out = frame.drop(columns=dropped)  # a new frame: the caller's is never changed
    hashed = {
        column: pseudonymise_column_later(out[column], key)
        for column, action in policy.items()
        if action != "drop" and column in out.columns
    }

    def protected() -> pd.DataFrame:
        for column, done in hashed.items():
            out[column] = done()
        return out

    return protected


def protect_table_later(table: pa.Table, settings: Settings) -> Callable[[], pa.Table]:
    """``apply_pii_policy`` on an Arrow table (the same columns and the same hashes),
    returned by the call this returns: a key-like column is hashed by worker processes until
    then (``ingest`` validates the next chunk meanwhile)."""
    key = pii_key(settings)
    hashed: dict[str, Callable[[], pa.Array]] = {}
    for column, action in pii_policy(settings.data).items():
        if column not in table.column_names:
            continue
        if action == "drop":
            table = table.drop_columns([column])
        else:
            hashed[column] = pseudonymise_arrow_later(table[column], key)

    def protected() -> pa.Table:
        out = table
        for column, done in hashed.items():
            where = out.column_names.index(column)
            out = out.set_column(where, pa.field(column, pa.large_string()), done())
        return out

    return protected
