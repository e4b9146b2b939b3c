"""The prediction service's FastAPI app: wiring only.

Every decision is scored by the compiled scorer (the registered pipeline's own parameters),
explained exactly, written durably to the decision log, then answered (``decide.py``). Access
needs an API key with the right role (``auth.py``, ``dependencies.py``) unless dev runs open.
The endpoints are in ``routes.py``, the models in ``schemas.py``, the live parts in
``service.py``; ``create_app`` assembles them.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from ..settings import Settings, get_settings
from . import errors
from .errors import JsonResponse
from .middleware import ServingMiddleware
from .routes import add_routes
from .schemas import body_doc
from .service import Service
from .versions import VersionSource

log = logging.getLogger(__name__)

API_KEY_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "X-API-Key",
    "description": "An API key (roles: predict, admin)",
}


def _lifespan(service: Service) -> Callable[[FastAPI], Any]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The decision-log thread must get the GIL back quickly after each sync: a short
        # switch interval keeps it from waiting out the event loop's 5 ms default slice.
        sys.setswitchinterval(0.0005)
        if service.auth.open:
            log.warning("dev: API is open, no keys configured (APP_SERVING__API_KEYS)")
        service.start()
        # Imports and the model are long-lived: keep the collector from rescanning them on
        # every collection, and collect the young generation less often (fewer pauses).
        gc.freeze()
        gc.set_threshold(20_000, 50, 100)
        try:
            yield
        finally:
            await service.stop()  # after uvicorn drained in-flight requests

    return lifespan


def document(app: FastAPI, schemas: dict[str, Any]) -> None:
    """Serve an OpenAPI with the body's component ``schemas`` and the API key scheme."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {}).update(schemas)
            components["securitySchemes"] = {"APIKeyHeader": API_KEY_SCHEME}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None, versions: VersionSource | None = None) -> FastAPI:
    settings = settings or get_settings()
    service = Service(settings, versions)
    app = FastAPI(
        title=settings.model.name,
        version="0.1.0",
        description=(
            "Scores one row or a batch with the registered model, explains each decision "
            "exactly and records it in the durable decision log before answering."
        ),
        lifespan=_lifespan(service),
        default_response_class=JsonResponse,
    )
    app.state.service = service
    app.state.shadow = service.shadow
    doc, schemas = body_doc(service.body)
    add_routes(app.router, doc)
    errors.install(app)
    app.add_middleware(
        ServingMiddleware,
        metrics=service.metrics,
        routes={r.path for r in app.routes if isinstance(r, APIRoute)},
        max_body=settings.serving.max_body_bytes,
        timeout_s=settings.serving.request_timeout_s,
        inflight=service.inflight,
    )
    document(app, schemas)
    return app
