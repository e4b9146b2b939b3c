"""The validation gate: pure checks over measured numbers, returning a verdict with every number.

A challenger passes when it
(1) beats the task's baseline (class priors, or the mean for regression; ``model/metrics.py``)
by more than the holdout's own noise: the one-sided lower bound of a paired bootstrap of
(model - baseline) is above ``baseline_margin`` (0 unless the owner wants a lead);
(signal) beats the permutation null, the same estimator trained on the same rows with
permuted labels (a model can beat the baseline by chance when its random direction leans on
strong features; ``model/train.py``);
(2) meets the quality target the owner declared (``min_metric``; not declared: reported,
not judged);
(3) has no group of a slice column clearly worse than its own overall figure (the group's
bootstrap bound beyond ``max_slice_gap``; classification by the gate metric, AUC against the
AUC within the column's groups; regression by error and by bias beyond the holdout's own,
relative to the overall MAE, never by within-group R², which mostly measures how spread out
a group's labels are);
(4) is not worse than the champion beyond a tolerance; and
(5) was measured on the data it was trained from (so the holdout really was held out).
Thresholds come from ``settings.gate``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..settings import GateSettings

NOT_DECLARED = "quality target not declared"


@dataclass(frozen=True)
class SliceScore:
    """One group of a slice column on the holdout. ``value`` is the gate metric
    (classification) or the MAE relative to the overall MAE (regression), with its bootstrap
    bounds; ``bias`` (regression) is the mean residual (label - prediction) less the
    holdout's, relative to the overall MAE. None: the group is under ``min_slice_rows`` (or
    the figure is undefined), reported but not judged. ``pairs`` (AUC): the group's positive
    x negative rows, the pairs its AUC ranks."""

    rows: int
    value: float | None
    low: float | None = None
    high: float | None = None
    bias: float | None = None
    bias_low: float | None = None
    bias_high: float | None = None
    pairs: int | None = None


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
    # why the champion was not scored (trained under another contract); None: it was, or none
    champion_foreign: str | None = None
    slices: dict[str, dict[str, SliceScore]] = field(default_factory=dict)
    same_data: bool = True
    holdout_rows: int = 0
    # one-sided lower bound of (candidate - baseline), paired bootstrap; None: not measured
    lead_low: float | None = None
    # what lead_low bounds when it is not the metric's own lead: regression reads the paired
    # MAE skill ("MAE skill 0.347"), steadier than R² on small, heavy-tailed holdouts
    lead_name: str = ""
    confidence: float = 0.99
    # what slices are compared with: "metric" (classification) or "error" (regression)
    slice_figure: str = "metric"
    holdout: str = ""  # how the holdout was taken (random split, or the latest rows by time)
    # the permutation null's metric (train's ``null_metric`` tag); None: not measured
    # (versions trained before)
    null: float | None = None


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


def _baseline_check(ev: Evaluation, gate: GateSettings) -> Check:
    m, lead = ev.metric, ev.candidate - ev.baseline
    margin = gate.baseline_margin
    head = f"{m} {ev.candidate:.3f} vs {ev.baseline_name} {ev.baseline:.3f} (lead {lead:+.3f}"
    if ev.lead_low is None:  # no interval measured: the point lead must clear the margin
        passed = lead > margin
        return Check(
            "baseline", passed, lead, margin, f"{head}) {'>' if passed else '<='} {margin:.3f}"
        )
    passed = ev.lead_low > margin
    return Check(
        "baseline",
        passed,
        ev.lead_low,
        margin,
        f"{head}; {ev.lead_name + ', ' if ev.lead_name else ''}"
        f"{ev.confidence:.0%} lower bound {ev.lead_low:+.3f} on {ev.holdout_rows}"
        f" holdout rows {'>' if passed else '<='} {margin:.3f})",
    )


def _signal_check(ev: Evaluation) -> Check:
    """The model beats the same estimator trained on permuted labels (train.py): what a model
    of this family scores on these rows by chance alone. The null is one draw of chance, so
    its own noise is the baseline check's job (the holdout interval); here the candidate's
    figure must simply exceed it. A model trained on shuffled labels ties with it and is
    refused, whatever its random direction happens to score."""
    if ev.null is None:
        return Check("signal", True, None, None, "permutation null not measured for this version")
    passed = ev.candidate > ev.null
    return Check(
        "signal",
        passed,
        ev.candidate,
        ev.null,
        f"{ev.metric} {ev.candidate:.3f} {'>' if passed else '<='} {ev.null:.3f} of the same"
        " estimator on permuted labels"
        + ("" if passed else ": the labels taught this model nothing it would not learn by chance"),
    )


def _absolute_check(ev: Evaluation, gate: GateSettings) -> Check:
    m, floor = ev.metric, gate.min_metric
    if floor is None:
        return Check(
            "absolute",
            True,
            ev.candidate,
            None,
            f"{NOT_DECLARED} (data adopt --min-metric, or [gate] min_metric): not judged",
        )
    passed = ev.candidate >= floor
    return Check(
        "absolute",
        passed,
        ev.candidate,
        floor,
        f"{m} {ev.candidate:.3f} {'>=' if passed else '<'} declared target {floor:.3f}",
    )


def _slice_checks(ev: Evaluation, column: str, groups: dict[str, SliceScore], gate: GateSettings
                  ) -> list[Check]:  # fmt: skip
    judged = {g: s for g, s in groups.items() if s.value is not None}
    small = sorted(g for g, s in groups.items() if s.value is None)
    not_judged = (
        f"; not judged (< {gate.min_slice_rows} rows, scores constant in the group, or too"
        f" few rows of a class to rank):"
        f" {', '.join(small)}"
        if small
        else ""
    )
    if not judged:
        note = f"no group has {gate.min_slice_rows}+ rows with the figure defined; not judged"
        return [Check(f"slice {column}", True, None, None, note)]
    gap = gate.max_slice_gap
    if ev.slice_figure == "error":
        return [_error_check(column, judged, gate, not_judged)]
    within = within_groups((s.value, s.pairs) for s in judged.values())
    if within is None:
        reference, yardstick = ev.candidate, f"overall {ev.metric} {ev.candidate:.3f}"
    else:
        reference, yardstick = within, f"{ev.metric} within the groups {within:.3f}"
    bar = reference - gap
    low = sorted(g for g, s in judged.items() if s.high is not None and s.high < bar)
    worst = min(judged, key=lambda g: judged[g].value or 0.0)
    if low:
        detail = f"groups clearly below {yardstick} - gap {gap:.3f}: "
        detail += ", ".join(f"{g}={judged[g].value:.3f} (upper {judged[g].high:.3f})" for g in low)
    else:
        detail = (
            f"no group clearly below {yardstick} - gap {gap:.3f} = {bar:.3f}"
            f" (worst {worst}={judged[worst].value:.3f})"
        )
    return [Check(f"slice {column}", not low, judged[worst].value, bar, detail + not_judged)]


def within_groups(groups: Iterable[tuple[float | None, int | None]]) -> float | None:
    """AUC over the pairs inside a column's groups, from each group's (AUC, pairs): what a
    group's AUC is compared with (here and in live monitoring). The overall AUC also ranks
    pairs across groups, which a column the model reads (late last month, say) separates
    well, so every group of such a column ranks worse inside than the model does overall,
    by construction. None: no pairs (not AUC)."""
    weighted = [(value, pairs) for value, pairs in groups if value is not None and pairs]
    total = sum(pairs for _, pairs in weighted)
    return sum(value * pairs for value, pairs in weighted) / total if total else None


def _error_check(
    column: str, judged: dict[str, SliceScore], gate: GateSettings, note: str
) -> Check:
    """Regression: a group fails when its MAE is clearly above ``max_slice_error_ratio`` x the
    overall MAE, or its mean residual, less the holdout's, clearly beyond +-``max_slice_bias``
    x the overall MAE (under- or over-predicted beyond the rest)."""
    ratio, bias = gate.max_slice_error_ratio, gate.max_slice_bias
    bad = []
    for g, s in sorted(judged.items()):
        if s.low is not None and s.low > ratio:
            bad.append(f"{g} error {s.value:.2f}x overall (lower {s.low:.2f})")
        if (s.bias_low is not None and s.bias_low > bias) or (
            s.bias_high is not None and s.bias_high < -bias
        ):
            bad.append(f"{g} bias {s.bias:+.2f} x overall MAE beyond the holdout's")
    worst = max(judged, key=lambda g: judged[g].value or 0.0)
    detail = (
        "groups clearly off: " + "; ".join(bad)
        if bad
        else f"no group clearly above {ratio:.2f}x the overall MAE or biased beyond"
        f" +-{bias:.2f} x MAE (worst {worst} {judged[worst].value:.2f}x)"
    )
    return Check(f"slice {column}", not bad, judged[worst].value, ratio, detail + note)


def judge(ev: Evaluation, gate: GateSettings) -> Verdict:
    m = ev.metric
    checks = [_baseline_check(ev, gate), _signal_check(ev), _absolute_check(ev, gate)]
    for column, groups in ev.slices.items():
        checks.extend(_slice_checks(ev, column, groups, gate))
    if ev.champion is None:
        detail = "no champion yet"
        if ev.champion_foreign is not None:  # nothing to compare with: judged on the rest
            detail = (
                f"champion version {ev.champion_version} is not comparable:"
                f" {ev.champion_foreign} (trained under another contract)"
            )
        checks.append(Check("champion", True, None, None, detail))
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
