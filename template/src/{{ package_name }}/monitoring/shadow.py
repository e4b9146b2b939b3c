"""Shadow evidence: what the shadow step showed about a version, read from its shadow log.

serving/shadow.py writes one line per shadowed row (``shadow-*.jsonl`` beside the decision
log). For a version: how many rows it scored, how often it agreed with the champion, its p95
scoring latency per request and, when outcomes have arrived for those decisions, its live
quality. ``promote --to production`` records these figures and, with
``model.require_shadow``, refuses a version whose evidence falls short.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson

from ..model.promote import Move, ShadowEvidence, promote_to_production
from ..model.registry import find_alias
from ..model.tasks import live_metric, score_of
from ..settings import Settings
from .outcomes import joined_rows


def shadow_records(settings: Settings) -> Iterator[dict[str, Any]]:
    directory = settings.path(settings.serving.decision_log_dir)
    for path in sorted(directory.glob("shadow-*.jsonl")):
        with path.open("rb") as fh:
            for line in fh:
                if line.endswith(b"\n"):  # a torn last line is skipped
                    yield orjson.loads(line)


def shadow_evidence(settings: Settings, version: str) -> ShadowEvidence:
    rows = [r for r in shadow_records(settings) if str(r["model_version"]) == version]
    latency = {r["request_id"]: float(r["latency_ms"]) for r in rows}
    outcomes = {(o["request_id"], o["row"]): o["label"] for o in joined_rows(settings)}
    labelled = [
        (outcomes[(r["request_id"], r["row"])], score_of(r["output"]))
        for r in rows
        if (r["request_id"], r["row"]) in outcomes
    ]
    live = None
    if len(labelled) >= settings.monitoring.live_min_rows:
        live = live_metric([y for y, _ in labelled], [s for _, s in labelled])
    return ShadowEvidence(
        version=version,
        rows=len(rows),
        agreement=sum(bool(r["agree"]) for r in rows) / len(rows) if rows else None,
        p95_latency_ms=float(np.percentile(list(latency.values()), 95)) if latency else None,
        labelled_rows=len(labelled),
        live_quality=live,
    )


def promote_with_shadow_evidence(
    settings: Settings, reason: str, version: str | None = None, actor: str | None = None
) -> Move:
    """The `promote --to production` stage: champion -> ``version`` (default: the version
    staging validated), with that version's shadow evidence recorded (and, with
    ``model.require_shadow``, required)."""
    if version is None:
        staged = find_alias(settings, settings.model.stage_alias)
        target = staged.version if staged else None
    else:
        target = version
    evidence = shadow_evidence(settings, target) if target else None
    return promote_to_production(settings, reason, version, actor, evidence)
