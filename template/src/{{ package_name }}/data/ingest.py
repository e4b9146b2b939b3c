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

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from .. import atomic
from ..settings import DataSettings, Settings
from .errors import DataError
from .lineage import Lineage, content_hash
from .privacy import apply_pii_policy, pii_policy
from .quality import FAILED, SOURCE, Split, conform, split_cross_source_duplicates, split_labeled
from .schema import RENAMES, TIME
from .sources import Source, open_sources, seed_sources

__all__ = ["DataError", "IngestResult", "SourceBatch", "ingest", "read_batch", "seed", "seed_frame"]


@dataclass(frozen=True)
class SourceBatch:
    name: str
    label: str
    split: Split
    description: dict[str, Any]


@dataclass(frozen=True)
class IngestResult:
    frame: pd.DataFrame  # accepted rows, PII hashed or dropped: what training sees
    source: str
    output: Path
    lineage: Lineage
    quarantine: Path | None
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    rows_unlabeled: int = 0
    unlabeled: Path | None = None  # the unlabeled rows' table (None: there were none)


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


def _window(frame: pd.DataFrame) -> dict[str, str | None]:
    if TIME is None:
        return {"column": None, "start": None, "end": None}
    times = pd.to_datetime(frame[TIME]) if len(frame) else pd.Series(dtype="datetime64[ns]")
    start, end = (times.min(), times.max()) if len(times) else (None, None)
    return {
        "column": TIME,
        "start": None if start is None else start.isoformat(),
        "end": None if end is None else end.isoformat(),
    }


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


def ingest(settings: Settings) -> IngestResult:
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
        raise DataError(
            f"sources {labels}: quarantined {len(quarantined)} of {rows_read} rows "
            f"({share:.1%}), above max_quarantine_share {limit:.1%}; see {quarantine_file}",
            "quality",
        )
    output = settings.training_table
    unlabeled_file = unlabeled_table(settings) if len(unlabeled) else None
    lineage = Lineage(
        sources=described,
        rows_read=rows_read,
        rows_accepted=len(frame),
        rows_quarantined=len(quarantined),
        time_window=_window(frame),
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
        frame=frame,
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
