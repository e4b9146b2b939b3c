"""File source: one CSV or Parquet file, chosen by its extension."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ...settings import Settings
from ..errors import DataError
from ..roles import TIME_FORMAT
from ..schema import RENAMES, TIME

READERS = {".csv": "CSV", ".parquet": "Parquet"}


def _contract_formats() -> dict[str, str]:
    """The event time's local text form the contract records, under the file's column name."""
    if TIME is None or TIME_FORMAT is None:
        return {}
    source = next((s for s, c in RENAMES.items() if c == TIME), TIME)
    return {source: TIME_FORMAT}


class FileSource:
    name = "files"

    def __init__(self, settings: Settings) -> None:
        self.path = settings.path(settings.data.sources.files.path)
        self.label = f"file {self.path}"
        self.csv = settings.data.csv
        self.date_formats = _contract_formats() | settings.data.sources.files.date_formats

    def _check(self) -> str:
        kind = READERS.get(self.path.suffix.lower())
        if kind is None:
            allowed = ", ".join(READERS)
            raise DataError(f"source {self.label}: unsupported file type (expected {allowed})")
        if not self.path.is_file():
            raise DataError(f"source {self.label}: file does not exist", "unreachable")
        if self.path.stat().st_size == 0:
            raise DataError(f"source {self.label}: file is empty", "empty")
        return kind

    def read(self) -> pd.DataFrame:
        kind = self._check()
        try:
            if kind == "CSV":
                return self._dates(pd.read_csv(self.path, **self._csv_options()))
            return self._dates(pd.read_parquet(self.path))
        except pd.errors.EmptyDataError:
            raise DataError(f"source {self.label}: file has no rows", "empty") from None
        except (pa.ArrowException, pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise self._unreadable(kind, exc) from None

    def chunks(self, rows: int) -> Iterator[pd.DataFrame]:
        """The file in chunks of ``rows`` (memory stays flat whatever its size)."""
        kind = self._check()
        try:
            if kind == "CSV":
                for part in pd.read_csv(self.path, chunksize=rows, **self._csv_options()):
                    yield self._dates(part)
                return
            for batch in pq.ParquetFile(self.path).iter_batches(batch_size=rows):
                yield self._dates(batch.to_pandas())
        except pd.errors.EmptyDataError:
            raise DataError(f"source {self.label}: file has no rows", "empty") from None
        except (pa.ArrowException, pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise self._unreadable(kind, exc) from None

    def arrow_chunks(self, rows: int) -> Iterator[pa.Table] | None:
        """A Parquet file in Arrow chunks of ``rows``: ingest validates them as Arrow, without a
        pandas round trip (None for CSV, or text dates in a local form: ``chunks`` reads it)."""
        if self._check() != "Parquet" or self.date_formats:
            return None
        return self._arrow_batches(rows)

    def _arrow_batches(self, rows: int) -> Iterator[pa.Table]:
        try:
            for batch in pq.ParquetFile(self.path).iter_batches(batch_size=rows):
                yield pa.Table.from_batches([batch])
        except (pa.ArrowException, ValueError) as exc:
            raise self._unreadable("Parquet", exc) from None

    def total_rows(self) -> int | None:
        """Rows in the file when known without reading it (Parquet metadata; None for CSV):
        what a progress line's ETA divides by."""
        if self.path.suffix.lower() != ".parquet" or not self.path.is_file():
            return None
        try:
            return int(pq.read_metadata(self.path).num_rows)
        except (OSError, pa.ArrowException):
            return None  # read() names the problem

    def _dates(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Text dates in a local form (``31.12.2024``) as ISO text, which the contract reads
        unambiguously; a value the form does not read stays as written, for the contract to
        quarantine."""
        for column, fmt in self.date_formats.items():
            if column in frame.columns and not pd.api.types.is_datetime64_any_dtype(frame[column]):
                text = frame[column]
                parsed = pd.to_datetime(text.astype(object), format=fmt, errors="coerce")
                frame[column] = parsed.dt.strftime("%Y-%m-%dT%H:%M:%S").where(parsed.notna(), text)
        return frame

    def _csv_options(self) -> dict[str, Any]:
        # Everything as text: the contract coerces, and bad cells are quarantined per row
        # instead of failing the whole file on a parser guess. data.csv: the delimiter,
        # encoding (utf-8-sig: a BOM) and missing markers adopt sniffed; only those markers
        # are missing (a code like "NA" can be a value).
        return {
            "dtype": str,
            "sep": self.csv.delimiter,
            "encoding": self.csv.encoding,
            "na_values": list(self.csv.na_values),
            "keep_default_na": False,
        }

    def _unreadable(self, kind: str, exc: Exception) -> DataError:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        return DataError(f"source {self.label}: not a readable {kind} file ({reason})")

    def probe(self) -> float:
        kind = self._check()
        started = time.perf_counter()
        try:
            if kind == "Parquet":
                pq.read_metadata(self.path)
            else:
                with self.path.open("rb") as fh:
                    fh.readline()
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"source {self.label}: not a readable {kind} file ({exc})") from None
        return time.perf_counter() - started

    def describe(self) -> dict[str, Any]:
        return {"source": self.name, "uri": self.path.resolve().as_uri(), "path": str(self.path)}


def seed(settings: Settings, frame: pd.DataFrame) -> None:
    """Write the demo rows to the configured file (CSV or Parquet by extension)."""
    path = settings.path(settings.data.sources.files.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(tmp, index=False)
    else:
        csv = settings.data.csv  # written the way the source reads it
        frame.to_csv(tmp, index=False, sep=csv.delimiter, encoding=csv.encoding)
    tmp.replace(path)
