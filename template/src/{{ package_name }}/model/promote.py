"""Moving aliases, only along the documented path, each move recorded on the model version.

    train                      -> alias `challenger`
    promote --to staging       -> runs the gate, records the verdict; on a pass, alias
                                  `staging-validated` (settings.model.stage_alias)
    promote --to production    -> moves `champion` to the version staging validated (with
                                  `model.require_shadow`: only after enough shadow evidence)
    rollback                   -> moves `champion` back to the champion it replaced

Every move tags the version with who (``--actor`` or the login name), why (``--reason``,
required) and when (UTC, ISO 8601).
"""

from __future__ import annotations

import contextlib
import getpass
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..settings import Settings
from .gate import Verdict
from .registry import (
    ModelRef,
    RegistryError,
    configure,
    find_alias,
    get_version,
    load_scorer,
)

NO_PREVIOUS = "none"


class PromotionError(RegistryError):
    """A refused promotion or rollback, reported as one line."""


@dataclass(frozen=True)
class Move:
    alias: str
    version: str
    previous: str | None


@dataclass(frozen=True)
class ShadowEvidence:
    """What the shadow step showed for a version (monitoring/shadow.py reads it from logs)."""

    version: str
    rows: int
    agreement: float | None
    p95_latency_ms: float | None
    labelled_rows: int = 0
    live_quality: float | None = None

    def problems(self, settings: Settings) -> list[str]:
        """Why this evidence is not enough for production; empty when it is."""
        m, sla = settings.model, settings.serving.latency_sla_ms
        out = []
        if self.rows < m.shadow_min_rows:
            out.append(f"{self.rows} shadowed rows < {m.shadow_min_rows} required")
        agreed = self.agreement is not None and self.agreement >= m.shadow_min_agreement
        floor = settings.gate.min_metric  # None: no declared target to be good against
        good = self.live_quality is not None and floor is not None and self.live_quality >= floor
        if self.rows and not agreed and not good:
            shown = "none" if self.agreement is None else f"{self.agreement:.3f}"
            target = "no quality target declared" if floor is None else f">= {floor:g}"
            out.append(
                f"agreement {shown} < {m.shadow_min_agreement:g} and no live quality ({target})"
            )
        if self.p95_latency_ms is not None and self.p95_latency_ms > sla:
            out.append(f"shadow p95 latency {self.p95_latency_ms:.1f} ms > SLA {sla:g} ms")
        return out

    def tags(self) -> dict[str, str]:
        def fmt(v: float | None) -> str:
            return "none" if v is None else f"{v:.6g}"

        return {
            "shadow.rows": str(self.rows),
            "shadow.agreement": fmt(self.agreement),
            "shadow.p95_latency_ms": fmt(self.p95_latency_ms),
            "shadow.labelled_rows": str(self.labelled_rows),
            "shadow.live_quality": fmt(self.live_quality),
        }


def actor_name(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _tag(settings: Settings, version: str, tags: dict[str, str]) -> None:
    client = configure(settings)
    for key, value in tags.items():
        client.set_model_version_tag(settings.model.name, version, key, value)


def _audit(prefix: str, actor: str, reason: str) -> dict[str, str]:
    if not reason.strip():
        raise PromotionError("--reason is empty: say why (it is recorded on the model version)")
    return {f"{prefix}.by": actor, f"{prefix}.reason": reason, f"{prefix}.at": _now()}


def _require(settings: Settings, alias: str, hint: str) -> ModelRef:
    ref = find_alias(settings, alias)
    if ref is None:
        raise PromotionError(
            f"model '{settings.model.name}' has no version with alias '{alias}': {hint}"
        )
    return ref


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def record_verdict(settings: Settings, verdict: Verdict, actor: str, reason: str) -> None:
    """Tag the version with the verdict and every number; the full verdict also goes to its run."""
    ev = verdict.evaluation
    checks = {
        c.name: {"passed": c.passed, "value": _r(c.value), "threshold": _r(c.threshold)}
        for c in verdict.checks
    }
    slices = {
        col: {g: {"rows": s.rows, "value": _r(s.value)} for g, s in groups.items()}
        for col, groups in ev.slices.items()
    }
    tags = {
        "gate.verdict": "passed" if verdict.passed else "failed",
        "gate.failed": ",".join(c.name for c in verdict.failed) or NO_PREVIOUS,
        "gate.metric": ev.metric,
        "gate.value": f"{ev.candidate:.6f}",
        "gate.baseline": f"{ev.baseline:.6f}",
        "gate.champion": "none" if ev.champion is None else f"{ev.champion:.6f}",
        "gate.champion_version": ev.champion_version or NO_PREVIOUS,
        "gate.checks": json.dumps(checks, separators=(",", ":")),
        "gate.slices": json.dumps(slices, separators=(",", ":")),
        "gate.holdout_rows": str(ev.holdout_rows),
        "gate.summary": verdict.summary()[:4900],
    } | _audit("gate", actor, reason)
    _tag(settings, ev.version, tags)
    run_id = get_version(settings, ev.version).run_id
    if run_id:
        stamp = tags["gate.at"].replace(":", "")
        configure(settings).log_dict(run_id, verdict.to_dict(), f"gate/verdict-{stamp}.json")


def evaluate_candidate(
    settings: Settings, version: str | None = None, actor: str | None = None, reason: str = ""
) -> Verdict:
    """Judge a version (default: the challenger) and record the verdict; moves no alias."""
    version = (
        version or _require(settings, settings.model.challenger_alias, "run `train` first").version
    )
    # Judging needs pandas and scikit-learn; moving an alias (production, rollback) does not.
    from .evaluate import evaluate_version

    verdict = evaluate_version(settings, version)
    record_verdict(settings, verdict, actor_name(actor), reason or "evaluate")
    return verdict


def promote_to_staging(
    settings: Settings, reason: str, version: str | None = None, actor: str | None = None
) -> Verdict:
    """Run the gate; on a pass mark the version as validated by staging."""
    who = actor_name(actor)
    _audit("staging", who, reason)  # refuse an empty reason before any work
    verdict = evaluate_candidate(settings, version, who, reason)
    version = verdict.evaluation.version
    if not verdict.passed:
        _tag(settings, version, {"staging.validated": "false"})
        raise PromotionError(verdict.summary())
    _tag(settings, version, {"staging.validated": "true"} | _audit("staging", who, reason))
    configure(settings).set_registered_model_alias(
        settings.model.name, settings.model.stage_alias, version
    )
    # Compiled now, while the gate has scikit-learn loaded: once this version is champion,
    # the first `score` process starts without it (model/scorer.py, compiled scorers).
    with contextlib.suppress(ValueError):  # a family with no compiled form
        load_scorer(settings, get_version(settings, version))
    return verdict


def promote_to_production(
    settings: Settings,
    reason: str,
    version: str | None = None,
    actor: str | None = None,
    shadow: ShadowEvidence | None = None,
) -> Move:
    """Move champion to a version staging validated; refuse any other.

    ``shadow``: the version's shadow evidence, recorded on it; with ``model.require_shadow``
    a version without enough of it is refused.
    """
    stage = settings.model.stage_alias
    _audit("production", "", reason)  # refuse an empty reason before any work
    if version is None:
        version = _require(settings, stage, "run `promote --to staging` first").version
    ref = get_version(settings, version)
    if ref.tags.get("staging.validated") != "true" or ref.tags.get("gate.verdict") != "passed":
        raise PromotionError(
            f"version {version} was not validated in staging: "
            f"run `promote --to staging --version {version}` first"
        )
    champion = find_alias(settings, settings.model.champion_alias)
    previous = champion.version if champion else None
    if previous == version:
        raise PromotionError(f"version {version} is already '{settings.model.champion_alias}'")
    tags = {"production.previous_champion": previous or NO_PREVIOUS}
    problems: list[str] | None = None  # None: no shadow evidence for this version
    if shadow is not None and shadow.version == version and shadow.rows:
        problems = shadow.problems(settings)
        tags |= shadow.tags() | {"shadow.verdict": "failed" if problems else "passed"}
    if settings.model.require_shadow:
        if problems is None:
            raise PromotionError(
                f"version {version} has no shadow evidence: serve it with"
                " APP_SERVING__SHADOW_ALIAS first (APP_MODEL__REQUIRE_SHADOW=true)"
            )
        if problems:
            _tag(settings, version, {k: v for k, v in tags.items() if k.startswith("shadow.")})
            raise PromotionError(f"version {version} shadow evidence: {'; '.join(problems)}")
    _tag(settings, version, tags | _audit("production", actor_name(actor), reason))
    configure(settings).set_registered_model_alias(
        settings.model.name, settings.model.champion_alias, version
    )
    return Move(settings.model.champion_alias, version, previous)


def rollback(settings: Settings, reason: str, actor: str | None = None) -> Move:
    """Point champion back at the champion the current one replaced."""
    alias = settings.model.champion_alias
    _audit("rollback", "", reason)  # refuse an empty reason before any work
    current = _require(settings, alias, "nothing to roll back")
    previous = current.tags.get("production.previous_champion", NO_PREVIOUS)
    if previous == NO_PREVIOUS:
        raise PromotionError(f"version {current.version} has no previous '{alias}' to roll back to")
    get_version(settings, previous)  # still registered?
    who = actor_name(actor)
    _tag(settings, current.version, {"rollback.to": previous} | _audit("rollback", who, reason))
    _tag(
        settings,
        previous,
        {"restored.from": current.version} | _audit("restored", who, reason),
    )
    configure(settings).set_registered_model_alias(settings.model.name, alias, previous)
    return Move(alias, previous, current.version)


def history(settings: Settings, version: str) -> dict[str, Any]:
    """The audit tags of a version (gate, staging, production, rollback), for display."""
    tags = get_version(settings, version).tags
    prefixes = ("gate.", "staging.", "shadow.", "production.", "rollback.", "restored.")
    return {k: v for k, v in sorted(tags.items()) if k.startswith(prefixes)}
