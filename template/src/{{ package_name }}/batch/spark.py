"""The Spark engine: the same chunk scoring (``job.score_chunk``) inside ``mapInArrow``.

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
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..data.columnar import decoded
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
    """One line from a Spark error (a BatchError raised on an executor keeps its own text)."""
    text = str(exc)
    found = re.search(r"BatchError: (.+)", text)
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
