"""The batch job: chunk loop, checkpoints, atomic publishing and the batch record.

Each chunk is validated, scored and written into a staging directory next to DEST, then the
checkpoint records it; a run that dies resumes after the last checkpointed chunk (same batch
id, same input, same model) or refuses with one line. A file DEST is written as one Parquet
file while the chunks come (``Output``: no merge pass); a directory DEST is one Parquet part
per chunk. Only a finished run is published, by renaming, so readers never see half an
output, and the same batch id on the same input gives byte-identical output.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from threadpoolctl import ThreadpoolController

from ..atomic import replacing, write_json
from ..data.columnar import ColumnarSplit, dictionary_columns, split_frame, split_table
from ..data.errors import DataError
from ..data.lineage import code_version
from ..data.privacy import apply_pii_policy
from ..data.quality import CONTRACT_COLUMNS, FAILED, scoring_schema
from ..data.schema import KEY, LABEL, SCHEMA_VERSION, TASK
from ..settings import Settings
from .errors import BatchError
from .pipeline import Stage, staged
from .predict import (
    META_COLUMNS,
    REPEATED,
    BatchModel,
    load_model,
    model_ref,
    output_table,
    with_meta,
)
from .progress import Progress
from .reader import BatchInput, chunk_hash, open_input
from .record import check_batch_id, write_record

Engine = Literal["local", "spark"]
INPUT_COLUMNS = [c for c in CONTRACT_COLUMNS if c != LABEL]  # the label is what we predict
BATCH_META = b"batch_id"
CHECKPOINT = "checkpoint.json"
# zstd (level 1) writes about as fast as snappy here and a third smaller. Dictionary encoding
# only where values repeat (model, version, batch id, a class): for unique keys and float
# scores it is pure cost (the writer builds a dictionary, then gives up on it).
COMPRESSION = "zstd"
SCHEMA = scoring_schema()


@dataclass(frozen=True)
class BatchRequest:
    source: str
    dest: str
    reason: str
    actor: str | None = None
    batch_id: str | None = None
    engine: Engine = "local"
    alias: str | None = None
    version: str | None = None
    explain: bool = False


@dataclass(frozen=True)
class ChunkResult:
    rows_read: int
    scored: pa.Table  # the output rows
    quarantined: pd.DataFrame  # the rows as read (PII not yet protected) + _failed_checks


@dataclass
class Checkpoint:
    batch_id: str
    fingerprint: str
    model_version: str
    chunk_rows: int
    explain: bool
    started_at: str
    chunk_hashes: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_scored: int = 0
    rows_quarantined: int = 0
    resumed: int = 0


def score_chunk(
    raw: pd.DataFrame | pa.Table, model: BatchModel, batch_id: str, explain: bool, label: str
) -> ChunkResult:
    """Validate one chunk with the contract and score what passes (both engines call this)."""
    return score_split(len(raw), validate_chunk(raw, label), model, batch_id, explain)


def validate_chunk(raw: pd.DataFrame | pa.Table, label: str) -> ColumnarSplit:
    """The contract on one chunk: accepted rows (coerced) and quarantined rows with reasons."""
    frame = isinstance(raw, pd.DataFrame)
    names = list(raw.columns) if frame else raw.column_names
    missing = [c for c in INPUT_COLUMNS if c not in names]
    if missing:
        raise BatchError(f"SOURCE {label}: missing columns {', '.join(missing)}")
    try:
        if isinstance(raw, pd.DataFrame):
            return split_frame(raw[INPUT_COLUMNS], label, SCHEMA)
        return split_table(raw.select(INPUT_COLUMNS), label, SCHEMA)
    except DataError as exc:
        raise BatchError(str(exc)) from None


def score_split(
    rows_read: int,
    split: ColumnarSplit,
    model: BatchModel,
    batch_id: str,
    explain: bool,
    offset: int | None = None,
) -> ChunkResult:
    """Score a validated chunk; ``offset``: the input position of the chunk's first row (the
    row identity of a contract without a key)."""
    positions = None
    if offset is not None and split.positions is not None:
        positions = offset + split.positions
    scored = output_table(model, split.accepted, batch_id, explain, positions)
    assert len(scored) + len(split.quarantined) == rows_read, "row accounting broke"
    return ChunkResult(rows_read, scored, split.quarantined)


def resolve_dest(dest: str, settings: Settings, source: BatchInput) -> Path:
    path = settings.path(dest)
    if path.suffix and path.suffix.lower() != ".parquet":
        raise BatchError(f"DEST {path}: must be a .parquet file or a directory (no suffix)")
    if path.resolve() in {f.resolve() for f in source.files}:
        raise BatchError(f"DEST {path}: is the input; write the scores elsewhere")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise BatchError(f"DEST {path}: {parent} is not a directory")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BatchError(f"DEST {path}: cannot create {parent} ({exc.strerror})") from None
    if path.exists() and path.suffix and path.is_dir():
        raise BatchError(f"DEST {path}: is a directory, not a .parquet file")
    if not os.access(parent, os.W_OK):
        raise BatchError(f"DEST {path}: {parent} is not writable")
    return path


def published_batch(path: Path) -> str | None:
    """The batch id stored in an existing output (None when there is none)."""
    parts = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    if not path.exists() or not parts:
        return None
    try:
        meta = pq.read_schema(parts[0]).metadata or {}
    except (pa.ArrowException, OSError):
        return ""
    return bytes(meta.get(BATCH_META, b"")).decode()


def with_batch(table: pa.Table, batch_id: str) -> pa.Table:
    """The table with the batch id in its schema metadata (``published_batch`` reads it)."""
    return table.replace_schema_metadata(
        (table.schema.metadata or {}) | {BATCH_META: batch_id.encode()}
    )


def write_part(table: pa.Table, path: Path, batch_id: str) -> None:
    table = with_batch(table, batch_id)
    with replacing(path) as tmp:
        pq.write_table(table, tmp, **_encoding(table.schema))


class Output:
    """One run's scored rows, chunk by chunk, into staging; ``close`` leaves them publishable.

    A file DEST is one Parquet file written as the chunks come, a row group each, so nothing
    is read back and re-encoded at the end. Each chunk is also kept as an Arrow IPC part (no
    encoding: about a memory copy; the model and batch columns are left out, they are one
    value): the checkpoint a resume replays into a fresh writer, which gives the same bytes
    as an uninterrupted run. A directory DEST is its Parquet parts.
    """

    def __init__(self, staging: Path, dest: Path, model: BatchModel, batch_id: str) -> None:
        self.parts = staging / "parts"
        self.file = staging / "output.parquet" if dest.suffix else None
        self.model, self.batch_id = model, batch_id
        self._writer: pq.ParquetWriter | None = None

    def _ipc(self, i: int) -> Path:
        return self.parts / f"part-{i:05d}.arrow"

    def resume(self, done: int) -> None:
        """Replay the checkpointed chunks into the file (a directory's parts are in place)."""
        for i in range(done if self.file is not None else 0):
            if not self._ipc(i).is_file():  # e.g. the checkpoint of an older release
                raise BatchError(
                    f"batch {self.batch_id}: cannot resume, {self._ipc(i)} is missing; delete"
                    f" {self.parts.parent} to start over"
                )
            with pa.memory_map(str(self._ipc(i))) as source:
                part = pa.ipc.open_file(source).read_all()
                self._append(with_batch(with_meta(part, self.model, self.batch_id), self.batch_id))

    def keep(self, i: int, table: pa.Table) -> None:
        if self.file is None:
            write_part(table, self.parts / f"part-{i:05d}.parquet", self.batch_id)
            return
        table = with_batch(table, self.batch_id)
        part = table.drop_columns(list(META_COLUMNS))
        with (
            replacing(self._ipc(i)) as tmp,
            pa.OSFile(str(tmp), "wb") as sink,
            pa.ipc.new_file(sink, part.schema) as ipc,
        ):
            ipc.write_table(part)
        self._append(table)

    def _append(self, table: pa.Table) -> None:
        if self._writer is None:
            assert self.file is not None
            self._writer = pq.ParquetWriter(self.file, table.schema, **_encoding(table.schema))
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _encoding(schema: pa.Schema) -> dict[str, Any]:
    """Parquet options: dictionaries for repeated values only, and no min/max statistics for
    the key (unordered ids prune no row group; they were a third of the encoding time)."""
    return {
        "compression": COMPRESSION,
        "use_dictionary": [n for n in schema.names if n in REPEATED],
        "write_statistics": [n for n in schema.names if n != KEY],
    }


def write_quarantine(frame: pd.DataFrame, path: Path, settings: Settings) -> None:
    ordered = [FAILED] + [c for c in frame.columns if c != FAILED]
    protected = apply_pii_policy(frame[ordered], settings)  # as in ingestion: hashed or dropped
    with replacing(path) as tmp:
        protected.to_json(tmp, orient="records", lines=True, date_format="iso", default_handler=str)


def _save(checkpoint: Checkpoint, staging: Path) -> None:
    write_json(staging / CHECKPOINT, asdict(checkpoint), indent=None)


def _start(staging: Path, fresh: Checkpoint) -> Checkpoint:
    """The checkpoint to continue from: a matching unfinished run, or a fresh start."""
    path = staging / CHECKPOINT
    if not path.is_file():
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "parts").mkdir(parents=True)
        (staging / "quarantine").mkdir()
        _save(fresh, staging)
        return fresh
    old = Checkpoint(**json.loads(path.read_text()))
    if old.batch_id != fresh.batch_id:
        raise BatchError(
            f"DEST: an unfinished run of batch {old.batch_id} is in {staging}; resume it with"
            f" --batch-id {old.batch_id} or delete that directory"
        )
    for what, before, now in (
        ("input", old.fingerprint, fresh.fingerprint),
        ("model version", old.model_version, fresh.model_version),
        ("chunk size", old.chunk_rows, fresh.chunk_rows),
        ("--explain choice", old.explain, fresh.explain),
    ):
        if before != now:
            raise BatchError(
                f"batch {old.batch_id}: cannot resume, the {what} changed since the interrupted"
                f" run ({before} -> {now}); delete {staging} to start over"
            )
    old.resumed += 1
    _save(old, staging)
    return old


def _run_local(
    settings: Settings,
    source: BatchInput,
    model: BatchModel,
    output: Output,
    checkpoint: Checkpoint,
    explain: bool,
    progress: Progress | None,
) -> Checkpoint:
    """Read, validate, score and write in four threads (Arrow, numpy, Parquet release the GIL).

    Bounded queues keep at most a few chunks in memory; parts and checkpoints are written
    by one thread, in chunk order, so a resume sees exactly what a one-thread run would.
    """
    staging = output.parts.parent
    coded = dictionary_columns(SCHEMA)
    reading = Stage(source.chunks(settings.batch.chunk_rows, INPUT_COLUMNS, coded))
    checking = Stage(_validated(reading, staging, checkpoint, source, progress))
    scoring = Stage(_scored(checking, model, checkpoint.batch_id, explain))
    output.resume(len(checkpoint.chunk_hashes))
    try:
        with system_allocator(), staged(reading, checking, scoring):
            for i, digest, result in scoring:
                _keep(settings, output, checkpoint, i, digest, result)
                if progress:
                    progress.update(i, result.rows_read)
    finally:
        output.close()
    return checkpoint


def _scored(
    checking: Iterable[tuple[int, str, int, int, ColumnarSplit]],
    model: BatchModel,
    batch_id: str,
    explain: bool,
) -> Iterator[tuple[int, str, ChunkResult]]:
    """Each validated chunk scored, with BLAS held to one thread while this stage runs: the
    stages are the parallelism, and idle BLAS workers spin on the cores. In the stage's own
    thread, so the libraries are found while the first chunk is read and validated."""
    with _blas().limit(limits=1):
        for i, digest, offset, n, split in checking:
            yield i, digest, score_split(n, split, model, batch_id, explain, offset)


@functools.cache
def _blas() -> ThreadpoolController:
    """The loaded BLAS libraries, found once per process (a scan of every loaded library, a
    few hundredths of a second): call it after the model is loaded, so its libraries count."""
    return ThreadpoolController().select(user_api="blas")


@contextlib.contextmanager
def system_allocator() -> Iterator[None]:
    """Arrow's buffers from the C library's allocator for the batch, then the default again.

    pyarrow's default pool (mimalloc) faults its chunk-sized buffers in at a high system-time
    cost in a fresh process: 0.3-0.8 CPU-s per million rows against 0.15-0.2 s for malloc,
    most of what a one-shot `score` spent beyond the work itself.
    """
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def _validated(
    chunks: Iterable[pd.DataFrame | pa.Table],
    staging: Path,
    checkpoint: Checkpoint,
    source: BatchInput,
    progress: Progress | None,
) -> Iterator[tuple[int, str, int, int, ColumnarSplit]]:
    """Each chunk past the checkpoint, validated, with the input position of its first row;
    checkpointed ones are checked, then skipped."""
    done = list(checkpoint.chunk_hashes)
    offset = 0
    for i, raw in enumerate(chunks):
        offset, start = offset + len(raw), offset
        # Files are pinned by the fingerprint of their bytes; a query's rows are hashed per chunk.
        digest = chunk_hash(raw) if source.kind == "sql" else f"rows:{len(raw)}"
        if i < len(done):
            if digest != done[i]:
                raise BatchError(
                    f"batch {checkpoint.batch_id}: cannot resume, chunk {i} of {source.label}"
                    f" changed since the interrupted run; delete {staging} to start over"
                )
            if progress:
                progress.update(i, len(raw), skipped=True)
            continue
        yield i, digest, start, len(raw), validate_chunk(raw, source.label)


def _keep(
    settings: Settings,
    output: Output,
    checkpoint: Checkpoint,
    i: int,
    digest: str,
    result: ChunkResult,
) -> None:
    """Write one chunk's rows and quarantine, then checkpoint it (it counts only then)."""
    output.keep(i, result.scored)
    staging = output.parts.parent
    if len(result.quarantined):
        write_quarantine(result.quarantined, staging / "quarantine" / f"{i:05d}.jsonl", settings)
    checkpoint.chunk_hashes.append(digest)
    checkpoint.rows_read += result.rows_read
    checkpoint.rows_scored += len(result.scored)
    checkpoint.rows_quarantined += len(result.quarantined)
    _save(checkpoint, staging)


def publish(built: Path, dest: Path) -> None:
    """Move a finished output into place: one rename (a file) or two renames (a directory)."""
    if built.is_file():
        built.replace(dest)
        return
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        dest.rename(old)
        built.rename(dest)
        shutil.rmtree(old)
    else:
        built.rename(dest)


def merge_parts(parts: list[Path], target: Path) -> None:
    """Concatenate part files into one Parquet file, one part in memory at a time."""
    schema = pq.read_schema(parts[0])
    with pq.ParquetWriter(target, schema, **_encoding(schema)) as writer:
        for part in parts:
            writer.write_table(pq.read_table(part, schema=schema))


def publish_quarantine(parts: list[Path], settings: Settings, batch_id: str) -> Path | None:
    if not parts:
        return None
    target = settings.path(settings.batch.quarantine_dir) / f"{batch_id}.jsonl"
    with replacing(target) as tmp, tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as fh:
                shutil.copyfileobj(fh, out)
    return target


def default_batch_id() -> str:
    return datetime.now(UTC).strftime("batch-%Y%m%dT%H%M%SZ")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_batch(
    settings: Settings, request: BatchRequest, progress: Progress | None = None
) -> dict[str, Any]:
    """Score SOURCE into DEST; returns the batch record (also written, see ``record``)."""
    # strftime fields (nightly-%Y-%m-%d) name a scheduled run's day: its retries resume it.
    now = datetime.now(UTC)
    batch_id = check_batch_id(
        now.strftime(request.batch_id) if request.batch_id else default_batch_id()
    )
    source = open_input(request.source, settings)
    dest = resolve_dest(now.strftime(request.dest), settings, source)
    existing = published_batch(dest)
    if existing is not None and existing != batch_id:
        held = f"batch {existing}" if existing else "something else"
        raise BatchError(
            f"DEST {dest}: already holds {held}; choose another DEST or delete it"
            + (f" (or re-run with --batch-id {existing})" if existing else "")
        )
    ref = model_ref(settings, request.alias, request.version)  # the registry's errors first
    # Independent, so side by side: hashing the input's bytes and git (the code version) wait
    # on I/O while the model loads (a few hundredths of a second per run).
    with ThreadPoolExecutor(max_workers=2) as pool:
        hashing, code = pool.submit(source.fingerprint), pool.submit(code_version)
        model = load_model(settings, ref)
        fingerprint = hashing.result()
    staging = dest.with_name(f".{dest.name}.partial")
    fresh = Checkpoint(
        batch_id, fingerprint, model.ref.version, settings.batch.chunk_rows, request.explain, _now()
    )
    checkpoint = _score_all(settings, request, source, model, staging, dest, fresh, progress)
    quarantine = _publish_all(settings, staging, dest, batch_id)
    content = fingerprint
    if source.kind == "sql":  # the query names the input; its rows are hashed chunk by chunk
        content = "sha256:" + hashlib.sha256("".join(checkpoint.chunk_hashes).encode()).hexdigest()
    record = _record(
        settings, request, source, model, checkpoint, dest, quarantine, content, code.result()
    )
    failure = quarantine_failure(settings, source.label, checkpoint, quarantine)
    if failure is not None:  # kept as evidence (output, quarantine, record), and said so
        record |= {"status": "failed", "failure": failure}
    record["record"] = str(write_record(settings, record))
    if failure is not None:
        raise BatchError(f"{failure}; record {record['record']}")
    return record


def quarantine_failure(
    settings: Settings, label: str, checkpoint: Checkpoint, quarantine: Path | None
) -> str | None:
    """Why the run failed, when it quarantined more than ``batch.max_quarantine_share`` of its
    rows (unset: the ingestion limit): a scheduled job must not report success on it."""
    limit = settings.batch.max_quarantine_share
    if limit is None:
        limit = settings.data.quality.max_quarantine_share
    share = checkpoint.rows_quarantined / max(checkpoint.rows_read, 1)
    if share <= limit:
        return None
    return (
        f"SOURCE {label}: quarantined {checkpoint.rows_quarantined} of {checkpoint.rows_read}"
        f" rows ({share:.1%}), above max_quarantine_share {limit:.1%}; see {quarantine}"
    )


def _score_all(
    settings: Settings,
    request: BatchRequest,
    source: BatchInput,
    model: BatchModel,
    staging: Path,
    dest: Path,
    fresh: Checkpoint,
    progress: Progress | None,
) -> Checkpoint:
    """Every chunk scored into staging, by the requested engine; checks the row accounting."""
    checkpoint: Checkpoint
    try:
        if request.engine == "spark":
            from .spark import SparkJob, run_spark

            shutil.rmtree(staging, ignore_errors=True)  # Spark retries tasks; a driver reruns
            checkpoint = run_spark(
                SparkJob(settings, source, model, staging, fresh, request.explain)
            )
        else:
            checkpoint = _start(staging, fresh)
            output = Output(staging, dest, model, checkpoint.batch_id)
            checkpoint = _run_local(
                settings, source, model, output, checkpoint, request.explain, progress
            )
    except OSError as exc:  # disk full, permissions: the checkpoints stay for a resume
        raise BatchError(f"DEST {dest}: cannot write ({exc.strerror or exc})") from None
    if progress:
        progress.close()
    if checkpoint.rows_read == 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise BatchError(f"SOURCE {source.label}: no rows")
    read, scored = checkpoint.rows_read, checkpoint.rows_scored
    assert read == scored + checkpoint.rows_quarantined, "row accounting broke"
    return checkpoint


def _publish_all(settings: Settings, staging: Path, dest: Path, batch_id: str) -> Path | None:
    """The finished output into place (a file DEST is written already, but Spark's parts are
    merged), then the quarantine file."""
    built = staging / "parts"
    if dest.suffix:
        built = staging / "output.parquet"
        if not built.exists():
            merge_parts(sorted((staging / "parts").glob("*.parquet")), built)
    quarantine = publish_quarantine(
        sorted((staging / "quarantine").glob("*.jsonl")), settings, batch_id
    )
    publish(built, dest)
    shutil.rmtree(staging, ignore_errors=True)
    return quarantine


def _record(
    settings: Settings,
    request: BatchRequest,
    source: BatchInput,
    model: BatchModel,
    checkpoint: Checkpoint,
    dest: Path,
    quarantine: Path | None,
    content: str,
    code: dict[str, Any],
) -> dict[str, Any]:
    from ..model.promote import actor_name

    return {
        "batch_id": checkpoint.batch_id,
        "kind": "batch",
        "status": "complete",
        "engine": request.engine,
        "task": TASK,
        "input": {"uri": source.uri, "kind": source.kind, "content_hash": content}
        | ({"query": source.query} if source.kind == "sql" else {}),
        "output": str(dest),
        "quarantine": None if quarantine is None else str(quarantine),
        "rows_read": checkpoint.rows_read,
        "rows_scored": checkpoint.rows_scored,
        "rows_quarantined": checkpoint.rows_quarantined,
        "model": {"name": model.ref.name, "version": model.ref.version, "run_id": model.ref.run_id}
        | {"alias": request.alias or ("" if request.version else settings.batch.alias)},
        "explain": request.explain,
        "chunks": len(checkpoint.chunk_hashes),
        "resumed": checkpoint.resumed,
        "started_at": checkpoint.started_at,
        "finished_at": _now(),
        "actor": actor_name(request.actor),
        "reason": request.reason,
        "schema_version": SCHEMA_VERSION,
        "code_version": code,
    }
