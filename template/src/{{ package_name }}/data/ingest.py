"""Ingestion: read every enabled source, validate row by row, quarantine, protect PII, write.

Each run accounts for every row: rows read = rows accepted + rows unlabeled + rows quarantined,
per source and in total. Rows whose label is missing are not bad rows: they are validated against
the scoring contract and written beside the training table (rows to score, not to train on).
A source that cannot be read (missing, unreachable, bad credentials, missing columns, empty)
fails the run before anything is written; a run whose quarantined share exceeds
``data.quality.max_quarantine_share`` writes its quarantine (the evidence) and no training
table. Outputs are written to temporary names and renamed, so readers never see half a file.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import atomic
from ..settings import DataSettings, Settings
from .columnar import decoded, split_table
from .errors import DataError
from .lineage import ContentHash, Lineage, content_hash
from .privacy import apply_pii_policy, apply_pii_policy_later, pii_policy, protect_table_later
from .quality import (
    FAILED,
    SOURCE,
    Split,
    conform,
    conform_table,
    label_missing,
    label_missing_arrow,
    scoring_schema,
    split_cross_source_duplicates,
    split_labeled,
)
from .schema import KEY, LABEL, RENAMES, TIME, PilotSchema
from .sources import Source, open_sources, seed_sources

__all__ = [
    "Chunk",
    "ChunkJob",
    "DataError",
    "Engine",
    "FilePart",
    "IngestResult",
    "SourceBatch",
    "ingest",
    "ingest_whole",
    "read_batch",
    "read_part",
    "seed",
    "seed_frame",
    "validate_chunk",
    "validate_locally",
]


@dataclass(frozen=True)
class SourceBatch:
    name: str
    label: str
    split: Split
    description: dict[str, Any]


@dataclass(frozen=True)
class IngestResult:
    source: str
    output: Path
    lineage: Lineage
    quarantine: Path | None
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    rows_unlabeled: int = 0
    unlabeled: Path | None = None  # the unlabeled rows' table (None: there were none)

    @property
    def frame(self) -> pd.DataFrame:
        """The accepted rows, PII hashed or dropped: what training sees (read from the table
        ingest wrote, so a streamed run never holds it in memory)."""
        return pd.read_parquet(self.output)


def unlabeled_table(settings: Settings) -> Path:
    """Where ingest writes the rows that have no label (validated for scoring), beside the
    training table."""
    training = settings.training_table
    return training.with_name(f"{training.stem}-unlabeled{training.suffix}")


def read_batch(source: Source, data: DataSettings) -> SourceBatch:
    label = getattr(source, "label", source.name)
    rename = data.sources.rename.get(source.name)
    split = split_labeled(conform(source.read(), label, rename), label)
    return SourceBatch(source.name, label, split, source.describe())


def _write_atomic(frame: pd.DataFrame, path: Path, kind: str) -> None:
    with atomic.replacing(path) as tmp:
        if kind == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_json(tmp, orient="records", lines=True, date_format="iso", default_handler=str)


def _combine(batches: list[SourceBatch]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Accepted, unlabeled and quarantined rows of every source; a row accepted by two sources
    is quarantined once as a cross-source duplicate. Every row read is in one of the three."""
    accepted = pd.concat(
        [b.split.accepted.assign(**{SOURCE: b.name}) for b in batches], ignore_index=True
    )
    cross = split_cross_source_duplicates(accepted)
    quarantined = pd.concat(
        [b.split.quarantined.assign(**{SOURCE: b.name}) for b in batches] + [cross.quarantined],
        ignore_index=True,
    )
    parts = [
        b.split.unlabeled.assign(**{SOURCE: b.name})
        for b in batches
        if b.split.unlabeled is not None
    ]
    unlabeled = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({SOURCE: []})
    rows_read = sum(b.split.rows_read for b in batches)
    assert rows_read == len(cross.accepted) + len(unlabeled) + len(quarantined), (
        "row accounting broke"
    )
    return cross.accepted, unlabeled, quarantined


def _quarantine(quarantined: pd.DataFrame, settings: Settings) -> Path | None:
    """Write the quarantined rows (PII protected as in the training data), if any."""
    if not len(quarantined):
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = settings.path(settings.data.quarantine_dir) / f"quarantine-{stamp}.jsonl"
    ordered = [SOURCE, FAILED] + [c for c in quarantined.columns if c not in {SOURCE, FAILED}]
    _write_atomic(apply_pii_policy(quarantined[ordered], settings), path, "jsonl")
    return path


@dataclass(frozen=True)
class FilePart:
    """Row groups of a Parquet file, read by the worker that validates them (picklable)."""

    path: str
    row_groups: tuple[int, ...]


@dataclass(frozen=True)
class ChunkJob:
    """What validating one source's chunks needs (picklable: Spark ships it to executors)."""

    source: str
    label: str
    settings: Settings
    # A Parquet file source's parts, for an engine whose workers read their own part
    # (Spark: the driver then reads nothing); None: the engine validates the chunks it is given.
    parts: tuple[FilePart, ...] | None = None
    # Other sources in the run: accepted keys must then be unique across sources too.
    cross_source: bool = True


def file_parts(source: Source, rows: int) -> tuple[FilePart, ...] | None:
    """A Parquet file source's row groups in parts of about ``rows`` rows; None for any other
    source, or a file whose metadata cannot be read (reading it then names the problem)."""
    path = getattr(source, "path", None)
    if getattr(source, "arrow_chunks", None) is None or not isinstance(path, Path):
        return None
    if getattr(source, "date_formats", None):  # local text dates: the source's pandas reader
        return None
    if path.suffix.lower() != ".parquet" or not path.is_file():
        return None
    try:
        meta = pq.read_metadata(path)
    except (OSError, pa.ArrowException):
        return None
    parts, group, count = [], [], 0
    for i in range(meta.num_row_groups):
        group.append(i)
        count += meta.row_group(i).num_rows
        if count >= rows:
            parts.append(FilePart(str(path), tuple(group)))
            group, count = [], 0
    if group:
        parts.append(FilePart(str(path), tuple(group)))
    return tuple(parts) if meta.num_rows else None


def read_part(part: FilePart, job: ChunkJob) -> Iterator[pd.DataFrame | pa.Table]:
    """One part's chunks of ``batch.chunk_rows``, conformed, read where they are validated."""
    rename = job.settings.data.sources.rename.get(job.source)
    rows = job.settings.batch.chunk_rows
    file = pq.ParquetFile(part.path)
    for batch in file.iter_batches(batch_size=rows, row_groups=list(part.row_groups)):
        yield _conform(pa.Table.from_batches([batch]), job.label, rename)


@dataclass(frozen=True)
class Chunk:
    """One chunk validated: what the driver appends, hashes and counts (Arrow from a Parquet
    file, pandas from the other sources)."""

    rows_read: int
    accepted: pd.DataFrame | pa.Table  # PII protected, contract dtypes
    unlabeled: pd.DataFrame | pa.Table | None  # PII protected, with _source
    quarantined: pd.DataFrame  # the rows as read, with _source and _failed_checks
    keys: dict[bool, pa.Array]  # distinct keys of the labeled and the unlabeled rows
    accepted_keys: pa.Array | None


@dataclass(frozen=True)
class _Pending:
    """A chunk validated whose PII the workers may still be hashing: ``done`` waits for it."""

    rows_read: int
    accepted: Callable[[], pd.DataFrame | pa.Table]
    unlabeled: Callable[[], pd.DataFrame | pa.Table] | None
    quarantined: pd.DataFrame
    keys: dict[bool, pa.Array]
    accepted_keys: pa.Array | None

    def done(self) -> Chunk:
        return Chunk(
            rows_read=self.rows_read,
            accepted=self.accepted(),
            unlabeled=None if self.unlabeled is None else self.unlabeled(),
            quarantined=self.quarantined,
            keys=self.keys,
            accepted_keys=self.accepted_keys,
        )


def validate_chunk(frame: pd.DataFrame | pa.Table, job: ChunkJob) -> Chunk:
    """The chunk function: a conformed chunk validated (vectorised kernels, pandera on flagged
    rows only) and its PII protected. The local and the Spark engine both run exactly this
    (the local one in two halves, ``start_chunk`` and the call it returns)."""
    return start_chunk(frame, job)()


def start_chunk(frame: pd.DataFrame | pa.Table, job: ChunkJob) -> Callable[[], Chunk]:
    """``validate_chunk``, returned by the call this returns: a chunk's key-like PII columns
    are hashed by worker processes until then (``data.keyed_hash``)."""
    if isinstance(frame, pa.Table):
        return _start_table(frame, job)
    return _start_frame(frame, job)


def _start_frame(frame: pd.DataFrame, job: ChunkJob) -> Callable[[], Chunk]:
    split = split_labeled(frame, job.label)
    keys: dict[bool, pa.Array] = {}
    accepted_keys = None
    if KEY is not None:
        labeled = ~label_missing(frame)
        for part in (True, False):
            keys[part] = pc.unique(_text(frame.loc[labeled == part, KEY]))
        accepted_keys = pc.unique(_text(split.accepted[KEY]))
    unlabeled: Callable[[], pd.DataFrame] | None = None
    if split.unlabeled is not None and len(split.unlabeled):
        named = split.unlabeled.assign(**{SOURCE: job.source})
        unlabeled = apply_pii_policy_later(named, job.settings)
    protected = apply_pii_policy_later(split.accepted, job.settings)
    quarantined = split.quarantined.assign(**{SOURCE: job.source})
    return _Pending(split.rows_read, protected, unlabeled, quarantined, keys, accepted_keys).done


def _start_table(table: pa.Table, job: ChunkJob) -> Callable[[], Chunk]:
    """An Arrow chunk, by the Arrow kernels ``score`` runs (``data.columnar``): the same rows
    and reasons as ``split_labeled`` on its pandas form, without converting the accepted rows
    (most of a chunk) to pandas and back."""
    missing = label_missing_arrow(table[LABEL])
    contract = PilotSchema.to_schema()
    unlabeled: Callable[[], pa.Table] | None = None
    # Dictionary columns (a pandas categorical written to Parquet) decoded: the training table
    # holds the contract's types, as the pandas path writes them.
    if not missing.any():
        split = split_table(table, job.label, contract)
        accepted, quarantined = decoded(split.accepted), split.quarantined
    else:
        labeled = split_table(table.filter(pa.array(~missing)), job.label, contract)
        rest = table.filter(pa.array(missing)).drop_columns([LABEL])
        scored = split_table(rest, job.label, scoring_schema())
        accepted = decoded(labeled.accepted)
        quarantined = pd.concat([labeled.quarantined, scored.quarantined], ignore_index=True)
        if scored.accepted.num_rows:
            named = decoded(scored.accepted).append_column(
                pa.field(SOURCE, pa.large_string()),
                pa.repeat(pa.scalar(job.source, pa.large_string()), scored.accepted.num_rows),
            )
            unlabeled = protect_table_later(named, job.settings)
    keys: dict[bool, pa.Array] = {}
    accepted_keys = None
    if KEY is not None:
        for part in (True, False):
            keys[part] = _distinct_text(table[KEY].filter(pa.array(missing != part)))
        accepted_keys = _distinct_text(accepted[KEY]) if job.cross_source else None
    protected = protect_table_later(accepted, job.settings)
    quarantined = quarantined.assign(**{SOURCE: job.source})
    return _Pending(table.num_rows, protected, unlabeled, quarantined, keys, accepted_keys).done


def _distinct_text(values: pa.ChunkedArray) -> pa.Array:
    """The distinct keys as text, as ``_text`` spells them (Arrow's own text when they are
    text; pandas' spelling of anything else)."""
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        values = values.cast(pa.large_string())
        plain = not values.null_count and len(values) > 1
        if plain and pc.all(pc.less(values[:-1], values[1:])).as_py():  # in order: distinct
            return values.combine_chunks()
        return pc.unique(values)
    return pc.unique(_text(values.to_pandas()))


def validate_locally(chunks: Iterator[pd.DataFrame | pa.Table], job: ChunkJob) -> Iterator[Chunk]:
    """The local engine: each chunk validated in this process as it is read, the next one
    while worker processes hash the last one's PII."""
    finish: Callable[[], Chunk] | None = None
    for frame in chunks:
        started = start_chunk(frame, job)
        if finish is not None:
            yield finish()
        finish = started
    if finish is not None:
        yield finish()


# An engine maps a source's conformed chunks, in order, to validated chunks, in order.
Engine = Callable[[Iterator[pd.DataFrame | pa.Table], ChunkJob], Iterator[Chunk]]


def ingest(
    settings: Settings,
    progress: Callable[[str], None] | None = None,
    engine: Engine = validate_locally,
) -> IngestResult:
    """Every enabled source in chunks of ``batch.chunk_rows``: each chunk is validated by the
    vectorised kernels (pandera judges only the rows they flag), its PII protected and its
    accepted rows appended to the training table under a temporary name, published only when
    the whole run succeeded. Memory holds a chunk, the keys seen and the quarantine.

    ``engine`` validates the chunks (``validate_locally``, or Spark's ``mapInArrow`` in
    ``batch.spark``); everything else (writing, hashing, accounting) is the same for both."""
    policy = pii_policy(settings.data)  # a bad policy fails before any source is touched
    with _returning_pool():
        return _ingest(settings, policy, progress, engine)


@contextlib.contextmanager
def _returning_pool() -> Iterator[None]:
    """Arrow's jemalloc pool while ingesting, where the build has it: it hands a chunk's freed
    memory back to the system, where the default (mimalloc) keeps it (a fifth more peak RSS
    on a 2M-row Parquet table)."""
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        yield
        return
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def _ingest(
    settings: Settings,
    policy: dict[str, str],
    progress: Callable[[str], None] | None,
    engine: Engine,
) -> IngestResult:
    rows = settings.batch.chunk_rows
    output, unlabeled_path = settings.training_table, unlabeled_table(settings)
    hashed = [column for column, action in policy.items() if action == "hash"]
    table, spare = _ParquetSink(output, hashed), _ParquetSink(unlabeled_path, hashed)
    table.clear_stale()
    spare.clear_stale()
    digest, window, keys = ContentHash(), _Window(), _Keys()
    described: list[dict[str, Any]] = []
    quarantined: list[pd.DataFrame] = []
    labels: list[str] = []
    steps = _Steps()
    try:
        with open_sources(settings) as sources:
            for source in sources:
                label = getattr(source, "label", source.name)
                labels.append(label)
                counts = {"rows_read": 0, "rows_accepted": 0, "rows_unlabeled": 0}
                # An engine whose workers read (Spark) gets the file's parts, not its rows.
                parts = file_parts(source, rows) if getattr(engine, "reads_parts", 0) else None
                job = ChunkJob(source.name, label, settings, parts, len(sources) > 1)
                total = _total_rows(source) if progress is not None else None
                started = time.perf_counter()
                validated = engine(_conformed(source, rows, label, settings, steps), job)
                for i, chunk in enumerate(steps.validating(validated)):
                    with steps.timed("hash"):
                        keys.add(source.name, chunk)
                    table.where = spare.where = f"source {label}: chunk {i}"
                    try:
                        with steps.timed("write"):
                            table.write(chunk.accepted)
                            if chunk.unlabeled is not None:
                                spare.write(chunk.unlabeled)
                    except OSError as exc:  # a full disk, a vanished directory: one line
                        raise DataError(
                            f"source {label}: chunk {i}: cannot write the training table "
                            f"({_os_reason(exc)})",
                            "config",
                        ) from None
                    if len(chunk.accepted):  # an empty chunk's dtypes may not be the contract's
                        with steps.timed("hash"):  # handed to the hash's thread
                            digest.update(chunk.accepted)
                            window.update(chunk.accepted)
                    if len(chunk.quarantined):
                        quarantined.append(chunk.quarantined)
                    counts["rows_read"] += chunk.rows_read
                    counts["rows_accepted"] += len(chunk.accepted)
                    counts["rows_unlabeled"] += _rows(chunk.unlabeled)
                    if progress is not None:
                        _report(progress, label, i, counts["rows_read"], started, total)
                if not counts["rows_read"]:
                    raise DataError(f"source {label}: no rows", "empty")
                bad = counts["rows_read"] - counts["rows_accepted"] - counts["rows_unlabeled"]
                described.append(source.describe() | counts | {"rows_quarantined": bad})
        if keys.repeated():
            # A key in two chunks or two sources: uniqueness needs every row at once.
            table.discard()
            spare.discard()
            if progress is not None:
                progress("keys repeat across chunks or sources: validating whole tables")
            return ingest_whole(settings)
        with steps.timed("hash"):  # the last chunks' hashing, finished
            digest.hexdigest()
        with steps.timed("publish"):
            result = _publish(
                settings, policy, described, labels, table, spare, quarantined, digest, window
            )
        if progress is not None:
            progress(steps.summary(result.rows_read))
        return result
    except OSError as exc:  # the quarantine, the last row group or lineage: a full disk
        table.discard()
        spare.discard()
        raise DataError(
            f"sources {', '.join(labels)}: cannot write the ingest outputs ({_os_reason(exc)})",
            "config",
        ) from None
    except BaseException:
        table.discard()
        spare.discard()
        raise


def _rows(frame: pd.DataFrame | pa.Table | None) -> int:
    return 0 if frame is None else len(frame)


def _frame(rows: pd.DataFrame | pa.Table) -> pd.DataFrame:
    """The rows as pandas, as the content hash and the time window read them (Arrow text
    stays Arrow-backed: no copy)."""
    return rows if isinstance(rows, pd.DataFrame) else rows.to_pandas()


def _total_rows(source: Source) -> int | None:
    """The source's row count when it knows it cheaply (the progress line's ETA), else None."""
    count = getattr(source, "total_rows", None)
    if count is None:
        return None
    try:
        total = count()
    except (DataError, OSError):  # reading the rows reports the problem, naming the chunk
        return None
    return total if isinstance(total, int) and total > 0 else None


class _Steps:
    """Where an ingest's time goes (wall seconds per step), printed when it ends."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(("read", "validate", "write", "hash", "publish"), 0.0)
        self.started = time.perf_counter()

    @contextlib.contextmanager
    def timed(self, step: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[step] += time.perf_counter() - started

    def validating(self, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        """``chunks`` with the time spent producing them, less their reading, as validation."""
        while True:
            started, reading = time.perf_counter(), self.seconds["read"]
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            finally:
                spent = time.perf_counter() - started - (self.seconds["read"] - reading)
                self.seconds["validate"] += spent
            yield chunk

    def summary(self, rows: int) -> str:
        elapsed = time.perf_counter() - self.started
        parts = ", ".join(f"{step} {s:.1f} s" for step, s in self.seconds.items())
        rate = rows / max(elapsed, 1e-9)
        return f"ingest: {rows:,} rows in {elapsed:.1f} s ({rate:,.0f} rows/s): {parts}"


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _conformed(
    source: Source, rows: int, label: str, settings: Settings, steps: _Steps
) -> Iterator[pd.DataFrame | pa.Table]:
    """A source's chunks in contract names. A chunk that breaks the contract's structure (a
    missing column in a later file) or a source that fails mid-stream stops the run in one
    line naming the source and the chunk."""
    rename = settings.data.sources.rename.get(source.name)
    raws = _chunks(source, rows)
    i = 0
    while True:
        try:
            with steps.timed("read"):
                raw = next(raws)
        except StopIteration:
            return
        except DataError as exc:
            if i == 0:  # before any row (missing table, bad credentials): the source's error
                raise
            raise DataError(_at_chunk(str(exc), label, i), exc.kind) from None
        except Exception as exc:  # a driver or network error after some chunks
            raise DataError(
                f"source {label}: chunk {i}: read failed ({type(exc).__name__}: "
                f"{_first_line(exc)})",
                "unreachable",
            ) from None
        try:
            with steps.timed("read"):
                frame = _conform(raw, label, rename)
        except DataError as exc:
            if i == 0:  # the first chunk speaks for the whole source, as before
                raise
            raise DataError(_at_chunk(str(exc), label, i), exc.kind) from None
        yield frame
        i += 1


def _at_chunk(message: str, label: str, i: int) -> str:
    prefix = f"source {label}: "
    rest = message[len(prefix) :] if message.startswith(prefix) else message
    return f"{prefix}chunk {i}: {rest}"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]


def _conform(
    raw: pd.DataFrame | pa.Table, label: str, rename: dict[str, str] | None
) -> pd.DataFrame | pa.Table:
    if isinstance(raw, pa.Table):
        return conform_table(raw, label, rename)
    return conform(raw, label, rename)


def _chunks(source: Source, rows: int) -> Iterator[pd.DataFrame | pa.Table]:
    """A source's rows in chunks (one chunk when the source cannot stream); Arrow tables when
    the source reads Arrow (a Parquet file: validated without a pandas round trip)."""
    arrow = getattr(source, "arrow_chunks", None)
    tables = arrow(rows) if arrow is not None else None
    if tables is not None:
        yield from _read_ahead(tables)
        return
    chunks = getattr(source, "chunks", None)
    if chunks is None:
        yield source.read()
        return
    yield from chunks(rows)


_END = object()


def _read_ahead(chunks: Iterator[pd.DataFrame | pa.Table]) -> Iterator[pd.DataFrame | pa.Table]:
    """Each next chunk read on a background thread while this one is validated (Arrow decodes
    Parquet without holding the GIL); a read error is raised when its chunk is asked for."""
    with ThreadPoolExecutor(1, thread_name_prefix="ingest-read") as reader:
        pending = reader.submit(next, chunks, _END)
        while True:
            chunk = pending.result()
            if chunk is _END:
                return
            pending = reader.submit(next, chunks, _END)
            yield chunk


def _report(
    progress: Callable[[str], None],
    label: str,
    i: int,
    done: int,
    start: float,
    total: int | None,
) -> None:
    elapsed = max(time.perf_counter() - start, 1e-9)
    rate = done / elapsed
    line = f"{label}: chunk {i}: {done:,} rows read, {rate:,.0f} rows/s"
    if total is not None and total >= done:
        line += f", {done / total:.0%} of {total:,}, ETA {(total - done) / rate:,.0f} s"
    progress(line)


def _too_many(labels: str, bad: int, read: int, limit: float, path: Path | None) -> DataError:
    return DataError(
        f"sources {labels}: quarantined {bad} of {read} rows ({bad / read:.1%}), above "
        f"max_quarantine_share {limit:.1%}; see {path}",
        "quality",
    )


def _publish(
    settings: Settings,
    policy: dict[str, str],
    described: list[dict[str, Any]],
    labels: list[str],
    table: _ParquetSink,
    spare: _ParquetSink,
    quarantined: list[pd.DataFrame],
    digest: ContentHash,
    window: _Window,
) -> IngestResult:
    """The quarantine written; the training table published unless too much was quarantined."""
    bad = pd.concat(quarantined, ignore_index=True) if quarantined else pd.DataFrame()
    quarantine_file = _quarantine(bad, settings)
    rows_read = sum(d["rows_read"] for d in described)
    unlabeled = sum(d["rows_unlabeled"] for d in described)
    assert rows_read == table.rows + unlabeled + len(bad), "row accounting broke"
    limit = settings.data.quality.max_quarantine_share
    shown = ", ".join(labels)
    if len(bad) / rows_read > limit:
        table.discard()
        spare.discard()
        raise _too_many(shown, len(bad), rows_read, limit, quarantine_file)
    lineage = Lineage(
        sources=described,
        rows_read=rows_read,
        rows_accepted=table.rows,
        rows_quarantined=len(bad),
        time_window=window.to_dict(),
        content_hash=digest.hexdigest() if table.rows else content_hash(table.empty),
        pii=policy,
        output=str(table.path),
        quarantine=None if quarantine_file is None else str(quarantine_file),
        rows_unlabeled=unlabeled,
        unlabeled=str(spare.path) if unlabeled else None,
    )
    if unlabeled:
        spare.publish()
    else:  # a table of an earlier run must not pass for this run's
        spare.discard()
        spare.path.unlink(missing_ok=True)
    table.publish()
    atomic.write_json(settings.lineage_file, lineage.to_dict())
    return IngestResult(
        source=shown,
        output=table.path,
        lineage=lineage,
        quarantine=quarantine_file,
        rows_read=rows_read,
        rows_accepted=table.rows,
        rows_quarantined=len(bad),
        rows_unlabeled=unlabeled,
        unlabeled=spare.path if unlabeled else None,
    )


class _ParquetSink:
    """A Parquet table written chunk by chunk under a temporary name; ``publish`` renames it
    into place (readers never see half a table), ``discard`` removes it.

    Each chunk is encoded and written on a background thread (Arrow releases the GIL) while
    the next chunk is validated; a write that failed is reported, naming its chunk
    (``where``), when the next one is handed over or when the table is closed.

    ``hashed``: the PII columns written as hashes. Hex digests are all different and as
    random as hex can be, so they get no dictionary, no compression and no min/max (and the
    key no dictionary): a dictionary that overflows and a compressor that finds nothing were
    a third of the writer's time, for 3% of the file."""

    def __init__(self, path: Path, hashed: list[str] | None = None) -> None:
        self.path = path
        self.hashed = hashed or []
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
        self.rows = 0
        self.empty = pd.DataFrame()  # the columns, for a run that accepts no row at all
        self.where = f"table {path}"  # the chunk being written, for a failure's message
        self._writer: pq.ParquetWriter | None = None
        self._created = False
        self._thread: ThreadPoolExecutor | None = None
        self._pending: tuple[Future[None], str] | None = None

    def write(self, rows: pd.DataFrame | pa.Table) -> None:
        if not len(rows):  # its dtypes may be uncoerced: the first rows fix the schema
            if self.empty.empty and not len(self.empty.columns):
                self.empty = _frame(rows)
            return
        if isinstance(rows, pd.DataFrame):
            table = pa.Table.from_pandas(rows, preserve_index=False)
        else:
            table = rows.replace_schema_metadata(None)
        if self._writer is None:  # the first chunk fixes the schema (contract dtypes)
            self._created = not self.tmp.parent.exists()
            self.tmp.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.tmp, table.schema, **self._options(table))
        else:
            table = table.cast(self._writer.schema)
        self._wait()
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="ingest-write")
        self._pending = (self._thread.submit(self._writer.write_table, table), self.where)
        self.rows += len(rows)

    def _options(self, table: pa.Table) -> dict[str, Any]:
        columns = table.column_names
        opaque = [c for c in self.hashed if c in columns]
        distinct = {*opaque, *([KEY] if KEY is not None else [])}
        return {
            "use_dictionary": [c for c in columns if c not in distinct],
            "write_statistics": [c for c in columns if c not in opaque],
            "compression": {c: "none" if c in opaque else "snappy" for c in columns},
        }

    def _wait(self) -> None:
        """The write handed over last, finished; its failure (a full disk) in one line."""
        if self._pending is None:
            return
        pending, where = self._pending
        self._pending = None
        try:
            pending.result()
        except OSError as exc:
            raise DataError(
                f"{where}: cannot write the training table ({_os_reason(exc)})", "config"
            ) from None

    def clear_stale(self) -> None:
        """A run killed mid-write (no ``discard``) leaves its partial file: a re-run starts
        clean. Only a dead process's file goes (a live one's run is its own)."""
        for stale in self.path.parent.glob(f".{self.path.name}.*.partial"):
            pid = stale.name[len(self.path.name) + 2 : -len(".partial")]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                stale.unlink(missing_ok=True)

    def _close(self) -> None:
        try:
            self._wait()
        finally:
            if self._thread is not None:
                self._thread.shutdown()
                self._thread = None
        if self._writer is not None:
            self._writer.close()

    def publish(self) -> None:
        self._close()
        if self._writer is None:  # no row at all: an empty table is still a table
            _write_atomic(self.empty, self.path, "parquet")
            return
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        """Nothing of the run left behind (a failed first run leaves no directory either)."""
        # A writer that failed (a full disk) may fail to close.
        with contextlib.suppress(OSError, DataError):
            self._close()
        self._writer = None
        self.tmp.unlink(missing_ok=True)
        if self._created and not any(self.tmp.parent.iterdir()):
            self.tmp.parent.rmdir()
            self._created = False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Window:
    """The accepted rows' event-time window, chunk by chunk."""

    def __init__(self) -> None:
        self.start: pd.Timestamp | None = None
        self.end: pd.Timestamp | None = None

    def update(self, rows: pd.DataFrame | pa.Table) -> None:
        if TIME is None or not len(rows):
            return
        # the time column alone as pandas, not the chunk
        column = rows[TIME] if isinstance(rows, pd.DataFrame) else rows.column(TIME).to_pandas()
        times = pd.to_datetime(column)
        low, high = times.min(), times.max()
        if pd.notna(low):
            self.start = low if self.start is None else min(self.start, low)
            self.end = high if self.end is None else max(self.end, high)

    @classmethod
    def of(cls, rows: pd.DataFrame) -> dict[str, str | None]:
        """The window of a whole table, as ``to_dict`` gives it."""
        window = cls()
        window.update(rows)
        return window.to_dict()

    def to_dict(self) -> dict[str, str | None]:
        return {
            "column": TIME,
            "start": None if self.start is None else self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
        }


class _Keys:
    """The keys seen per source, part (labeled or not) and chunk: a chunk judges uniqueness
    within itself, so a key in two chunks (or accepted by two sources) sends the run to the
    whole-table path. Kept as Arrow text (a few bytes a key) with each chunk's key range:
    chunks whose ranges do not meet cannot share a key, so keys that arrive in order (a table
    read by its key, an export) are never hashed together, and the rest only where ranges
    meet."""

    def __init__(self) -> None:
        self.parts: dict[tuple[str, bool], list[_KeyChunk]] = {}
        self.accepted: list[_KeyChunk] = []

    def add(self, source: str, chunk: Chunk) -> None:
        if KEY is None:
            return
        for part, values in chunk.keys.items():
            if len(values):
                self.parts.setdefault((source, part), []).append(_KeyChunk.of(values))
        if chunk.accepted_keys is not None and len(chunk.accepted_keys):
            self.accepted.append(_KeyChunk.of(chunk.accepted_keys))

    def repeated(self) -> bool:
        for chunks in self.parts.values():
            if len(chunks) > 1 and _overlap(chunks):
                return True
        return len({s for s, _ in self.parts}) > 1 and _overlap(self.accepted)


@dataclass(frozen=True)
class _KeyChunk:
    """One chunk's distinct keys (text), their range and whether a null is among them."""

    values: pa.Array
    low: str | None
    high: str | None
    null: bool

    @classmethod
    def of(cls, values: pa.Array) -> _KeyChunk:
        bounds = pc.min_max(values)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        return cls(values, low, high, bool(values.null_count))


def _text(values: pd.Series) -> pa.Array:
    return pa.array(
        values.astype("str").to_numpy(dtype=object), pa.large_string(), from_pandas=True
    )


def _overlap(chunks: list[_KeyChunk]) -> bool:
    """Whether a key (null included: pandas counts nulls as repeats) is in two chunks."""
    if sum(c.null for c in chunks) > 1:
        return True
    ranged = sorted((c for c in chunks if c.low is not None), key=lambda c: str(c.low))
    group: list[_KeyChunk] = []
    high = ""
    for chunk in ranged:  # groups of chunks whose ranges meet, in order of their lows
        if group and str(chunk.low) > high:
            if len(group) > 1 and _repeats(group):
                return True
            group = []
        group.append(chunk)
        high = max(high, str(chunk.high)) if len(group) > 1 else str(chunk.high)
    return len(group) > 1 and _repeats(group)


def _repeats(chunks: list[_KeyChunk]) -> bool:
    both = pa.chunked_array([c.values for c in chunks], pa.large_string())
    return bool(pc.count_distinct(both, mode="all").as_py() < len(both))


def ingest_whole(settings: Settings) -> IngestResult:
    """The whole table at once, validated by pandera on each source's whole frame: the
    reference the streamed ``ingest`` must equal, and its fallback when keys repeat across
    chunks or sources (only then does uniqueness need every row at once)."""
    policy = pii_policy(settings.data)  # a bad policy fails before any source is touched
    with open_sources(settings) as sources:
        batches = [read_batch(source, settings.data) for source in sources]
    accepted, unlabeled, quarantined = _combine(batches)
    rows_read = len(accepted) + len(unlabeled) + len(quarantined)
    described = []
    for b in batches:
        q = int((quarantined[SOURCE] == b.name).sum())
        u = int((unlabeled[SOURCE] == b.name).sum())
        counts = {"rows_read": b.split.rows_read, "rows_accepted": b.split.rows_read - q - u}
        described.append(b.description | counts | {"rows_unlabeled": u, "rows_quarantined": q})
        assert counts["rows_read"] == counts["rows_accepted"] + u + q, "row accounting broke"
    frame = apply_pii_policy(accepted.drop(columns=SOURCE), settings)
    quarantine_file = _quarantine(quarantined, settings)

    share = len(quarantined) / rows_read
    limit = settings.data.quality.max_quarantine_share
    labels = ", ".join(b.label for b in batches)
    if share > limit:
        raise _too_many(labels, len(quarantined), rows_read, limit, quarantine_file)
    output = settings.training_table
    unlabeled_file = unlabeled_table(settings) if len(unlabeled) else None
    lineage = Lineage(
        sources=described,
        rows_read=rows_read,
        rows_accepted=len(frame),
        rows_quarantined=len(quarantined),
        time_window=_Window.of(frame),
        content_hash=content_hash(frame),
        pii=policy,
        output=str(output),
        quarantine=None if quarantine_file is None else str(quarantine_file),
        rows_unlabeled=len(unlabeled),
        unlabeled=None if unlabeled_file is None else str(unlabeled_file),
    )
    if unlabeled_file is not None:
        _write_atomic(apply_pii_policy(unlabeled, settings), unlabeled_file, "parquet")
    else:  # a table of an earlier run must not pass for this run's
        unlabeled_table(settings).unlink(missing_ok=True)
    _write_atomic(frame, output, "parquet")
    atomic.write_json(settings.lineage_file, lineage.to_dict())
    return IngestResult(
        source=labels,
        output=output,
        lineage=lineage,
        quarantine=quarantine_file,
        rows_read=rows_read,
        rows_accepted=len(frame),
        rows_quarantined=len(quarantined),
        rows_unlabeled=len(unlabeled),
        unlabeled=unlabeled_file,
    )


def seed_frame(data: DataSettings) -> pd.DataFrame:
    """Deterministic synthetic rows in contract names: shaped like the adopted table when
    ``data/profile.json`` exists, else the demo customers. Event times end today, so a freshly
    seeded pilot passes the freshness check.
    """
    from .fixture import generate as from_profile
    from .fixture import load_profile

    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    profile = load_profile()
    if profile is not None:
        return from_profile(profile, data.seed_rows, data.seed, end=now)
    from .synthetic import generate

    start = (now - pd.Timedelta(days=300)).floor("D")
    return generate(data.seed_rows, data.seed, start=str(start))


def seed(settings: Settings, rows: int | None = None) -> dict[str, int]:
    """Write ``seed_frame`` rows, split across the enabled sources, in the sources' own names.

    ``rows`` overrides ``data.seed_rows`` for this call (on a copy: ``settings`` is unchanged).
    """
    if settings.data.real_sources:
        raise DataError(
            "data seed: the sources hold the adopted real table (data.real_sources); "
            "seeding would overwrite it",
            "config",
        )
    if rows is not None:
        data = settings.data.model_copy(update={"seed_rows": rows})
        settings = settings.model_copy(update={"data": data})
    source_names = {contract: source for source, contract in RENAMES.items()}
    return seed_sources(settings, seed_frame(settings.data).rename(columns=source_names))
