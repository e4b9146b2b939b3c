"""The prediction service."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Body, FastAPI, Request
from fastapi.responses import ORJSONResponse
from pydantic import BaseModel, Field

from ..monitoring.window import PredictionWindow
from ..settings import Settings, get_settings
from .contract import Features
from .model_state import ModelState
from .scorer import top_contributions


class Batch(BaseModel):
    rows: list[Features] = Field(..., min_length=1)  # type: ignore[valid-type]


class Prediction(BaseModel):
    prediction: int
    probability: float
    explanation: dict[str, float]


class PredictResponse(BaseModel):
    request_id: str
    model_name: str
    model_version: str
    predictions: list[Prediction]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    state = ModelState()
    window = PredictionWindow(
        settings.path(settings.monitoring.window_path),
        settings.monitoring.window_rows,
        settings.monitoring.sample_rate,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.load(settings)
        state.watch(settings)  # follows the alias: promote/rollback apply without a restart
        yield
        await state.stop()

    app = FastAPI(
        title=settings.model.name,
        version="0.1.0",
        lifespan=lifespan,
        default_response_class=ORJSONResponse,
    )
    app.state.model = state

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", responses={503: {"description": "No model loaded, with the reason"}})
    async def ready() -> Any:
        if state.current is None:
            return ORJSONResponse({"status": "not ready", "reason": state.reason}, status_code=503)
        return {"status": "ready", "model_version": state.current.ref.version}

    @app.get("/metadata", responses={503: {"description": "No model loaded, with the reason"}})
    async def metadata() -> Any:
        loaded = state.current
        if loaded is None:
            return ORJSONResponse({"status": "not ready", "reason": state.reason}, status_code=503)
        ref = loaded.ref
        keep = ("git.sha", "model_sha256", "gate.verdict", "production.at")
        return {
            "model_name": ref.name,
            "model_version": ref.version,
            "alias": ref.alias,
            "run_id": ref.run_id,
            "loaded_at": loaded.loaded_at,
            "tags": {k: v for k, v in ref.tags.items() if k in keep},
        }

    @app.post("/predict", response_model=PredictResponse)
    async def predict(
        request: Request,
        body: Annotated[Features | Batch, Body()],  # type: ignore[valid-type]
    ) -> Any:
        loaded = state.current
        if loaded is None:
            return ORJSONResponse({"detail": state.reason}, status_code=503)
        rows: list[BaseModel] = body.rows if isinstance(body, Batch) else [body]
        if len(rows) > settings.serving.max_batch_rows:
            return ORJSONResponse(
                {"detail": f"rows: at most {settings.serving.max_batch_rows} rows per request"},
                status_code=413,
            )
        records = [r.__dict__ for r in rows]
        scores = loaded.scorer.score(records)
        window.record(records, scores.probability.tolist(), loaded.ref.version)
        return {
            "request_id": request.headers.get("x-request-id") or uuid.uuid4().hex,
            "model_name": loaded.ref.name,
            "model_version": loaded.ref.version,
            "predictions": [
                {
                    "prediction": int(p >= 0.5),
                    "probability": float(p),
                    "explanation": top_contributions(scores.contributions[i]),
                }
                for i, p in enumerate(scores.probability)
            ],
        }

    return app
