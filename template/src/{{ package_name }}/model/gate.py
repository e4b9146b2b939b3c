"""The validation gate: pure checks over measured numbers, returning a verdict with every number.

A challenger passes when it (1) beats the task's baseline (class priors, or the mean for
regression; ``model/metrics.py``) by a margin, (2) meets the
absolute floor, (3) meets the floor in every judged group of every slice column, with at
most ``max_slice_gap`` between the best and the worst group, (4) is not worse than the
champion beyond a tolerance, and (5) was measured on the data it was trained from (so the
holdout really was held out). Thresholds come from ``settings.gate``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..settings import GateSettings


@dataclass(frozen=True)
class SliceScore:
    rows: int
    value: float | None  # None: too few rows or one class / value, reported but not judged


@dataclass(frozen=True)
class Evaluation:
    """What was measured on the holdout; ``model/evaluate.py`` fills it from the registry."""

    version: str
    metric: str
    candidate: float
    baseline: float
    baseline_name: str = "baseline"
    champion: float | None = None
    champion_version: str | None = None
    slices: dict[str, dict[str, SliceScore]] = field(default_factory=dict)
    same_data: bool = True
    holdout_rows: int = 0


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    value: float | None
    threshold: float | None
    detail: str


@dataclass(frozen=True)
class Verdict:
    evaluation: Evaluation
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def summary(self) -> str:
        ev = self.evaluation
        if self.passed:
            return f"version {ev.version} passed the gate ({ev.metric} {ev.candidate:.3f})"
        reasons = "; ".join(f"failed {c.name}: {c.detail}" for c in self.failed)
        return f"gate refused version {ev.version}: {reasons}"

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "evaluation": asdict(self.evaluation)} | {
            "checks": [asdict(c) for c in self.checks]
        }


def _slice_checks(column: str, groups: dict[str, SliceScore], gate: GateSettings) -> list[Check]:
    judged = {g: s.value for g, s in groups.items() if s.value is not None}
    if not judged:
        note = f"no group has {gate.min_slice_rows}+ rows with the metric defined; not judged"
        return [Check(f"slice {column}", True, None, gate.min_slice_metric, note)]
    worst_group = min(judged, key=lambda g: judged[g])
    worst = judged[worst_group]
    low = sorted(g for g, v in judged.items() if v < gate.min_slice_metric)
    checks = [
        Check(
            f"slice {column}",
            not low,
            worst,
            gate.min_slice_metric,
            f"groups below {gate.min_slice_metric:.3f}: "
            + ", ".join(f"{g}={judged[g]:.3f}" for g in low)
            if low
            else f"worst group {worst_group}={worst:.3f} >= {gate.min_slice_metric:.3f}",
        )
    ]
    if len(judged) >= 2:
        best_group = max(judged, key=lambda g: judged[g])
        gap = judged[best_group] - worst
        checks.append(
            Check(
                f"slice gap {column}",
                gap <= gate.max_slice_gap,
                gap,
                gate.max_slice_gap,
                f"{best_group}={judged[best_group]:.3f} - {worst_group}={worst:.3f} = {gap:.3f}"
                f" {'<=' if gap <= gate.max_slice_gap else '>'} {gate.max_slice_gap:.3f}",
            )
        )
    return checks


def judge(ev: Evaluation, gate: GateSettings) -> Verdict:
    m = ev.metric
    floor = ev.baseline + gate.baseline_margin
    checks = [
        Check(
            "baseline",
            ev.candidate >= floor,
            ev.candidate,
            floor,
            f"{m} {ev.candidate:.3f} {'>=' if ev.candidate >= floor else '<'} {floor:.3f}"
            f" ({ev.baseline_name} {ev.baseline:.3f} + margin {gate.baseline_margin:.3f})",
        ),
        Check(
            "absolute",
            ev.candidate >= gate.min_metric,
            ev.candidate,
            gate.min_metric,
            f"{m} {ev.candidate:.3f} {'>=' if ev.candidate >= gate.min_metric else '<'}"
            f" minimum {gate.min_metric:.3f}",
        ),
    ]
    for column, groups in ev.slices.items():
        checks.extend(_slice_checks(column, groups, gate))
    if ev.champion is None:
        checks.append(Check("champion", True, None, None, "no champion yet"))
    else:
        bar = ev.champion - gate.champion_tolerance
        checks.append(
            Check(
                "champion",
                ev.candidate >= bar,
                ev.candidate,
                bar,
                f"{m} {ev.candidate:.3f} {'>=' if ev.candidate >= bar else '<'} {bar:.3f}"
                f" (champion version {ev.champion_version} {ev.champion:.3f}"
                f" - tolerance {gate.champion_tolerance:.3f})",
            )
        )
    checks.append(
        Check(
            "data",
            ev.same_data,
            None,
            None,
            "holdout taken from the challenger's training data"
            if ev.same_data
            else "evaluation data differs from the challenger's training data: retrain first",
        )
    )
    return Verdict(ev, checks)
