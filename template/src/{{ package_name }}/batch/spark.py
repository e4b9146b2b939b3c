"""The Spark engine: the same chunk scoring (``job.score_chunk``) inside ``mapInArrow``, and
the same chunk validation of ``ingest`` (``data.ingest.validate_chunk``).

The driver loads the model from the registry once and ships it to the executors with the
function (executors never talk to the registry). Each Arrow batch is validated by the
contract and scored exactly as on one machine; valid rows come back as output rows, rejected
rows as one JSON column plus their failed checks, which the driver writes to the quarantine
with the PII policy applied. Spark retries failed tasks itself; a killed driver reruns the job
from the start, and the output is published only once complete.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..data.columnar import decoded
from ..data.errors import DataError
from ..data.ingest import Chunk, ChunkJob, read_part, validate_chunk
from ..data.quality import FAILED
from ..settings import Settings
from .errors import BatchError
from .predict import BatchModel
from .reader import BatchInput

ROW = "_row"


def session(settings: Settings) -> Any:
    """The active Spark session (spark-submit, a cluster notebook) or a local one."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise BatchError(
            "--engine spark: pyspark is not installed; run `uv sync --group spark`"
        ) from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName(f"{settings.model.name}-batch")
    from pyspark import SparkConf

    if not SparkConf().contains("spark.master"):  # not under spark-submit: run locally
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers need this venv
        builder = builder.master(settings.batch.spark_master)
        builder = builder.config("spark.driver.host", "127.0.0.1")
        builder = builder.config("spark.ui.enabled", "false")
        # The commands print their own progress lines; Spark's bar would tangle with them.
        builder = builder.config("spark.ui.showConsoleProgress", "false")
        # Arrow batches of the local engine's chunk size (Spark's default is 10,000 rows).
        batch_rows = str(settings.batch.chunk_rows)
        builder = builder.config("spark.sql.execution.arrow.maxRecordsPerBatch", batch_rows)
    return builder.getOrCreate()


def _combined(result: Any) -> pa.Table:
    """Scored rows, then quarantined rows (null predictions, the row as JSON), one table.

    Dictionary columns are decoded: Spark's Arrow vectors read no dictionaries."""
    scored = decoded(result.scored).replace_schema_metadata(None)
    n_bad = len(result.quarantined)
    scored = scored.append_column(FAILED, pa.nulls(len(scored), pa.string()))
    scored = scored.append_column(ROW, pa.nulls(len(scored), pa.string()))
    if n_bad == 0:
        return scored
    rows = result.quarantined.drop(columns=FAILED).to_json(
        orient="records", lines=True, date_format="iso", default_handler=str
    )
    bad_columns = [
        *[pa.nulls(n_bad, f.type) for f in scored.schema][:-2],
        pa.array(result.quarantined[FAILED].astype("str").tolist(), pa.string()),
        pa.array(rows.splitlines(), pa.string()),
    ]
    bad = pa.Table.from_arrays(bad_columns, schema=scored.schema)
    return pa.concat_tables([scored, bad])


@dataclass(frozen=True)
class SparkJob:
    """What one Spark run scores, and where its parts and checkpoint go."""

    settings: Settings
    source: BatchInput
    model: BatchModel
    staging: Path
    checkpoint: Any
    explain: bool


def run_spark(job: SparkJob) -> Any:
    if job.source.kind == "sql":
        raise BatchError(
            "--engine spark reads files (Parquet, CSV); score SQL with --engine local or read"
            " it with Spark's JDBC source into Parquet first"
        )
    spark = session(job.settings)
    try:
        return _run(spark, job)
    except BatchError:
        raise
    except Exception as exc:
        if not type(exc).__module__.startswith(("pyspark", "py4j")):
            raise
        raise BatchError(f"--engine spark: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    """One line from a Spark error (a BatchError or DataError raised on an executor keeps its
    own text)."""
    text = str(exc)
    found = re.search(r"(?:BatchError|DataError): (.+)", text)
    if found:
        return found.group(1).strip()
    return (text.strip().splitlines() or [type(exc).__name__])[0][:300]


def _run(spark: Any, job: SparkJob) -> Any:
    settings, source, model = job.settings, job.source, job.model
    staging, checkpoint, explain = job.staging, job.checkpoint, job.explain
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention
    from pyspark.sql.pandas.types import from_arrow_schema

    from .job import score_chunk, write_part, write_quarantine

    paths = [str(p) for p in source.files]
    if source.kind == "parquet":
        frame = spark.read.parquet(*paths)
    else:  # all text, as the local engine reads CSV: the contract coerces
        frame = spark.read.option("header", True).option("inferSchema", False).csv(paths)
    batch_id, label = checkpoint.batch_id, source.label

    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:  # Arrow, as the local engine's Parquet chunks: the same checks
            table = pa.Table.from_batches([batch])
            result = score_chunk(table, model, batch_id, explain, label)
            yield from _combined(result).to_batches()

    sample = score_chunk(frame.limit(20).toArrow(), model, batch_id, explain, label)
    schema = from_arrow_schema(_combined(sample).schema)
    local_schema = sample.scored.schema.remove_metadata()  # the local engine's column types
    out = frame.mapInArrow(score, schema).cache()
    try:
        read = out.count()
        bad = out.filter(F.col(FAILED).isNotNull())
        quarantined = bad.count()
        scored = out.filter(F.col(FAILED).isNull()).drop(FAILED, ROW)
        parts = staging / "parts"
        (staging / "quarantine").mkdir(parents=True)
        spark_dir = staging / "spark"
        scored.write.mode("overwrite").parquet(str(spark_dir))
        parts.mkdir()
        for i, part in enumerate(sorted(spark_dir.glob("part-*.parquet"))):
            # Re-written as the local engine writes its parts: the same column types, the
            # batch id in the metadata.
            table = pq.read_table(part).cast(local_schema)
            write_part(table, parts / f"part-{i:05d}.parquet", batch_id)
        if quarantined:
            rejected = bad.select(FAILED, ROW).toPandas()
            rows = pd.DataFrame([json.loads(r) for r in rejected[ROW]])
            rows[FAILED] = rejected[FAILED].to_numpy()
            write_quarantine(rows, staging / "quarantine" / "00000.jsonl", settings)
    finally:
        out.unpersist()
    checkpoint.rows_read = read
    checkpoint.rows_quarantined = quarantined
    checkpoint.rows_scored = read - quarantined
    return checkpoint


def ingest_on_spark(settings: Settings, progress: Callable[[str], None] | None = None) -> Any:
    """``ingest`` with each chunk validated by ``validate_chunk`` inside ``mapInArrow``.

    A Parquet file source is read by the executors themselves: each task reads its part of
    the file's row groups (``data.ingest.read_part``), so the driver reads no row. Any other
    source is read by the driver in chunks (flat memory), each conformed chunk staged as a
    file for the executors. Either way the executors validate with the very function the
    local engine runs, and the driver appends their results in order: the training table,
    its content hash, the unlabeled rows and the quarantine are the local engine's. The
    staging directory is beside the training table (on a cluster it must be storage the
    executors share) and is removed whatever happens. A key repeated across chunks sends the
    run to the whole-table path, as on the local engine."""
    from ..data.ingest import ingest

    spark = session(settings)
    staging = settings.training_table.parent / f".ingest-spark-{os.getpid()}"
    try:
        return ingest(settings, progress, _SparkEngine(spark, staging, settings))
    except Exception as exc:
        if not type(exc).__module__.startswith(("pyspark", "py4j")):
            raise
        raise BatchError(f"ingest --engine spark: {_reason(exc)}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class _SparkEngine:
    """An ingest engine (``data.ingest.Engine``) on a Spark session."""

    reads_parts = True  # a Parquet file's parts are read by the executors, not the driver

    def __init__(self, spark: Any, staging: Path, settings: Settings) -> None:
        self.spark, self.staging = spark, staging
        # Executors apply the PII policy with the driver's key (their environment may lack it).
        self.salt = (settings.data.pii_salt_env, os.environ.get(settings.data.pii_salt_env))

    def __call__(self, chunks: Iterator[Any], job: ChunkJob) -> Iterator[Chunk]:
        if job.parts:
            yield from self._read_by_executors(job)
        else:
            yield from self._staged(chunks, job)

    def _read_by_executors(self, job: ChunkJob) -> Iterator[Chunk]:
        """Each task reads, conforms and validates its parts; a part's chunks come back
        numbered, then an end mark (no payload), so the driver restores the file's order."""
        from pyspark.sql.types import BinaryType, LongType, StructField, StructType

        parts, salt = job.parts or (), self.salt

        def validate(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            name, value = salt
            if value is not None:
                os.environ[name] = value
            schema = pa.schema([("p", pa.int64()), ("i", pa.int64()), ("chunk", pa.binary())])
            for batch in batches:
                for p in batch.column(0).to_pylist():
                    i = -1
                    for i, frame in enumerate(read_part(parts[p], job)):
                        payload = pickle.dumps(validate_chunk(frame, job), pickle.HIGHEST_PROTOCOL)
                        yield pa.RecordBatch.from_pydict(
                            {"p": [p], "i": [i], "chunk": [payload]}, schema=schema
                        )
                    yield pa.RecordBatch.from_pydict(
                        {"p": [p], "i": [i + 1], "chunk": [None]}, schema=schema
                    )

        inputs = StructType([StructField("p", LongType())])
        outputs = StructType(
            [
                StructField("p", LongType()),
                StructField("i", LongType()),
                StructField("chunk", BinaryType()),
            ]
        )
        parallelism = max(self.spark.sparkContext.defaultParallelism, 1)
        frame = self.spark.createDataFrame([(p,) for p in range(len(parts))], inputs)
        frame = frame.repartitionByRange(min(len(parts), parallelism), "p")
        out = frame.mapInArrow(validate, outputs).sortWithinPartitions("p", "i")
        pending: dict[tuple[int, int], bytes | None] = {}
        part, i = 0, 0
        for row in out.toLocalIterator():
            pending[(int(row["p"]), int(row["i"]))] = row["chunk"]
            while (part, i) in pending:
                payload = pending.pop((part, i))
                if payload is None:  # the part's end
                    part, i = part + 1, 0
                    continue
                yield pickle.loads(payload)  # noqa: S301  # nosec B301 (this run's own)
                i += 1
        if part != len(parts):
            raise DataError(f"source {job.label}: Spark returned {part} of {len(parts)} parts")

    def _staged(self, chunks: Iterator[Any], job: ChunkJob) -> Iterator[Chunk]:
        from pyspark.sql.types import BinaryType, LongType, StringType, StructField, StructType

        folder = self.staging / f"{len(list(self.staging.glob('*')))}"
        folder.mkdir(parents=True)
        staged = []
        for i, frame in enumerate(chunks):  # read (and conformed) by the driver, in order
            path = folder / f"{i:06d}.pickle"
            try:
                path.write_bytes(pickle.dumps(frame, pickle.HIGHEST_PROTOCOL))  # pandas or Arrow
            except OSError as exc:
                raise DataError(
                    f"source {job.label}: chunk {i}: cannot stage the chunk for Spark "
                    f"({exc.strerror or exc})",
                    "config",
                ) from None
            staged.append((i, str(path)))
        if not staged:
            return
        salt = self.salt

        def validate(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            name, value = salt
            if value is not None:
                os.environ[name] = value
            for batch in batches:
                ids, paths = batch.column(0).to_pylist(), batch.column(1).to_pylist()
                for i, path in zip(ids, paths, strict=True):
                    staged_chunk = pickle.loads(Path(path).read_bytes())  # noqa: S301  # nosec B301 (ours)
                    chunk = validate_chunk(staged_chunk, job)
                    payload = pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL)
                    yield pa.RecordBatch.from_pydict(
                        {"i": [i], "chunk": [payload]},
                        schema=pa.schema([("i", pa.int64()), ("chunk", pa.binary())]),
                    )

        inputs = StructType([StructField("i", LongType()), StructField("path", StringType())])
        outputs = StructType([StructField("i", LongType()), StructField("chunk", BinaryType())])
        parallelism = self.spark.sparkContext.defaultParallelism
        # Contiguous ranges of chunks per partition: results arrive nearly in order, so the
        # driver holds about one chunk while it puts them back in order.
        frame = self.spark.createDataFrame(staged, inputs).repartitionByRange(
            min(len(staged), max(parallelism, 1)), "i"
        )
        out = frame.mapInArrow(validate, outputs).sortWithinPartitions("i")
        # Results come back a partition at a time, put back in chunk order as they arrive.
        pending: dict[int, Chunk] = {}
        expected = 0
        for row in out.toLocalIterator():
            pending[int(row["i"])] = pickle.loads(row["chunk"])  # noqa: S301  # nosec B301 (ours)
            while expected in pending:
                yield pending.pop(expected)
                expected += 1
        if expected != len(staged):
            raise DataError(
                f"source {job.label}: Spark returned {expected} of {len(staged)} chunks"
            )
