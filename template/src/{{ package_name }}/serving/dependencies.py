"""What an endpoint takes from its request: the service, the caller's API key, the live model.

Annotated dependencies for the admin and metadata endpoints (``AdminKey``, ``PredictKey``,
``LiveModel``). The decision endpoints call ``caller`` and ``service_of`` directly: one header
lookup and one hash, where FastAPI's dependency resolution would add about as much again as
scoring one row costs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from .auth import ApiKey
from .model_state import LoadedModel
from .service import Service


def service_of(request: Request) -> Service:
    """The app's service (``create_app`` puts it on the app state)."""
    service: Service = request.app.state.service
    return service


def caller(service: Service, request: Request, role: str) -> ApiKey:
    """The key in ``X-API-Key`` when it has ``role``; 401 without a known key, 403 without it."""
    key = service.auth.identify(request.headers.get("x-api-key"))
    if key is None:
        raise HTTPException(401, "X-API-Key: missing or unknown API key")
    if not key.allows(role):
        raise HTTPException(403, f"X-API-Key: key '{key.key_id}' lacks role {role}")
    return key


def live_model(service: Service) -> LoadedModel:
    """The model serving now; 503 with the reason when there is none."""
    loaded = service.model.current
    if loaded is None:
        raise HTTPException(503, service.model.reason)
    return loaded


# Async: FastAPI would run a plain function dependency in its thread pool.
async def _service(request: Request) -> Service:
    return service_of(request)


async def _predict_key(request: Request) -> ApiKey:
    return caller(service_of(request), request, "predict")


async def _admin_key(request: Request) -> ApiKey:
    return caller(service_of(request), request, "admin")


async def _live_model(request: Request) -> LoadedModel:
    return live_model(service_of(request))


ServiceDep = Annotated[Service, Depends(_service)]
PredictKey = Annotated[ApiKey, Depends(_predict_key)]
AdminKey = Annotated[ApiKey, Depends(_admin_key)]
LiveModel = Annotated[LoadedModel, Depends(_live_model)]
