"""Request models derived from the data contract, so the API cannot drift from training.

Each feature column of ``PilotSchema`` becomes a field with the same type, bounds and
allowed categories; nothing here repeats a range or a category list. A request may also carry
the contract's entity key and event time (optional): they are logged so outcomes can be joined
to decisions later, and are never model inputs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    create_model,
)
from pydantic.config import JsonDict

from ..data.samples import checks, sample_features
from ..data.schema import FEATURES, KEY, TIME, PilotSchema

_PY_TYPES: dict[str, type] = {"int64": int, "float64": float, "str": str, "object": str}


def _field(name: str, column: Any) -> tuple[Any, Any]:
    py_type: Any = _PY_TYPES.get(str(column.dtype), str)
    stated = checks(name)  # the contract's bounds and categories, read in one place
    bounds: dict[str, Any] = {k: stated[k] for k in ("ge", "le") if k in stated}
    if "isin" in stated:
        py_type = Literal[tuple(stated["isin"])]
    if py_type is float:
        bounds["allow_inf_nan"] = False
    # JSON numbers only, as the schema says: no "42" and no true; 60.0 is an integer.
    if py_type is float:
        py_type = Annotated[float, Strict()]
    elif py_type is int:
        py_type = Annotated[int, BeforeValidator(_json_number)]
    return py_type, Field(..., **bounds)


def _join_field(column: Any, py_type: type) -> tuple[Any, Any]:
    """An optional join field (key, event time): logged for outcomes, never a model input."""
    pattern = next(
        ((c.statistics or {}).get("pattern") for c in column.checks if c.name == "str_matches"),
        None,
    )
    extra: dict[str, Any] = {"pattern": pattern} if py_type is str and pattern else {}
    desc = "Optional; recorded in the decision log to join outcomes, never a model input"
    # JSON types as the schema says (strict): a key is a string, an event time an ISO 8601
    # string; pydantic would otherwise read a number as a Unix time.
    typed: Any = Annotated[py_type, Strict(), Field(**extra)]
    if py_type is datetime:
        typed = Annotated[typed, AfterValidator(_in_utc)]
    return typed | None, Field(default=None, description=desc)


def _in_utc(value: datetime) -> datetime:
    """The event time in UTC (a naive one is UTC). Within a day of year 1 or 9999 an offset
    can carry it out of range (0001-01-01T00:00+01:00): it is kept as given, the same instant."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return value


def _integer_key_as_text(value: Any) -> Any:
    return str(value) if value.__class__ is int else value  # not bool


def _json_number(value: Any) -> Any:
    if value.__class__ is int or value.__class__ is float:  # not bool, not str
        return value
    raise ValueError("must be a JSON number")


def _build_features_model() -> type[BaseModel]:
    columns = PilotSchema.to_schema().columns
    fields = {name: _field(name, columns[name]) for name in FEATURES}
    if KEY is not None:
        fields[KEY] = _join_field(columns[KEY], str)
        if str(columns[KEY].dtype).startswith("int"):
            # A table keyed by integers: callers send the key as a JSON integer or as text;
            # it is logged as text either way, as outcomes name it.
            typed, info = fields[KEY]
            fields[KEY] = (Annotated[typed, BeforeValidator(_integer_key_as_text)], info)
    if TIME is not None:
        fields[TIME] = _join_field(columns[TIME], datetime)
    example: JsonDict = sample_features()
    return create_model(  # type: ignore[call-overload, no-any-return]
        "Features",
        __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": [example]}),
        **fields,
    )


Features = _build_features_model()
