"""Batch scoring: the online contract and rails, applied to a file, a directory or a SQL table.

``run_batch`` reads the input in chunks, validates every row with the contract (bad rows go to
the quarantine with their failed checks), scores the rest with a registered model version and
publishes Parquet atomically; ``rows read == scored + quarantined`` is asserted and recorded
in the batch record (`audit --batch`). Modules: ``reader`` (inputs), ``predict`` (model and
the task's output columns), ``job`` (the chunk loop, checkpoints, publishing), ``record``
(batch records), ``spark`` (the same scoring on Apache Spark), ``progress`` (terminal/log).
"""

from __future__ import annotations

from .errors import BatchError
from .job import BatchRequest, run_batch

__all__ = ["BatchError", "BatchRequest", "run_batch"]
