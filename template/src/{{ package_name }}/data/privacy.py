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

import numpy as np
import pandas as pd

from ..settings import DataSettings, Settings
from .errors import DataError
from .quality import CONTRACT_COLUMNS
from .schema import PII_COLUMNS


def pseudonymise(value: object, key: bytes) -> object:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()


def pseudonymise_column(series: pd.Series, key: bytes) -> pd.Series:
    """``pseudonymise`` of every value, computed once per distinct value (an HMAC per row
    was most of ingestion's time on large tables); missing values stay missing."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    keyed = hmac.new(key, digestmod=hashlib.sha256)  # the key schedule once, copied per value

    def one(value: object) -> str:
        mac = keyed.copy()
        mac.update(str(value).encode())
        return mac.hexdigest()

    values = np.asarray(uniques, dtype=object)  # plain Python values: iterating Arrow is slow
    hashed = np.array([one(v) for v in values] + [None], dtype=object)
    # code -1 (a missing value) takes the trailing None
    return pd.Series(hashed[codes], index=series.index, dtype="str")


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


def apply_pii_policy(frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    key = os.environ.get(settings.data.pii_salt_env, "").encode()
    out = frame.copy()
    for column, action in pii_policy(settings.data).items():
        if column not in out.columns:
            continue
        if action == "drop":
            out = out.drop(columns=column)
        else:
            out[column] = pseudonymise_column(out[column], key)
    return out
