"""Inputs of a batch, read in chunks so memory stays flat whatever the input size.

SOURCE is a ``.csv`` / ``.parquet`` file, a directory of them, or ``sql:TABLE`` /
``sql:SELECT ...`` through the configured SQL source (``data.url``; ``sql:`` alone reads
``data.table``). A table is read in key
order so chunks, and therefore checkpoints, are the same on every run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..data.schema import KEY, RENAMES
from ..settings import CsvSettings, Settings
from .errors import BatchError

KINDS = {".csv": "csv", ".parquet": "parquet"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def safe_url(url: str) -> str:
    """The URL without credentials, fit for records and logs."""
    import sqlalchemy as sa  # SQL inputs only: a file's batch does without its import

    return sa.engine.make_url(url).render_as_string(hide_password=True).replace(":***@", "@")


@dataclass(frozen=True)
class BatchInput:
    label: str  # how errors and records name it (no credentials)
    uri: str
    kind: str  # csv | parquet | sql
    files: tuple[Path, ...] = ()
    query: str = ""
    url: str = ""  # the SQL URL (with credentials): never recorded
    total_rows: int | None = None  # known up front for Parquet (progress ETA)
    csv: CsvSettings | None = None  # how CSV files are read (``data.csv``, as ingestion reads)

    def fingerprint(self) -> str:
        """Identity of the input for checkpoints: the files' bytes, or the query text."""
        digest = hashlib.sha256(self.kind.encode())
        if self.kind == "sql":
            digest.update(f"{self.uri}\n{self.query}".encode())
        for path in self.files:
            digest.update(path.name.encode())
            with path.open("rb") as fh:
                while block := fh.read(1 << 20):
                    digest.update(block)
        return "sha256:" + digest.hexdigest()

    def chunks(
        self, rows: int, columns: Collection[str], dictionary: Collection[str] = ()
    ) -> Iterator[pd.DataFrame | pa.Table]:
        """Chunks in contract names: a source's names that are not identifiers are renamed
        (``RENAMES``), as ingestion does. Parquet chunks stay Arrow tables (typed already);
        CSV and SQL chunks are pandas frames. Files are read for ``columns`` (contract names)
        only: a column nobody validates is never decoded. Parquet text columns named in
        ``dictionary`` are read as Arrow dictionaries (their few values decoded once)."""
        wanted = set(columns) | {old for old, new in RENAMES.items() if new in columns}
        coded = set(dictionary) | {old for old, new in RENAMES.items() if new in dictionary}
        for chunk in self._raw_chunks(rows, wanted, coded):
            if not RENAMES:
                yield chunk
            elif isinstance(chunk, pa.Table):
                yield chunk.rename_columns([RENAMES.get(n, n) for n in chunk.column_names])
            else:
                yield chunk.rename(columns=RENAMES)

    def _raw_chunks(
        self, rows: int, wanted: set[str], coded: set[str]
    ) -> Iterator[pd.DataFrame | pa.Table]:
        try:
            if self.kind == "sql":
                yield from self._sql_chunks(rows)
            for path in self.files:
                yield from _file_chunks(path, self.kind, rows, wanted, coded, self.csv)
        except BatchError:
            raise
        except (pa.ArrowException, pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            raise BatchError(
                f"SOURCE {self.label}: not readable as {self.kind} ({reason})"
            ) from None

    def _sql_chunks(self, rows: int) -> Iterator[pd.DataFrame]:
        import sqlalchemy as sa

        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as conn:
                streaming = conn.execution_options(stream_results=True)
                yield from pd.read_sql(sa.text(self.query), streaming, chunksize=rows)
        except sa.exc.DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            raise BatchError(f"SOURCE {self.label}: query failed ({reason})") from None
        except pd.errors.DatabaseError as exc:  # pandas wraps driver errors (an OSError subclass)
            cause = exc.__cause__ or exc
            reason = (str(getattr(cause, "orig", None) or cause).strip().splitlines() or ["?"])[0]
            raise BatchError(f"SOURCE {self.label}: query failed ({reason[:160]})") from None
        finally:
            engine.dispose()


def _file_chunks(
    path: Path,
    kind: str,
    rows: int,
    wanted: set[str],
    coded: set[str],
    csv: CsvSettings | None = None,
) -> Iterator[pd.DataFrame | pa.Table]:
    if kind == "parquet":
        names = pq.read_schema(path).names  # read_dictionary refuses a name the file lacks
        # (and leaves a column that is not text as it is)
        parquet = pq.ParquetFile(path, read_dictionary=[n for n in names if n in coded])
        # Only the names present: an absent one is reported by the contract check, by name.
        columns = [n for n in parquet.schema_arrow.names if n in wanted]
        for batch in parquet.iter_batches(batch_size=rows, columns=columns):
            yield pa.Table.from_batches([batch])
        return
    # Everything as text, as ingestion reads CSV: the contract coerces, bad cells are quarantined.
    try:
        csv = csv or CsvSettings()
        sep, encoding = csv_dialect(path, csv, wanted)
        # data.csv, as ingestion reads: only its markers are missing ("NA" can be a value).
        yield from pd.read_csv(
            path,
            dtype=str,
            chunksize=rows,
            usecols=wanted.__contains__,
            sep=sep,
            encoding=encoding,
            na_values=list(csv.na_values),
            keep_default_na=False,
        )
    except pd.errors.EmptyDataError:
        return


DELIMITERS = (",", ";", "\t", "|")


def csv_dialect(path: Path, csv: CsvSettings, wanted: Collection[str]) -> tuple[str, str]:
    """The delimiter and encoding to read a CSV to score with: ``data.csv`` (what adopt
    sniffed from the adopted table), unless its header names none of the wanted columns and
    another usual delimiter does (a file to score need not be written like the training one).
    UTF-8 is read as ``utf-8-sig``: a BOM is dropped when there is one, nothing otherwise."""
    encoding = "utf-8-sig" if csv.encoding.lower().replace("_", "-") == "utf-8" else csv.encoding
    try:
        with path.open(encoding=encoding, newline="") as fh:
            header = fh.readline()
    except (OSError, UnicodeDecodeError):
        return csv.delimiter, encoding  # pandas reports the problem, as one line

    def found(sep: str) -> int:
        return len({c.strip().strip('"') for c in header.rstrip("\r\n").split(sep)} & set(wanted))

    best = max((csv.delimiter, *DELIMITERS), key=found)  # ties keep the configured one
    return (best if found(best) > found(csv.delimiter) else csv.delimiter), encoding


def open_input(source: str, settings: Settings) -> BatchInput:
    """Check SOURCE and say how to read it; every problem is one ``BatchError`` line."""
    if source.startswith("sql:"):
        return _sql_input(source.removeprefix("sql:").strip(), settings)
    path = settings.path(source)
    if path.is_dir():
        files = tuple(sorted(p for p in path.rglob("*") if p.suffix.lower() in KINDS))
        kinds = {KINDS[p.suffix.lower()] for p in files}
        if not files:
            raise BatchError(f"SOURCE {path}: directory has no .csv or .parquet files")
        if len(kinds) > 1:
            raise BatchError(f"SOURCE {path}: directory mixes .csv and .parquet files")
        kind = kinds.pop()
    else:
        kind = KINDS.get(path.suffix.lower(), "")
        if not kind:
            raise BatchError(
                f"SOURCE {path}: unsupported type (expected .csv, .parquet, a directory of"
                " them, or sql:TABLE / sql:SELECT ...)"
            )
        if not path.is_file():
            raise BatchError(f"SOURCE {path}: file does not exist")
        files = (path,)
    if all(p.stat().st_size == 0 for p in files):
        raise BatchError(f"SOURCE {path}: no rows (empty file)")
    total = None
    if kind == "parquet":
        try:
            total = sum(pq.ParquetFile(p).metadata.num_rows for p in files)
        except (pa.ArrowException, OSError) as exc:
            raise BatchError(f"SOURCE {path}: not a readable Parquet file ({exc})") from None
    return BatchInput(
        str(path), path.resolve().as_uri(), kind, files, total_rows=total, csv=settings.data.csv
    )


def _sql_input(what: str, settings: Settings) -> BatchInput:
    import sqlalchemy as sa

    url = settings.sqlite_abs(settings.data.url)
    shown = safe_url(url)
    what = what or settings.data.table  # `sql:` alone: the configured table
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise BatchError(f"SOURCE sql:{what}: database {shown} is unreachable (no such file)")
    engine = sa.create_engine(
        url, connect_args={"connect_timeout": 5} if url.startswith("postgresql") else {}
    )
    try:
        with engine.connect() as conn:
            if _IDENTIFIER.match(what):
                if not sa.inspect(conn).has_table(what):
                    raise BatchError(f"SOURCE sql:{what}: no table '{what}' in {shown}")
                quote = conn.dialect.identifier_preparer.quote
                # Stable chunks (resume): in key order; without a key, in the table's own order.
                # The table holds source names; the contract may have renamed the key.
                source_key = next((old for old, new in RENAMES.items() if new == KEY), KEY)
                order = f" ORDER BY {quote(source_key)}" if source_key is not None else ""
                query = f"SELECT * FROM {quote(what)}{order}"  # nosec B608 - a checked, quoted name
            else:
                query = what
    except sa.exc.DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise BatchError(f"SOURCE sql:{what}: database {shown} is unreachable ({reason})") from None
    finally:
        engine.dispose()
    return BatchInput(f"sql:{what} ({shown})", shown, "sql", query=query, url=url)


def chunk_hash(frame: pd.DataFrame) -> str:
    """A hash of one chunk's columns and values (resume checks the input did not change)."""
    digest = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()
