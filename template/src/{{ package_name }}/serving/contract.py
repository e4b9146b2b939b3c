"""Request models derived from the data contract, so the API cannot drift from training.

Each feature column of ``PilotSchema`` becomes a field with the same type, bounds and
allowed categories; nothing here repeats a range or a category list. A request may also carry
the contract's entity key and event time (optional): they are logged so outcomes can be joined
to decisions later, and are never model inputs.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    WithJsonSchema,
    create_model,
)
from pydantic.config import JsonDict

from ..data.roles import TIME_FORMAT
from ..data.samples import checks, sample_features
from ..data.schema import FEATURES, KEY, TIME, PilotSchema

_PY_TYPES: dict[str, type] = {"int64": int, "float64": float, "str": str, "object": str}


def _field(name: str, column: Any) -> tuple[Any, Any]:
    py_type: Any = _PY_TYPES.get(str(column.dtype), str)
    stated = checks(name)  # the contract's bounds and categories, read in one place
    bounds: dict[str, Any] = {k: stated[k] for k in ("ge", "le") if k in stated}
    if "isin" in stated:
        py_type = category_type(tuple(stated["isin"]))
    if py_type is float:
        bounds["allow_inf_nan"] = False
    # JSON numbers only, as the schema says: no "42" and no true; 60.0 is an integer.
    if py_type is float:
        py_type = Annotated[float, Strict()]
    elif py_type is int:
        py_type = Annotated[int, BeforeValidator(_json_number)]
    if column.default is not None:
        # Ingest fills a missing value with the contract's default before validating
        # (pandera's set_default, data/quality.py): a null or an omitted field here becomes that
        # default and is then checked like any sent value, so serving scores what training saw.
        fill = _as_type(column.default, py_type)
        filled: Any = Annotated[py_type | None, BeforeValidator(_filled_with(fill))]
        return filled, Field(default=fill, validate_default=True, **bounds)
    if column.nullable and "isin" in stated:
        # Nullable without a default: the contract keeps the missing category, so does the API
        # (scored as no known category, the encoder's handle_unknown="ignore").
        return py_type | None, Field(..., **bounds)
    if column.nullable:
        # A missing number with nothing to fill it would make every score NaN: refused, naming
        # the way out (a default in the contract, as `data adopt` writes for such columns).
        return Annotated[py_type, BeforeValidator(_no_missing_number)], Field(..., **bounds)
    return py_type, Field(..., **bounds)


def category_type(values: tuple[Any, ...]) -> Any:
    """One of the contract's categories. Where they are booleans as text ("False", "True":
    a CSV's booleans as pandas reads them, which is how `data adopt` records them), the JSON
    booleans a caller holding the table in pandas sends are those categories too, and the
    schema says so; a number is not. One validator, so a refusal names the field alone."""
    named: Any = Literal[values]
    flags = [value == "True" for value in values if value in ("False", "True")]
    if not flags:
        return named
    stated = {
        "anyOf": [
            {"enum": list(values), "type": "string"},
            {"enum": flags, "type": "boolean"},
        ]
    }
    return Annotated[named, BeforeValidator(_flag_as_text(flags)), WithJsonSchema(stated)]


def _flag_as_text(flags: list[bool]) -> Any:
    def as_text(value: Any) -> Any:  # a bool that is one of the categories; 1 is not True
        return str(value) if isinstance(value, bool) and value in flags else value

    return as_text


def _no_missing_number(value: Any) -> Any:
    if value is None:
        raise ValueError("missing, and the contract sets no default to fill it")
    return value


def _as_type(default: Any, py_type: Any) -> Any:
    """The default as the JSON type the field checks: 40 for a float field is 40.0."""
    if isinstance(default, bool):
        return default
    if isinstance(default, int | float) and _base(py_type) is float:
        return float(default)
    if isinstance(default, float) and _base(py_type) is int and default.is_integer():
        return int(default)
    return default


def _base(py_type: Any) -> Any:
    return getattr(py_type, "__origin__", py_type)


def _filled_with(fill: Any) -> Any:
    def filled(value: Any) -> Any:
        return fill if value is None else value

    return filled


def _join_field(column: Any, py_type: type) -> tuple[Any, Any]:
    """An optional join field (key, event time): logged for outcomes, never a model input."""
    desc = "Optional; recorded in the decision log to join outcomes, never a model input"
    typed = time_type(TIME_FORMAT) if py_type is datetime else key_type(column)
    return typed | None, Field(default=None, description=desc)


def key_type(column: Any) -> Any:
    """The entity key: text, matching the contract's pattern if it states one. A table keyed
    by integers takes a JSON integer too, and the schema says both; the key is logged as text
    either way, as outcomes name it. JSON types as the schema says (strict): no 1.0, no true."""
    pattern = next(
        ((c.statistics or {}).get("pattern") for c in column.checks if c.name == "str_matches"),
        None,
    )
    extra: dict[str, Any] = {"pattern": pattern} if pattern else {}
    typed: Any = Annotated[str, Strict(), Field(**extra)]
    if not str(column.dtype).startswith("int"):
        return typed
    stated = {"anyOf": [{"type": "string"} | extra, {"type": "integer"}]}
    return Annotated[typed, BeforeValidator(_integer_key_as_text), WithJsonSchema(stated)]


def time_type(local_form: str | None) -> Any:
    """The event time: ISO 8601 text, or the table's own local form when the contract records
    one (``"%m/%d/%Y %H:%M:%S"``, data/roles.py), so the rows a table holds are the rows the API
    takes. A date is midnight, a naive time UTC; text only, never a Unix number."""
    pattern = local_pattern(local_form) if local_form else None
    if local_form is None or pattern is None:
        return Annotated[datetime, BeforeValidator(_time_text), AfterValidator(_in_utc)]
    written = re.compile(pattern[1:-1])  # the schema's pattern, unanchored for fullmatch
    form = local_form

    def either(value: Any) -> Any:
        if isinstance(value, str) and written.fullmatch(value):
            return datetime.strptime(value, form)
        return _time_text(value, f", or a time written as {form}")

    stated = {
        "anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "pattern": pattern}]
    }
    return Annotated[
        datetime, BeforeValidator(either), AfterValidator(_in_utc), WithJsonSchema(stated)
    ]


def _in_utc(value: datetime) -> datetime:
    """The event time in UTC (a naive one is UTC). Within a day of year 1 or 9999 an offset
    can carry it out of range (0001-01-01T00:00+01:00): it is kept as given, the same instant."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return value


# A date, then optionally a time (T or a space) and an offset: pydantic would also read a
# string of digits ("0", "1325376000") as a Unix time, which the schema does not allow.
_TIME_TEXT = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"(?P<time>[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?)?"
)


# A local form's pieces, with each month's own days so that the schema's pattern admits exactly
# the dates that exist (a pattern admitting 31/02 would promise what the API then refuses).
_MONTH_DAYS = (
    (r"0?[13578]|1[02]", r"0?[1-9]|[12][0-9]|3[01]"),
    (r"0?[469]|11", r"0?[1-9]|[12][0-9]|30"),
    (r"0?2", r"0?[1-9]|1[0-9]|2[0-8]"),
)
_YEAR = r"[0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000"  # 0001-9999
_LEAP_YEAR = r"[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00"
_CLOCK = {"%H": r"[01]?[0-9]|2[0-3]", "%M": r"[0-5]?[0-9]", "%S": r"[0-5]?[0-9]"}
_SPECIAL = set(".^$*+?()[]{}|\\")


def local_pattern(local_form: str) -> str | None:
    """The regular expression (JSON Schema's, anchored) of the text ``local_form`` writes: the
    forms `data adopt` records (day, month and year in any order, a clock to the minute or
    second). None for any other directive: the API then takes ISO 8601 only."""
    parts = [p for p in re.split(r"(%.)", local_form) if p]
    directives = [p for p in parts if p.startswith("%") and p != "%%"]
    if sorted(d for d in directives if d not in _CLOCK) != ["%Y", "%d", "%m"]:
        return None
    if len(set(directives)) != len(directives):
        return None

    def spelled(month: str, day: str, year: str) -> str:
        pieces = {"%Y": year, "%m": month, "%d": day} | _CLOCK
        return "".join(
            f"(?:{pieces[p]})" if p in pieces else _literal("%" if p == "%%" else p) for p in parts
        )

    cases = [spelled(month, day, _YEAR) for month, day in _MONTH_DAYS]
    cases.append(spelled(r"0?2", "29", _LEAP_YEAR))
    return "^(?:" + "|".join(cases) + ")$"


def _literal(text: str) -> str:
    return "".join("\\" + c if c in _SPECIAL else c for c in text)


def _time_text(value: Any, or_else: str = "") -> Any:
    found = _TIME_TEXT.fullmatch(value.strip()) if isinstance(value, str) else None
    if found is None:
        raise ValueError(f"must be an ISO 8601 date or datetime string{or_else}")
    return found[0] if found["time"] else f"{found[0]}T00:00:00"  # a date: midnight


def _integer_key_as_text(value: Any) -> Any:
    return str(value) if value.__class__ is int else value  # not a bool, not 1.0


def _json_number(value: Any) -> Any:
    if value.__class__ is int or value.__class__ is float:  # not bool, not str
        return value
    raise ValueError("must be a JSON number")


def _build_features_model() -> type[BaseModel]:
    columns = PilotSchema.to_schema().columns
    fields = {name: _field(name, columns[name]) for name in FEATURES}
    if KEY is not None:
        fields[KEY] = _join_field(columns[KEY], str)
    if TIME is not None:
        fields[TIME] = _join_field(columns[TIME], datetime)
    example: JsonDict = sample_features()
    return create_model(  # type: ignore[call-overload, no-any-return]
        "Features",
        __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": [example]}),
        **fields,
    )


Features = _build_features_model()
