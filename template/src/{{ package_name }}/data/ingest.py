"""Ingestion: read the configured source, validate it against the contract, write the result.

Nothing is written unless validation succeeded, so a failed run never leaves partial output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pandera.errors as pa_errors
import sqlalchemy as sa

from ..settings import Settings
from .schema import CustomerSchema


class DataError(Exception):
    """A data problem, reported as one line naming the source."""


@dataclass(frozen=True)
class IngestResult:
    frame: pd.DataFrame
    source: str
    output: Path


def read_sql_table(url: str, table: str) -> pd.DataFrame:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(table):
                raise DataError(f"source {safe_url(url)}: table '{table}' does not exist")
            return pd.read_sql_table(table, conn)
    except sa.exc.OperationalError as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
        raise DataError(f"source {safe_url(url)}: unreachable ({reason})") from None
    finally:
        engine.dispose()


def safe_url(url: str) -> str:
    """The URL without credentials, fit for logs and lineage."""
    return sa.engine.make_url(url).render_as_string(hide_password=True).replace(":***", "")


def validate(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    if frame.empty:
        raise DataError(f"source {source}: no rows")
    try:
        return CustomerSchema.validate(frame, lazy=True)
    except pa_errors.SchemaErrors as exc:
        cases = exc.failure_cases
        first = cases.iloc[0]
        raise DataError(
            f"source {source}: {len(cases)} schema failures, first: column "
            f"'{first['column']}' failed {first['check']} (value {first['failure_case']!r})"
        ) from None


def ingest(settings: Settings) -> IngestResult:
    url = settings.sqlite_abs(settings.data.url)
    source = f"{safe_url(url)}#{settings.data.table}"
    frame = validate(read_sql_table(url, settings.data.table), source)
    out_dir = settings.path(settings.data.processed_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / "training.parquet"
    tmp = output.with_suffix(".parquet.tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(output)  # atomic: readers see the old file or the new one, never half of one
    return IngestResult(frame=frame, source=source, output=output)


def seed_database(settings: Settings) -> int:
    """Write the deterministic synthetic table to the configured SQL database."""
    from .synthetic import generate

    url = settings.sqlite_abs(settings.data.url)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    frame = generate(settings.data.seed_rows, settings.data.seed)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            frame.to_sql(settings.data.table, conn, if_exists="replace", index=False)
    finally:
        engine.dispose()
    return len(frame)
