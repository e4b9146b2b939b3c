"""The endpoints, one function per resource: decisions, the model, admin, probes, metrics.

A handler only translates: the request in, one call to the service (``decide.py``,
``service.py``), the answer out. Each function adds its resource's routes to the router it is
given; ``create_app`` passes the app's own router to ``add_routes``. (FastAPI 0.165 matches an
included ``APIRouter`` as a nested router: about 10 us more per request than the prediction
itself is worth.) Routes match in order, so the decisions come first.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .auth import ApiKey
from .decide import decide
from .dependencies import (
    AdminKey,
    LiveModel,
    PredictKey,
    ServiceDep,
    caller,
    live_model,
    service_of,
)
from .errors import JsonResponse
from .model_state import LoadedModel
from .schemas import ErrorBody, ExplainResponse, Metadata, PredictResponse
from .service import Service

log = logging.getLogger(__name__)

PUBLIC_TAGS = ("git.sha", "model_sha256", "gate.verdict", "production.at")
SECURED: dict[str, Any] = {"security": [{"APIKeyHeader": []}]}
_ERRORS = {
    400: "The body is not valid JSON",
    401: "Missing or unknown API key (header X-API-Key)",
    403: "The key lacks the role this endpoint needs",
    413: "Body larger than the configured limit",
    422: "Invalid request; the message names the field",
    503: "No model loaded, with the reason",
    504: "The request took longer than the configured timeout",
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"model": ErrorBody, "description": _ERRORS[c]} for c in codes}


def decision_routes(router: APIRouter, body_doc: dict[str, Any]) -> None:
    """/predict and /explain; ``body_doc`` documents the body (its batch limit is a setting)."""
    extra = body_doc | SECURED
    responses = _errors(400, 401, 403, 413, 422, 503, 504)

    @router.post(
        "/predict",
        response_model=PredictResponse,
        responses=responses,
        openapi_extra=extra,
        summary="Score one row or a batch; each decision is logged before the answer",
    )
    async def predict(request: Request) -> Any:
        return JsonResponse(await _decided(request, full=False, key="predictions"))

    @router.post(
        "/explain",
        response_model=ExplainResponse,
        responses=responses,
        openapi_extra=extra,
        summary="Score with every column's exact contribution (logged as decisions)",
    )
    async def explain(request: Request) -> Any:
        return JsonResponse(await _decided(request, full=True, key="explanations"))


async def _decided(request: Request, full: bool, key: str) -> dict[str, Any]:
    # The caller is checked here, not through a dependency: see dependencies.py.
    service = service_of(request)
    api_key = caller(service, request, "predict")
    state = request.state  # the request id and start time, from the middleware
    done = await decide(
        await request.body(),
        api_key,
        service,
        full=full,
        request_id=state.request_id,
        started=state.started,
    )
    return {
        "request_id": done.request_id,
        "model_name": done.model_name,
        "model_version": done.model_version,
        key: done.outputs,
    }


def _describe(service: Service, loaded: LoadedModel, key: ApiKey) -> dict[str, Any]:
    ref = loaded.ref
    trained = (
        datetime.fromtimestamp(ref.created_ms / 1000, UTC).isoformat() if ref.created_ms else None
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
    shadowed = service.shadow_model.current if service.shadow_model is not None else None
    if shadowed is not None:
        body["shadow"] = {"model_version": shadowed.ref.version, "alias": shadowed.ref.alias}
    if key.allows("admin"):
        body["detail"] = {"tags": ref.tags}
    return body


def model_routes(router: APIRouter) -> None:
    """/metadata: the model serving now."""

    @router.get(
        "/metadata",
        response_model=Metadata,
        responses=_errors(401, 403, 503),
        openapi_extra=SECURED,
        summary="The served model; admin keys also get run id and tags",
    )
    async def metadata(key: PredictKey, loaded: LiveModel, service: ServiceDep) -> Any:
        return _describe(service, loaded, key)


def admin_routes(router: APIRouter) -> None:
    """/admin/reload: load the alias's model now."""

    @router.post(
        "/admin/reload",
        response_model=Metadata,
        responses=_errors(401, 403, 503),
        openapi_extra=SECURED,
        summary="Reload the model behind the alias now (admin)",
    )
    async def reload(key: AdminKey, service: ServiceDep) -> Any:
        service.reload()
        current = service.model.current
        log.info("reload by %s: %s", key.key_id, current.ref if current else None)
        return _describe(service, live_model(service), key)


def probe_routes(router: APIRouter) -> None:
    """/health (liveness) and /ready (a model is loaded)."""

    @router.get("/health", summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/ready",
        responses={503: {"description": "No model loaded, with the reason"}},
        summary="Readiness: a model is loaded",
    )
    async def ready(service: ServiceDep) -> Any:
        current = service.model.current
        if current is None:
            reason = service.model.reason
            return JsonResponse({"status": "not ready", "reason": reason}, status_code=503)
        return {"status": "ready", "model_version": current.ref.version}


def metrics_routes(router: APIRouter) -> None:
    """/metrics: Prometheus text."""

    @router.get(
        "/metrics",
        response_class=Response,
        summary="Prometheus metrics",
        responses={200: {"content": {"text/plain": {}}}},
    )
    async def prometheus(service: ServiceDep) -> Response:
        return Response(service.metrics.render(), media_type="text/plain; version=0.0.4")


def add_routes(router: APIRouter, body_doc: dict[str, Any]) -> None:
    """Every endpoint of the service, decisions first."""
    decision_routes(router, body_doc)
    for resource in (model_routes, admin_routes, probe_routes, metrics_routes):
        resource(router)
