"""The service's request and response models, and the answer's shape for the contract's task.

Row fields come from the data contract (``contract.py``); nothing here repeats a column. The
body of /predict and /explain is one row or ``{"rows": [...]}``, parsed and validated in one
pass by pydantic-core (``body_adapter``).
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter, create_model

from ..data.schema import FEATURES, LABEL, TASK
from ..model.metrics import CLASSES, decide
from ..model.scorer import EXPLAINED, Scores
from .contract import Features

ROW_EXAMPLE = Features.model_json_schema()["examples"][0]
# Illustrative contributions of the first features, for the OpenAPI example only.
_EXAMPLE_EXPLANATION: dict[str, JsonValue] = {
    name: round(1.1 / (i + 1), 2) for i, name in enumerate(FEATURES[:3])
}


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


def answers_of(scores: Scores, threshold: float) -> list[dict[str, Any]]:
    """What the service answers per row (the fields above), for the contract's task."""
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


def body_adapter(max_rows: int) -> TypeAdapter[Any]:
    """The /predict and /explain body: one row, or a batch of at most ``max_rows``."""
    batch: Any = create_model(
        "Batch",
        rows=(
            list[Features],  # type: ignore[valid-type]
            Field(..., min_length=1, max_length=max_rows),
        ),
        __config__={
            "extra": "forbid",
            "json_schema_extra": {"examples": [{"rows": [ROW_EXAMPLE, ROW_EXAMPLE]}]},
        },
    )
    body_type: Any = Features | batch
    return TypeAdapter(body_type)


def body_doc(adapter: TypeAdapter[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The OpenAPI request body of a decision endpoint, and the component schemas it refers to."""
    schema = adapter.json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    examples = {
        "one row": {"summary": "One row", "value": ROW_EXAMPLE},
        "batch": {"summary": "A batch", "value": {"rows": [ROW_EXAMPLE, ROW_EXAMPLE]}},
    }
    content = {"application/json": {"schema": schema, "examples": examples}}
    return {"requestBody": {"required": True, "content": content}}, defs


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
