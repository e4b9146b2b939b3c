"""The prediction service.

Every decision is scored by the compiled scorer (the registered pipeline's own parameters),
explained exactly, written durably to the decision log, then answered. Access needs an API
key with the right role (``serving/auth.py``) unless dev runs open.
"""

import asyncio
import gc
import logging
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    TypeAdapter,
    ValidationError,
    create_model,
)

from ..data.schema import FEATURES, KEY, LABEL, TASK, TIME
from ..model.metrics import CLASSES, decide, monitored
from ..model.scorer import EXPLAINED, Scorer, Scores, top_contributions_rows
from ..records.decision_log import (
    DecisionLog,
    DecisionLogError,
    encode_decisions,
    protect_key,
    protect_rows,
    utc_now,
)
from ..records.window import PredictionWindow
from ..settings import ConfigError, Settings, get_settings
from . import errors
from .auth import ApiKey, Authenticator, KeyConfigError, key_problems, load_keys
from .contract import Features
from .errors import JsonResponse
from .metrics import Metrics
from .middleware import InFlight, ServingMiddleware
from .model_state import ModelState
from .shadow import Score, Shadow, ShadowJob

log = logging.getLogger(__name__)

ROW_EXAMPLE = Features.model_json_schema()["examples"][0]
# Illustrative contributions of the first features, for the OpenAPI example only.
_EXAMPLE_EXPLANATION: dict[str, JsonValue] = {
    name: round(1.1 / (i + 1), 2) for i, name in enumerate(FEATURES[:3])
}
PUBLIC_TAGS = ("git.sha", "model_sha256", "gate.verdict", "production.at")
ROUTES = {"/predict", "/explain", "/metadata", "/health", "/ready", "/metrics", "/admin/reload"}


def _output_fields() -> dict[str, Any]:
    """The answer's fields for the contract's task: class and probability, or the value."""
    if CLASSES is None:
        return {"prediction": (float, Field(description=f"The predicted {LABEL}"))}
    label_type: Any = Literal[tuple(CLASSES)]
    if TASK == "binary":
        return {
            "prediction": (
                label_type,
                Field(description=f"{CLASSES[1]} when probability >= model.decision_threshold"),
            ),
            "probability": (float, Field(description=f"P({LABEL} = {CLASSES[1]})")),
        }
    return {
        "prediction": (label_type, Field(description="The most probable class")),
        "probabilities": (dict[str, float], Field(description="P(class) for every class")),
    }


def _example_output() -> dict[str, Any]:
    if CLASSES is None:
        return {"prediction": 1234.5}
    if TASK == "binary":
        return {"prediction": CLASSES[1], "probability": 0.83}
    share = round(1 / len(CLASSES), 3)
    return {"prediction": CLASSES[0], "probabilities": {str(c): share for c in CLASSES}}


Prediction: Any = create_model(
    "Prediction",
    **_output_fields(),
    explanation=(
        dict[str, float],
        Field(description=f"Top input columns by absolute contribution to the {EXPLAINED}"),
    ),
)


class PredictResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "request_id": "4be0c2d1a6f94e0f8d7f1b2a3c4d5e6f",
                    "model_name": "pilot",
                    "model_version": "3",
                    "predictions": [_example_output() | {"explanation": _EXAMPLE_EXPLANATION}],
                }
            ]
        }
    )
    request_id: str
    model_name: str
    model_version: str
    predictions: list[Prediction]


Explanation: Any = create_model(
    "Explanation",
    **_output_fields(),
    base=(float, Field(description=f"The {EXPLAINED} before any input column")),
    contributions=(
        dict[str, float],
        Field(description=f"Every input column's contribution; base + sum = the {EXPLAINED}"),
    ),
)


class ExplainResponse(BaseModel):
    request_id: str
    model_name: str
    model_version: str
    explanations: list[Explanation]


class Metadata(BaseModel):
    model_config = ConfigDict(
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "model_name": "pilot",
                    "model_version": "3",
                    "alias": "champion",
                    "trained_at": "2026-01-31T12:00:00+00:00",
                    "training_data_hash": "9f2c...",
                    "run_id": "05bc9e9e1a8c4a8bb1d66d6d34543174",
                    "loaded_at": 1769860800.0,
                    "tags": {"git.sha": "1a2b3c4", "gate.verdict": "passed"},
                    "detail": None,
                }
            ]
        },
    )
    model_name: str
    model_version: str
    alias: str
    trained_at: str | None = Field(description="When the model version was registered (UTC)")
    training_data_hash: str | None = Field(description="SHA-256 of the training rows")
    run_id: str = Field(description="The MLflow run that trained this version")
    loaded_at: float = Field(description="When this process loaded the model (unix time)")
    tags: dict[str, str] = Field(description="Release tags: git sha, model hash, gate verdict")
    shadow: dict[str, str] | None = Field(
        default=None, description="The shadow model scored off the answer path, if any"
    )
    detail: dict[str, Any] | None = Field(
        default=None, description="Every version tag (admin keys only)"
    )


class ErrorBody(BaseModel):
    error: str
    message: str = Field(description="'<field>: <problem>' for the first offending field")
    fields: list[dict[str, str]] | None = None
    request_id: str | None = None


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "The body is not valid JSON",
        401: "Missing or unknown API key (header X-API-Key)",
        403: "The key lacks the role this endpoint needs",
        413: "Body larger than the configured limit",
        422: "Invalid request; the message names the field",
        503: "No model loaded, with the reason",
        504: "The request took longer than the configured timeout",
    }
    return {c: {"model": ErrorBody, "description": text[c]} for c in codes}


def _join_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The decision's join fields (key, event time) when the request carried them."""
    out: dict[str, Any] = {}
    if KEY is not None and fields.get(KEY) is not None:
        out["key"] = protect_key(fields[KEY])
    if TIME is not None and fields.get(TIME) is not None:
        ts = fields[TIME]
        ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)  # naive: UTC
        out["event_time"] = ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return out


def _scorer_outputs(scorer: Scorer, threshold: float) -> Score:
    """A scorer as the decision log's ``output`` records (what the shadow writes)."""

    def score(rows: Any) -> list[dict[str, Any]]:
        return answers_of(scorer.score(rows), threshold)

    return score


def answers_of(scores: Scores, threshold: float) -> list[dict[str, Any]]:
    """What the service answers per row, for the contract's task (``model/metrics.py``)."""
    decided = decide(scores.output, threshold).tolist()
    if TASK == "binary":
        probability = scores.output.tolist()
        return [
            {"prediction": d, "probability": p} for d, p in zip(decided, probability, strict=True)
        ]
    if TASK == "multiclass":
        names = [str(c) for c in CLASSES or []]
        return [
            {"prediction": d, "probabilities": dict(zip(names, p, strict=True))}
            for d, p in zip(decided, scores.output.tolist(), strict=True)
        ]
    return [{"prediction": v} for v in decided]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    problems = key_problems(settings)
    if problems:
        raise ConfigError(problems[0])
    try:
        auth = Authenticator(load_keys(settings))
    except (OSError, KeyConfigError) as exc:  # pragma: no cover - key_problems reports it
        raise ConfigError(str(exc)) from None
    state = ModelState()
    metrics = Metrics()
    inflight = InFlight()
    decisions = DecisionLog(
        settings.path(settings.serving.decision_log_dir),
        settings.serving.decision_log_max_bytes,
        on_commit=metrics.decision_batch.observe,
    )
    shadow_state = (
        ModelState(settings.serving.shadow_alias) if settings.serving.shadow_alias else None
    )

    def shadow_model() -> tuple[str, str, Score] | None:
        loaded = shadow_state.current if shadow_state is not None else None
        metrics.shadow_loaded.set(0 if loaded is None else 1)
        if loaded is None:
            return None
        scorer = _scorer_outputs(loaded.scorer, settings.model.decision_threshold)
        return loaded.ref.name, loaded.ref.version, scorer

    shadow = Shadow(
        settings.path(settings.serving.decision_log_dir),
        metrics,
        shadow_model,
        settings.serving.shadow_queue,
        settings.serving.shadow_tolerance,
    )
    window = PredictionWindow(
        settings.path(settings.monitoring.window_path),
        settings.monitoring.window_rows,
        settings.monitoring.sample_rate,
    )
    batch_model: Any = create_model(
        "Batch",
        rows=(
            list[Features],  # type: ignore[valid-type]
            Field(..., min_length=1, max_length=settings.serving.max_batch_rows),
        ),
        __config__={
            "extra": "forbid",
            "json_schema_extra": {"examples": [{"rows": [ROW_EXAMPLE, ROW_EXAMPLE]}]},
        },
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The decision-log thread must get the GIL back quickly after each sync: a short
        # switch interval keeps it from waiting out the event loop's 5 ms default slice.
        sys.setswitchinterval(0.0005)
        if auth.open:
            log.warning("dev: API is open, no keys configured (APP_SERVING__API_KEYS)")
        decisions.start()
        state.load(settings)
        state.watch(settings)  # follows the alias: promote/rollback apply without a restart
        metrics.model_loaded.set(1 if state.current else 0)
        if shadow_state is not None:
            shadow_state.load(settings)
            shadow_state.watch(settings)
            metrics.shadow_loaded.set(1 if shadow_state.current else 0)
            shadow.start()
        # Imports and the model are long-lived: keep the collector from rescanning them on
        # every collection, and collect the young generation less often (fewer pauses).
        gc.freeze()
        gc.set_threshold(20_000, 50, 100)
        try:
            yield
        finally:
            await state.stop()
            if shadow_state is not None:
                await shadow_state.stop()
                shadow.stop()
            await decisions.aclose()  # after uvicorn drained in-flight requests
            window.flush()

    app = FastAPI(
        title=settings.model.name,
        version="0.1.0",
        description=(
            "Scores one row or a batch with the registered model, explains each decision "
            "exactly and records it in the durable decision log before answering."
        ),
        lifespan=lifespan,
        default_response_class=JsonResponse,
    )
    app.state.model = state
    app.state.decisions = decisions
    app.state.shadow = shadow
    errors.install(app)
    app.add_middleware(
        ServingMiddleware,
        metrics=metrics,
        routes=ROUTES,
        max_body=settings.serving.max_body_bytes,
        timeout_s=settings.serving.request_timeout_s,
        inflight=inflight,
    )
    # Checked inside the endpoints (one header lookup and one hash) rather than through
    # FastAPI's dependency injection, which costs more than the whole one-row prediction.
    secured: dict[str, Any] = {"security": [{"APIKeyHeader": []}]}

    def authorize(request: Request, needed: str) -> ApiKey:
        key = auth.identify(request.headers.get("x-api-key"))
        if key is None:
            raise HTTPException(401, "X-API-Key: missing or unknown API key")
        if not key.allows(needed):
            raise HTTPException(403, f"X-API-Key: key '{key.key_id}' lacks role {needed}")
        return key

    async def decide(
        request: Request, body: Any, key: ApiKey, full: bool
    ) -> tuple[Any, list[dict[str, Any]]]:
        loaded = state.current
        if loaded is None:
            raise HTTPException(503, state.reason)
        rows: list[Any] = body.rows if hasattr(body, "rows") else [body]
        # Model inputs only: the optional key and event time are logged, never scored.
        records = [{c: r.__dict__[c] for c in FEATURES} for r in rows]
        joins = [_join_fields(r.__dict__) for r in rows]
        scores = loaded.scorer.score(records)
        answers = answers_of(scores, settings.model.decision_threshold)
        top = top_contributions_rows(scores.contributions)
        out: list[dict[str, Any]]
        if full:
            out = [
                a
                | {
                    "base": b,
                    "contributions": dict(zip(FEATURES, c.tolist(), strict=True)),
                }
                for a, b, c in zip(answers, scores.base.tolist(), scores.contributions, strict=True)
            ]
        else:
            out = [a | {"explanation": t} for a, t in zip(answers, top, strict=True)]
        request_id = request.state.request_id
        ts = utc_now()
        latency_ms = round((time.perf_counter() - request.state.started) * 1000, 3)
        ref = loaded.ref
        common = {
            "request_id": request_id,
            "ts": ts,
            "key_id": key.key_id,
            "model_name": ref.name,
            "model_version": ref.version,
            "latency_ms": latency_ms,
        }
        lines = encode_decisions(
            common,
            [
                {"inputs": r, "output": a, "explanation": t} | j
                for r, a, t, j in zip(protect_rows(records), answers, top, joins, strict=True)
            ],
        )
        try:
            if inflight.n <= 1:
                await asyncio.sleep(0)  # let requests already received enter and be counted
            await decisions.append(lines, alone=inflight.n <= 1)
        except DecisionLogError as exc:
            log.error(str(exc))
            metrics.decision_log_failures.inc()
            raise HTTPException(503, "decision log unavailable; decision not made") from None
        if shadow_state is not None:  # after the champion's decision is durable; never waits
            shadow.submit(ShadowJob(request_id, ts, ref.version, records, answers))
        window.record(
            records, monitored(scores.output, settings.model.decision_threshold), ref.version
        )
        metrics.predicted(ref.version, len(records))
        head = {"request_id": request_id, "model_name": ref.name, "model_version": ref.version}
        return head, out

    body_examples = {
        "one row": {"summary": "One row", "value": ROW_EXAMPLE},
        "batch": {"summary": "A batch", "value": {"rows": [ROW_EXAMPLE, ROW_EXAMPLE]}},
    }
    # The body is parsed and validated in one pass by pydantic-core (validate_json), which
    # is several times faster on batches than FastAPI's json.loads + validate_python.
    body_type: Any = Features | batch_model
    body_adapter: TypeAdapter[Any] = TypeAdapter(body_type)
    body_schema = body_adapter.json_schema(ref_template="#/components/schemas/{model}")
    body_defs = body_schema.pop("$defs", {})
    body_doc = {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": body_schema, "examples": body_examples}},
        }
    }

    async def rows_of(request: Request) -> Any:
        raw = await request.body()
        try:
            return body_adapter.validate_json(raw)
        except ValidationError as exc:
            problems = [
                dict(e) | {"loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)
            ]
            raise RequestValidationError(problems, body=raw) from None

    @app.post(
        "/predict",
        response_model=PredictResponse,
        responses=_errors(400, 401, 403, 413, 422, 503, 504),
        openapi_extra=body_doc | secured,
        summary="Score one row or a batch; each decision is logged before the answer",
    )
    async def predict(request: Request) -> Any:
        key = authorize(request, "predict")
        head, out = await decide(request, await rows_of(request), key, full=False)
        return JsonResponse(head | {"predictions": out})

    @app.post(
        "/explain",
        response_model=ExplainResponse,
        responses=_errors(400, 401, 403, 413, 422, 503, 504),
        openapi_extra=body_doc | secured,
        summary="Score with every column's exact contribution (logged as decisions)",
    )
    async def explain(request: Request) -> Any:
        key = authorize(request, "predict")
        head, out = await decide(request, await rows_of(request), key, full=True)
        return JsonResponse(head | {"explanations": out})

    @app.get(
        "/metadata",
        response_model=Metadata,
        responses=_errors(401, 403, 503),
        openapi_extra=secured,
        summary="The served model; admin keys also get run id and tags",
    )
    async def metadata(request: Request) -> Any:
        return describe(authorize(request, "predict"))

    def describe(key: ApiKey) -> dict[str, Any]:
        loaded = state.current
        if loaded is None:
            raise HTTPException(503, state.reason)
        ref = loaded.ref
        trained = (
            datetime.fromtimestamp(ref.created_ms / 1000, UTC).isoformat()
            if ref.created_ms
            else None
        )
        body: dict[str, Any] = {
            "model_name": ref.name,
            "model_version": ref.version,
            "alias": ref.alias,
            "trained_at": trained,
            "training_data_hash": ref.tags.get("data_sha256"),
            "run_id": ref.run_id,
            "loaded_at": loaded.loaded_at,
            "tags": {k: v for k, v in ref.tags.items() if k in PUBLIC_TAGS},
        }
        shadowed = shadow_state.current if shadow_state is not None else None
        if shadowed is not None:
            body["shadow"] = {"model_version": shadowed.ref.version, "alias": shadowed.ref.alias}
        if key.allows("admin"):
            body["detail"] = {"tags": ref.tags}
        return body

    @app.post(
        "/admin/reload",
        response_model=Metadata,
        responses=_errors(401, 403, 503),
        openapi_extra=secured,
        summary="Reload the model behind the alias now (admin)",
    )
    async def reload(request: Request) -> Any:
        key = authorize(request, "admin")
        state.load(settings)
        metrics.model_loaded.set(1 if state.current else 0)
        log.info("reload by %s: %s", key.key_id, state.current.ref if state.current else None)
        return describe(key)

    @app.get("/health", summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/ready",
        responses={503: {"description": "No model loaded, with the reason"}},
        summary="Readiness: a model is loaded",
    )
    async def ready() -> Any:
        if state.current is None:
            return JsonResponse({"status": "not ready", "reason": state.reason}, status_code=503)
        return {"status": "ready", "model_version": state.current.ref.version}

    @app.get(
        "/metrics",
        response_class=Response,
        summary="Prometheus metrics",
        responses={200: {"content": {"text/plain": {}}}},
    )
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {}).update(body_defs)
            components["securitySchemes"] = {
                "APIKeyHeader": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-API-Key",
                    "description": "An API key (roles: predict, admin)",
                }
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
