"""The decision, without HTTP: validate rows, score, explain, log durably, then answer.

``decide`` is what /predict and /explain do. It parses and validates the body in one pass,
scores with the live model's compiled scorer, explains each row exactly, writes the decision
log (durable before it returns), samples the monitoring window and hands the rows to the
shadow. Whatever stops a decision raises ``DecisionError``: a status (422 bad rows, 503 no
model or no decision log) and a one-line message naming the field; the app maps it to HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from ..data.schema import FEATURES, KEY, TIME
from ..model.metrics import monitored
from ..model.scorer import Scores, top_contributions_rows
from ..records.decision_log import (
    DecisionLogError,
    encode_decisions,
    protect_key,
    protect_rows,
    utc_now,
)
from .auth import ApiKey
from .schemas import answers_of
from .service import Service
from .shadow import ShadowJob

log = logging.getLogger(__name__)

# Pydantic names union branches and wrappers in error locations; callers only know fields.
_NOISE_PREFIXES = ("function-", "json-or-python", "lax-or-strict", "tagged-union")
_BRANCHES = frozenset({"Features", "Batch"})


class DecisionError(Exception):
    """No decision: ``status`` says why (422 the rows, 503 the service), ``message`` names it."""

    def __init__(self, status: int, message: str, fields: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields


@dataclass(slots=True)
class Decisions:
    """One request's decisions: who decided and, per row, the answer with its explanation."""

    request_id: str
    model_name: str
    model_version: str
    outputs: list[dict[str, Any]]


def problems(errors: Sequence[Mapping[str, Any]], body: Any) -> list[dict[str, str]]:
    """Each error as field and problem, for the branch the caller meant (``rows``: a batch)."""
    branch = None
    if isinstance(body, bytes):
        try:
            body = orjson.loads(body)
        except orjson.JSONDecodeError:
            body = None
    if any(e.get("loc") and e["loc"][0] in _BRANCHES for e in errors):
        branch = "Batch" if isinstance(body, dict) and "rows" in body else "Features"
        errors = [e for e in errors if not e["loc"] or e["loc"][0] == branch]
    return [
        {"field": _field(tuple(e.get("loc", ())), branch), "problem": str(e.get("msg", ""))}
        for e in errors
    ]


def _field(loc: tuple[Any, ...], branch: str | None) -> str:
    parts = [str(p) for p in loc]
    if parts and branch is not None and parts[0] in _BRANCHES:
        parts = parts[1:]
    parts = [p for p in parts if not p.startswith(_NOISE_PREFIXES)]
    return ".".join(parts) or "body"


def parse(
    rows: bytes | Mapping[str, Any] | Sequence[Mapping[str, Any]], body: TypeAdapter[Any]
) -> list[Any]:
    """The validated rows of a JSON body, one row or ``{"rows": [...]}``, or of Python rows.

    Python rows go through JSON too, so a direct call is validated exactly as a request is.
    """
    if not isinstance(rows, bytes):
        rows = orjson.dumps(rows if isinstance(rows, Mapping) else {"rows": list(rows)})
    try:
        parsed = body.validate_json(rows)
    except ValidationError as exc:
        fields = problems(exc.errors(include_url=False), rows)
        first = fields[0] if fields else {"field": "body", "problem": "invalid"}
        raise DecisionError(422, f"{first['field']}: {first['problem']}", fields) from None
    return parsed.rows if hasattr(parsed, "rows") else [parsed]


def join_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The decision's join fields (key, event time) when the request carried them."""
    out: dict[str, Any] = {}
    if KEY is not None and fields.get(KEY) is not None:
        out["key"] = protect_key(fields[KEY])
    if TIME is not None and fields.get(TIME) is not None:
        # In UTC unless it cannot be (serving/contract.py); isoformat pads years below 1000.
        stamp = fields[TIME].isoformat(timespec="microseconds")
        out["event_time"] = stamp[:-6] + "Z" if stamp.endswith("+00:00") else stamp
    return out


def _outputs(
    answers: list[dict[str, Any]], scores: Scores, top: list[dict[str, float]], full: bool
) -> list[dict[str, Any]]:
    """Each answer with its top contributions, or (``full``) the base and every contribution."""
    if not full:
        return [a | {"explanation": t} for a, t in zip(answers, top, strict=True)]
    return [
        a | {"base": b, "contributions": dict(zip(FEATURES, c.tolist(), strict=True))}
        for a, b, c in zip(answers, scores.base.tolist(), scores.contributions, strict=True)
    ]


async def _log(service: Service, lines: bytes) -> None:
    """Append to the decision log and wait until it is durable."""
    try:
        if service.inflight.n <= 1:
            await asyncio.sleep(0)  # let requests already received enter and be counted
        await service.decisions.append(lines, alone=service.inflight.n <= 1)
    except DecisionLogError as exc:
        log.error(str(exc))
        service.metrics.decision_log_failures.inc()
        raise DecisionError(503, "decision log unavailable; decision not made") from None


async def decide(
    rows: bytes | Mapping[str, Any] | Sequence[Mapping[str, Any]],
    caller: ApiKey,
    service: Service,
    *,
    full: bool = False,
    request_id: str | None = None,
    started: float | None = None,
) -> Decisions:
    """Decide on ``rows`` (a JSON body, one row or a list of rows) for ``caller``.

    ``full`` explains with every column's contribution and the base (/explain) instead of the
    top three; ``started`` (``time.perf_counter()``) is when the request arrived.
    """
    started = time.perf_counter() if started is None else started
    parsed = parse(rows, service.body)
    loaded = service.model.current
    if loaded is None:
        raise DecisionError(503, service.model.reason)
    # Model inputs only: the optional key and event time are logged, never scored.
    records = [{c: r.__dict__[c] for c in FEATURES} for r in parsed]
    joins = [join_fields(r.__dict__) for r in parsed]
    scores = loaded.scorer.score(records)
    answers = answers_of(scores, service.threshold)
    top = top_contributions_rows(scores.contributions)
    outputs = _outputs(answers, scores, top, full)
    request_id = request_id or uuid.uuid4().hex
    ts = utc_now()
    ref = loaded.ref
    common = {
        "request_id": request_id,
        "ts": ts,
        "key_id": caller.key_id,
        "model_name": ref.name,
        "model_version": ref.version,
        "latency_ms": round((time.perf_counter() - started) * 1000, 3),
    }
    logged = zip(protect_rows(records), answers, top, joins, strict=True)
    await _log(
        service,
        encode_decisions(
            common, [{"inputs": r, "output": a, "explanation": t} | j for r, a, t, j in logged]
        ),
    )
    if service.shadow_model is not None:  # after the champion's decision is durable; never waits
        service.shadow.submit(ShadowJob(request_id, ts, ref.version, records, answers))
    service.window.record(records, monitored(scores.output, service.threshold), ref.version)
    service.metrics.predicted(ref.version, len(records))
    return Decisions(request_id, ref.name, ref.version, outputs)
