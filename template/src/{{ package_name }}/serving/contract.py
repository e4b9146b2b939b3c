"""Request models derived from the data contract, so the API cannot drift from training.

Each feature column of ``PilotSchema`` becomes a field with the same type, bounds and
allowed categories; nothing here repeats a range or a category list.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, create_model
from pydantic.config import JsonDict

from ..data.schema import FEATURES, PilotSchema

_PY_TYPES: dict[str, type] = {"int64": int, "float64": float, "str": str, "object": str}


def _field(column: Any) -> tuple[Any, Any]:
    py_type: Any = _PY_TYPES.get(str(column.dtype), str)
    bounds: dict[str, Any] = {}
    for check in column.checks:
        stats = check.statistics or {}
        if check.name == "greater_than_or_equal_to":
            bounds["ge"] = stats["min_value"]
        elif check.name == "less_than_or_equal_to":
            bounds["le"] = stats["max_value"]
        elif check.name == "isin":
            py_type = Literal[tuple(stats["allowed_values"])]
    if py_type is float:
        bounds["allow_inf_nan"] = False
    # JSON numbers only, as the schema says: no "42" and no true; 60.0 is an integer.
    if py_type is float:
        py_type = Annotated[float, Strict()]
    elif py_type is int:
        py_type = Annotated[int, BeforeValidator(_json_number)]
    return py_type, Field(..., **bounds)


def _json_number(value: Any) -> Any:
    if value.__class__ is int or value.__class__ is float:  # not bool, not str
        return value
    raise ValueError("must be a JSON number")


def _build_features_model() -> type[BaseModel]:
    columns = PilotSchema.to_schema().columns
    fields = {name: _field(columns[name]) for name in FEATURES}
    example: JsonDict = {
        "age": 42,
        "tenure_months": 18,
        "monthly_spend": 79.5,
        "support_tickets": 3,
        "plan": "basic",
        "region": "south",
    }
    return create_model(  # type: ignore[call-overload, no-any-return]
        "Features",
        __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": [example]}),
        **fields,
    )


Features = _build_features_model()
