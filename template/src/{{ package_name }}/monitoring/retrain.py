"""The retraining hook: ingest fresh data, train a challenger and put it through the gate.

Called by `retrain` (and by `drift --retrain` on a breach, or the dispatchable CI workflow).
It stops at staging on purpose: moving `champion` stays an explicit, recorded human step
(`promote --to production`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.gate import Verdict
from ..model.promote import PromotionError, promote_to_staging
from ..model.train import TrainResult, train_from_sources
from ..settings import Settings


@dataclass(frozen=True)
class RetrainResult:
    trained: TrainResult
    verdict: Verdict | None
    message: str


def retrain(settings: Settings, reason: str, actor: str | None = None) -> RetrainResult:
    result = train_from_sources(settings)
    try:
        verdict = promote_to_staging(settings, f"retrain: {reason}", result.version, actor)
    except PromotionError as exc:
        return RetrainResult(result, None, str(exc))
    return RetrainResult(result, verdict, verdict.summary() + "; validated in staging")
