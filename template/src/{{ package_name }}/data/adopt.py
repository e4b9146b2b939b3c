"""Adopt a real table: infer the data contract, the fixture profile and the pilot's config.

``infer_contract`` reads a frame and decides, column by column, what each one is (key,
label, time, PII, protected attribute, feature, or dropped) and why; ``render_*`` turn the
decisions into ``data/schema.py``, ``data/profile.json`` and ``config/pilot.toml``; ``adopt``
does all of it and writes only when every check passed. No real value leaves the table except what a
contract must hold: value ranges, low-cardinality category sets and distribution summaries.
Free text, ids and PII values never reach a written file.
"""

from __future__ import annotations

import contextlib
import json
import keyword
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from string import Template
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from .. import atomic
from ..settings import PROJECT_ROOT, SourceName, get_settings
from .errors import DataError

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[Task, ...] = ("binary", "multiclass", "regression")
MIN_ROWS = 100  # fewer rows cannot hold a training split, a holdout and judged slices
MAX_CATEGORIES = 50  # more distinct strings than this are free text, not a category set
MAX_CLASSES = 20  # an integer label with more values than this is a regression target
MAX_SLICE_GROUPS = 12  # a gate slice with more groups than this is too thin to judge
MARGIN = 0.1  # value ranges widen by this share of the observed range
SAMPLE = 2000  # rows examined for content patterns
QUANTILES = 21  # points of each numeric distribution kept in the profile

PROTECTED_NAMES = {
    "gender": "gender",
    "sex": "sex",
    "age": "age",
    "race": "race",
    "ethnicity": "ethnicity",
    "ethnic": "ethnicity",
    "religion": "religion",
    "religious": "religion",
    "nationality": "nationality",
    "citizenship": "nationality",
    "disability": "disability",
    "disabled": "disability",
    "marital": "marital status",
}
PII_NAMES = {
    "email": "email",
    "mail": "email",
    "phone": "phone",
    "mobile": "phone",
    "telephone": "phone",
    "name": "name",
    "firstname": "name",
    "lastname": "name",
    "surname": "name",
    "fullname": "name",
    "address": "address",
    "street": "address",
    "postcode": "address",
    "zip": "address",
    "ssn": "id",
    "passport": "id",
    "iban": "iban",
    "card": "card",
    "ip": "id",
}
PATTERNS = {  # content patterns, judged on the non-null values
    "email": re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"),
    "phone": re.compile(r"^\+?[\d\s().-]{7,20}$"),
    "iban": re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9 ]{11,30}$"),
    "card": re.compile(r"^(?:\d[ -]?){13,19}$"),
    "name": re.compile(r"^[A-Z][a-z'-]+(?: [A-Z][a-z'-]+)+$"),
}
PII_REASONS = {
    "email": "values look like e-mail addresses",
    "phone": "values look like phone numbers",
    "iban": "values look like IBANs",
    "card": "values look like card numbers",
    "name": "values look like personal names",
    "id": "values are unique free-text identifiers",
}
# Hashed PII still joins across tables; what nobody should join on is dropped.
PII_ACTIONS = {"email": "hash", "phone": "hash", "id": "hash"}
RESERVED = {"config", "validate", "to_schema", "columns", "index"}


class AdoptError(DataError):
    """Why a table cannot be adopted, as one line naming the column and the problem."""


@dataclass(frozen=True)
class Column:
    """One contract column, with the decision that made it."""

    name: str  # contract name: a Python identifier
    source: str  # the name in the user's table
    role: str  # key, label, time, pii, protected, feature
    dtype: str  # int, float, str, datetime
    kind: str | None = None  # numeric or categorical, for features
    nullable: bool = False
    ge: float | None = None
    le: float | None = None
    categories: list[Any] | None = None
    default: Any = None  # fills missing values before validation
    unique: bool = False
    pii: str | None = None  # the PII kind, for PII columns
    reason: str = ""
    action: str = ""


@dataclass(frozen=True)
class Decision:
    column: str
    what: str
    reason: str
    action: str

    def line(self) -> str:
        return f"{self.column}: {self.what} ({self.reason}) -> {self.action}"


@dataclass
class Adoption:
    """What adopt decided: the contract, its reasons, the profile and the config."""

    task: Task
    rows: int
    columns: list[Column]
    decisions: list[Decision] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)
    slices: list[str] = field(default_factory=list)

    @property
    def renames(self) -> dict[str, str]:
        return {c.source: c.name for c in self.columns if c.source != c.name}

    def of(self, role: str) -> list[Column]:
        return [c for c in self.columns if c.role == role]


# ---- reading ----------------------------------------------------------------------------


def read_table(source: str, table: str | None = None) -> pd.DataFrame:
    """The user's table from a CSV or Parquet file, or a SQLAlchemy URL with a table name."""
    if "://" in source:
        if not table:
            raise AdoptError(f"source {_safe(source)}: a database URL needs --table")
        import sqlalchemy as sa

        try:
            engine = sa.create_engine(source)
            with engine.connect() as conn:
                if not sa.inspect(conn).has_table(table):
                    raise AdoptError(f"source {_safe(source)}: table '{table}' does not exist")
                frame = pd.read_sql_table(table, conn)
            engine.dispose()
        except (sa.exc.SQLAlchemyError, ImportError) as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            raise AdoptError(f"source {_safe(source)}: cannot read ({reason})") from None
        return frame
    path = Path(source)
    if not path.is_file():
        raise AdoptError(f"source {source}: file does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise AdoptError(f"source {source}: not readable ({reason})") from None
    except OSError as exc:
        raise AdoptError(f"source {source}: not readable ({exc.strerror})") from None
    raise AdoptError(f"source {source}: unsupported file type (expected .csv or .parquet)")


def _safe(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1@", url)


# ---- deciding ---------------------------------------------------------------------------


def identifier(name: str, taken: set[str]) -> str:
    """A lowercase Python identifier for a column name (``Order Total`` -> ``order_total``)."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(name).strip())
    out = re.sub(r"[^0-9a-zA-Z]+", "_", snake).strip("_").lower() or "column"
    if out[0].isdigit():
        out = f"c_{out}"
    if keyword.iskeyword(out) or out in RESERVED:
        out += "_"
    base, n = out, 2
    while out in taken:
        out, n = f"{base}_{n}", n + 1
    taken.add(out)
    return out


def _tokens(name: str) -> list[str]:
    return [t for t in name.split("_") if t]


def _name_hint(name: str, table: dict[str, str]) -> str | None:
    tokens = _tokens(name)
    joined = "".join(tokens)
    for token in [*tokens, joined]:
        if token in table:
            return table[token]
        for stem, meaning in table.items():
            if len(stem) > 4 and token.startswith(stem):
                return meaning
    return None


def _share_matching(values: pd.Series, pattern: re.Pattern[str]) -> float:
    text = values.dropna().astype(str).str.strip().head(SAMPLE)
    return float(text.map(lambda v: bool(pattern.match(v))).mean()) if len(text) else 0.0


def _pii_by_content(values: pd.Series) -> str | None:
    if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
        return None
    for kind in ("email", "iban", "card", "phone", "name"):
        if _share_matching(values, PATTERNS[kind]) >= 0.8:
            return kind
    return None


def _as_time(values: pd.Series) -> pd.Series | None:
    """The column as datetimes when its dtype is one, or every text value is an ISO time."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    if not pd.api.types.is_object_dtype(values) and not pd.api.types.is_string_dtype(values):
        return None
    text = values.dropna().astype(str)
    if text.empty or not text.str.match(r"^\d{4}-\d{2}-\d{2}").all():
        return None
    parsed = pd.to_datetime(values, errors="coerce", format="ISO8601", utc=True)
    return parsed if parsed.notna().sum() == len(text) else None


def _kind_of(name: str, values: pd.Series) -> str:
    """int, float, bool, str or datetime; anything else cannot be a contract column."""
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_integer_dtype(values):
        return "int"
    if pd.api.types.is_float_dtype(values):
        present = values.dropna()
        integral = bool(len(present)) and bool(np.all(np.mod(present, 1) == 0))
        return "int" if integral and not values.isna().any() else "float"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "datetime"
    if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
        kinds = {type(v) for v in values.dropna().head(SAMPLE)}
        if kinds <= {str}:
            return "str"
        if kinds <= {bool}:
            return "bool"
        what = ", ".join(sorted(k.__name__ for k in kinds))
        raise AdoptError(f"column '{name}': unsupported type ({what} values)")
    raise AdoptError(f"column '{name}': unsupported type ({values.dtype})")


def _bounds(values: pd.Series, integer: bool) -> tuple[float, float]:
    lo, hi = float(values.min()), float(values.max())
    pad = max((hi - lo) * MARGIN, 1.0 if integer else abs(hi) * MARGIN or 1.0)
    ge, le = lo - pad, hi + pad
    if lo >= 0 > ge:
        ge = 0.0  # a non-negative quantity stays non-negative
    if integer:
        return float(np.floor(ge)), float(np.ceil(le))
    return _round(ge), _round(le)


def _round(x: float) -> float:
    return float(f"{x:.6g}")


def _categories(values: pd.Series) -> list[str]:
    return sorted(str(v) for v in values.dropna().unique())


def infer_task(values: pd.Series, kind: str) -> Task:
    present = values.dropna()
    distinct = present.nunique()
    if kind in {"str", "bool"}:
        return "multiclass"
    if kind == "int" and set(present.unique()) <= {0, 1}:
        return "binary"
    if kind == "int" and distinct <= MAX_CLASSES:
        return "multiclass"
    return "regression"


def _label(name: str, source: str, values: pd.Series, task: Task | None) -> tuple[Column, Task]:
    kind = _kind_of(source, values)
    present = values.dropna()
    if present.nunique() < 2:
        raise AdoptError(f"label '{source}': constant (one value in every row); nothing to learn")
    inferred = infer_task(values, kind)
    chosen = task or inferred
    why = "given by --task" if task else _task_reason(inferred, present)
    if chosen == "binary":
        if not set(present.unique()) <= {0, 1}:  # True == 1, False == 0
            raise AdoptError(f"label '{source}': --task binary needs 0/1 values; recode it")
        col = Column(name, source, "label", "int", categories=[0, 1], reason=why)
    elif chosen == "multiclass":
        if present.nunique() > MAX_CLASSES * 5:
            raise AdoptError(f"label '{source}': {present.nunique()} classes; too many to learn")
        if kind in {"int", "float"}:
            classes: list[Any] = sorted(int(v) for v in present.unique())
            col = Column(name, source, "label", "int", categories=classes, reason=why)
        else:
            col = Column(name, source, "label", "str", categories=_categories(present), reason=why)
    else:
        if kind not in {"int", "float"}:
            raise AdoptError(f"label '{source}': --task regression needs numeric values")
        ge, le = _bounds(present, integer=False)
        col = Column(name, source, "label", "float", ge=ge, le=le, reason=why)
    missing = int(values.isna().sum())
    action = f"label, task {chosen}"
    if missing:
        action += f"; {missing} rows without it are quarantined"
    return Column(**{**col.__dict__, "action": action}), chosen


def _task_reason(task: Task, present: pd.Series) -> str:
    if task == "binary":
        return "values are 0 and 1"
    if task == "multiclass":
        return f"{present.nunique()} distinct values"
    return "numeric values with many distinct values"


def _feature(name: str, source: str, values: pd.Series, kind: str) -> Column:
    nullable = bool(values.isna().any())
    present = values.dropna()
    if kind in {"int", "float"}:
        integer = kind == "int"
        ge, le = _bounds(present, integer)
        default: float | None = None
        if nullable:
            median = float(present.median())
            default = float(np.round(median)) if integer else _round(median)
        return Column(
            name,
            source,
            "feature",
            "float" if nullable and integer else kind,
            kind="numeric",
            ge=ge,
            le=le,
            default=default,
            reason=f"{kind} values" + (", missing ones filled with the median" * nullable),
            action="numeric feature",
        )
    categories = _categories(present.astype(str))
    fill: str | None = None
    if nullable:
        fill = "missing" if "missing" not in categories else "_missing"
        categories = sorted([*categories, fill])
    return Column(
        name,
        source,
        "feature",
        "str",
        kind="categorical",
        categories=categories,
        default=fill,
        reason=f"{present.nunique()} categories" + (", missing ones kept as a category" * nullable),
        action="categorical feature",
    )


@dataclass(frozen=True)
class Roles:
    label: str
    task: Task | None = None
    key: str | None = None
    time: str | None = None
    pii: tuple[str, ...] = ()
    protected: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls,
        label: str,
        task: str | None,
        key: str | None,
        time: str | None,
        pii: list[str],
        protected: list[str],
    ) -> Roles:
        if task is not None and task not in TASKS:
            raise AdoptError(f"--task {task}: choose one of {', '.join(TASKS)}")
        chosen = next((t for t in TASKS if t == task), None)
        return cls(label, chosen, key, time, tuple(pii), tuple(protected))


def _check_roles(frame: pd.DataFrame, columns: list[str], roles: Roles) -> None:
    for given, flag in [
        (roles.label, "--label"),
        (roles.key, "--key"),
        (roles.time, "--time"),
        *[(c, "--pii") for c in roles.pii],
        *[(c, "--protected") for c in roles.protected],
    ]:
        if given is not None and given not in columns:
            shown = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
            raise AdoptError(f"{flag} {given}: no such column (columns: {shown})")
    if len(frame) < MIN_ROWS:
        raise AdoptError(f"table: {len(frame)} rows; adopt needs at least {MIN_ROWS}")


def _key_column(frame: pd.DataFrame, names: dict[str, str], roles: Roles) -> Column | None:
    key = roles.key or _guess_key(frame, names, exclude={roles.label})
    if key is None:
        return None
    values = frame[key]
    dupes = int(values.duplicated().sum())
    if dupes:
        raise AdoptError(f"key '{key}': not unique ({dupes} duplicate values)")
    if values.isna().any():
        raise AdoptError(f"key '{key}': {int(values.isna().sum())} rows have no key")
    why = "given by --key" if roles.key else "an id-like name with a unique value per row"
    dtype = "int" if _kind_of(key, values) == "int" else "str"
    return Column(names[key], key, "key", dtype, unique=True, reason=why, action="key")


def _time_columns(
    frame: pd.DataFrame, candidates: list[str], roles: Roles
) -> tuple[str | None, dict[str, pd.Series]]:
    """The event-time column (given or the first date-time one) and every parsed date-time."""
    parsed: dict[str, pd.Series] = {}
    for c in candidates:
        t = _as_time(frame[c])
        if t is not None:
            parsed[c] = t
    if roles.time is not None and roles.time not in parsed:
        raise AdoptError(f"--time {roles.time}: values are not date-times")
    return roles.time or next(iter(parsed), None), parsed


# What one column becomes: a contract column (with how its decision names the role) or a
# decision to leave it out.
Verdict = tuple[Column, str | None] | Decision


def _classify(c: str, name: str, values: pd.Series, roles: Roles) -> Verdict:
    """The role of a column that is neither the label, the key nor a date-time."""
    kind = _kind_of(c, values)
    pii = _pii_kind(c, name, values, kind, roles)
    if pii is not None:
        pii_kind, why = pii
        action = "hashed" if PII_ACTIONS.get(pii_kind, "drop") == "hash" else "dropped"
        pii_column = Column(name, c, "pii", "str", nullable=True, pii=pii_kind, reason=why)
        return replace(pii_column, action=action), "PII"
    if c in roles.protected or _name_hint(name, PROTECTED_NAMES) is not None:
        meaning = _name_hint(name, PROTECTED_NAMES) or "given by --protected"
        why = "given by --protected" if c in roles.protected else f"the name says {meaning}"
        return _protected(name, c, values, kind, why), "protected"
    if kind == "bool":
        values = values.map(lambda v: None if pd.isna(v) else str(bool(v)))
        kind = "str"
    distinct = values.nunique()
    if kind == "str" and (distinct > MAX_CATEGORIES or distinct > 0.5 * values.notna().sum()):
        why = f"{distinct} distinct strings; too many for a category set"
        return Decision(c, "free text", why, "dropped")
    return _feature(name, c, values, kind), None


def infer_contract(frame: pd.DataFrame, roles: Roles) -> Adoption:
    """Decide the contract for ``frame``; raises ``AdoptError`` on the first refusal."""
    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    _check_roles(frame, columns, roles)
    taken: set[str] = set()
    names = {c: identifier(c, taken) for c in columns}
    out: list[Column] = []
    decisions: list[Decision] = []

    def decide(col: Column, what: str | None = None) -> None:
        out.append(col)
        shown = col.source if col.source == col.name else f"{col.source} (as {col.name})"
        decisions.append(Decision(shown, what or col.role, col.reason, col.action))

    label, task = _label(names[roles.label], roles.label, frame[roles.label], roles.task)
    decide(label, "label")
    key = _key_column(frame, names, roles)
    if key is not None:
        decide(key)
    rest = [c for c in columns if c not in {roles.label, key.source if key else None}]
    time, parsed_times = _time_columns(frame, rest, roles)
    for c in rest:
        values = frame[c]
        if values.isna().all():
            decisions.append(
                Decision(c, "dropped", "every value is missing", "not in the contract")
            )
        elif c == time:
            why = "given by --time" if roles.time else "date-time values"
            nullable = bool(values.isna().any())
            time_column = Column(names[c], c, "time", "datetime", nullable=nullable, reason=why)
            decide(replace(time_column, action="time"))
        elif c in parsed_times:
            why = "a second date-time column"
            decisions.append(Decision(c, "dropped", why, "not in the contract"))
        else:
            verdict = _classify(c, names[c], values, roles)
            if isinstance(verdict, Decision):
                decisions.append(verdict)
            else:
                decide(*verdict)
    if not any(col.role == "feature" for col in out):
        raise AdoptError(f"table: no feature columns left besides label '{roles.label}'")
    out.sort(key=lambda col: columns.index(col.source))  # the table's own column order
    adoption = Adoption(task=task, rows=len(frame), columns=out, decisions=decisions)
    adoption.slices = _slices(adoption, frame)
    adoption.profile = profile(adoption, frame, parsed_times)
    return adoption


def _guess_key(frame: pd.DataFrame, names: dict[str, str], exclude: set[str]) -> str | None:
    for c, name in names.items():
        tokens = _tokens(name)
        if c in exclude or not tokens or tokens[-1] not in {"id", "key", "uuid"}:
            continue
        values = frame[c]
        if values.notna().all() and not values.duplicated().any():
            return c
    return None


def _pii_kind(
    source: str, name: str, values: pd.Series, kind: str, roles: Roles
) -> tuple[str, str] | None:
    if source in roles.protected:
        return None
    by_content = _pii_by_content(values) if kind == "str" else None
    if source in roles.pii:
        return by_content or "id", "given by --pii"
    if by_content is not None:
        return by_content, PII_REASONS[by_content]
    hint = _name_hint(name, PII_NAMES)
    if hint is not None:  # by name whatever the type: a phone number stored as int is PII too
        return hint, f"the name says {hint}"
    if kind == "str" and values.nunique() > 0.95 * values.notna().sum() > 0:
        text = values.dropna().astype(str)
        one_token = not bool(text.str.contains(r"\s").any())
        if one_token and bool(text.str.contains(r"\d").mean() > 0.8) and text.str.len().max() <= 64:
            return "id", PII_REASONS["id"]
    return None


def _protected(name: str, source: str, values: pd.Series, kind: str, why: str) -> Column:
    nullable = bool(values.isna().any())
    present = values.dropna()
    if kind in {"int", "float"}:
        ge, le = _bounds(present, kind == "int")
        dtype = "float" if nullable or kind == "float" else "int"
        return Column(
            name,
            source,
            "protected",
            dtype,
            nullable=nullable,
            ge=ge,
            le=le,
            reason=why,
            action="never a feature; judged in governance",
        )
    text = present.astype(str)
    cats = _categories(text) if text.nunique() <= MAX_CATEGORIES else None
    return Column(
        name,
        source,
        "protected",
        "str",
        nullable=nullable,
        categories=cats,
        reason=why,
        action="never a feature; fairness slices",
    )


def _slices(adoption: Adoption, frame: pd.DataFrame) -> list[str]:
    """Gate slices: protected categories first, then the coarsest categorical features."""
    chosen = [
        c.name
        for c in adoption.of("protected")
        if c.categories is not None and len(c.categories) <= MAX_SLICE_GROUPS
    ]
    cats = [
        c
        for c in adoption.of("feature")
        if c.kind == "categorical" and len(c.categories or []) <= MAX_SLICE_GROUPS
    ]
    cats.sort(key=lambda c: len(c.categories or []))
    return chosen + [c.name for c in cats[:2]]


# ---- the fixture profile -----------------------------------------------------------------


def profile(adoption: Adoption, frame: pd.DataFrame, times: dict[str, pd.Series]) -> dict[str, Any]:
    """Per-column distribution summaries: enough to generate look-alike rows, no real row."""
    cols: dict[str, Any] = {}
    for c in adoption.columns:
        values = frame[c.source]
        entry: dict[str, Any] = {"role": c.role, "null_share": _round(float(values.isna().mean()))}
        present = values.dropna()
        if c.role == "time":
            t = times[c.source].dropna()
            entry |= {
                "kind": "time",
                "span_days": _round((t.max() - t.min()) / pd.Timedelta(1, "D")),
            }
        elif c.role == "key":
            entry |= {"kind": "key", "dtype": c.dtype}
        elif c.role == "pii":
            entry |= {"kind": "pii", "pii": c.pii}
        elif c.categories is not None:
            shares = present.astype(str).value_counts(normalize=True)
            if c.dtype == "int":
                shares = present.astype(int).astype(str).value_counts(normalize=True)
            entry |= {
                "kind": "categorical",
                "shares": {str(k): _round(float(v)) for k, v in shares.sort_index().items()},
            }
        elif c.dtype in {"int", "float"}:
            qs = np.quantile(present.astype(float), np.linspace(0, 1, QUANTILES))
            entry |= {
                "kind": "numeric",
                "integer": bool(np.all(np.mod(present.astype(float), 1) == 0)),
                "quantiles": [_round(float(q)) for q in qs],
            }
        else:
            entry |= {"kind": "text"}
        cols[c.name] = entry
    return {"rows": adoption.rows, "task": adoption.task, "columns": cols}


# ---- rendering ---------------------------------------------------------------------------

_TYPES = {"int": "int", "float": "float", "str": "str", "datetime": "pd.Timestamp"}


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return repr(float(value))
    return repr(value)


def render_schema(adoption: Adoption, source: str) -> str:
    """``data/schema.py`` for the adoption: readable, commented, the demo contract's API."""
    lists: list[str] = []
    fields: list[str] = []
    for c in adoption.columns:
        args: list[str] = []
        if c.unique:
            args.append("unique=True")
        if c.nullable:
            args.append("nullable=True")
        if c.categories is not None:
            const = f"{c.name.upper()}_VALUES"
            items = "".join(f"    {_literal(v)},\n" for v in c.categories)
            lists.append(f"{const} = [\n{items}]\n")
            args.append(f"isin={const}")
        number = int if c.dtype == "int" else float
        if c.ge is not None:
            args.append(f"ge={_literal(number(c.ge))}")
        if c.le is not None:
            args.append(f"le={_literal(number(c.le))}")
        if c.default is not None:
            args.append(f"default={_literal(c.default)}")
        meta = {"role": c.role} | ({"kind": c.kind} if c.kind else {})
        args.append("metadata=" + json.dumps(meta))
        body = "".join(f"        {a},\n" for a in args)
        comment = f"{c.source}: {c.reason} -> {c.action}"
        fields.append(
            f"    # {_fit(comment, 94)}\n"
            f"    {c.name}: Series[{_TYPES[c.dtype]}] = pa.Field(\n{body}    )\n"
        )
    renames = "".join(f"    {_literal(k)}: {_literal(v)},\n" for k, v in adoption.renames.items())
    empty = "RENAMES: dict[str, str] = {}"
    renames_block = "RENAMES: dict[str, str] = {\n" + renames + "}" if renames else empty
    return _SCHEMA.substitute(
        source=_fit(source, 92),
        rows=adoption.rows,
        task=adoption.task,
        renames=renames_block,
        lists="\n".join(lists) + ("\n\n" if lists else ""),
        fields="".join(fields),
        key=_first("key", adoption),
        pandas="import pandas as pd\n" if adoption.of("time") else "",
        time=_first("time", adoption),
    )


def _first(role: str, adoption: Adoption) -> str:
    if adoption.of(role):
        return f'columns_with("{role}")[0]'
    return "None"


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


_SCHEMA = Template('''"""The data contract, from which training, ingestion and serving derive.

Adopted by `data adopt` from a table of $rows rows:
    $source
Edit it freely: every decision is a comment above its column, and re-running adopt
overwrites this file.
Column metadata marks the role of each column: ``pii`` (never a feature, hashed or dropped),
``protected`` (never a feature, used for fairness slices), ``feature`` (``numeric`` or
``categorical``), ``key``, ``label``, ``time``. ``default`` fills a missing value before the
checks run.
"""

from __future__ import annotations

from typing import Any

${pandas}import pandera.pandas as pa
from pandera.typing import Series

SCHEMA_VERSION = "1"
# What the label is: "binary" (0/1), "multiclass" (a category set) or "regression" (a number).
TASK = "$task"
# Source column name -> contract column name, for source names that are not Python
# identifiers (sources rename on read).
$renames

${lists}class PilotSchema(pa.DataFrameModel):
$fields
    class Config:
        strict = True
        coerce = True


def columns_with(role: str, kind: str | None = None) -> list[str]:
    """Column names whose metadata has the given role (and kind, for features)."""
    out = []
    for name, col in PilotSchema.to_schema().columns.items():
        meta: dict[str, Any] = col.metadata or {}
        if meta.get("role") == role and (kind is None or meta.get("kind") == kind):
            out.append(name)
    return out


NUMERIC_FEATURES = columns_with("feature", "numeric")
CATEGORICAL_FEATURES = columns_with("feature", "categorical")
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES
LABEL = columns_with("label")[0]
KEY: str | None = $key
TIME: str | None = $time
PII_COLUMNS = columns_with("pii")
PROTECTED_COLUMNS = columns_with("protected")
''')


def _toml(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def render_config(adoption: Adoption, source: dict[str, Any]) -> str:
    """``config/pilot.toml``: source, PII policy and gate slices, a comment per decision."""
    lines = [
        "# What this pilot is about, shared by every environment: config/<env>.toml and APP_*",
        "# variables override it. Written by `data adopt`; edit it freely, re-running adopt",
        "# rewrites it (docs/bring-your-own.md).",
        "",
        "[data]",
    ]
    for comment, key, value in source.get("data", []):
        lines += [f"# {comment}", f"{key} = {_toml(value)}"]
    for section, entries in source.get("sections", {}).items():
        lines += ["", f"[{section}]"]
        for comment, key, value in entries:
            lines += [f"# {comment}", f"{key} = {_toml(value)}"]
    lines += ["", "[data.pii]", '# Per PII column: "hash" (HMAC, still joins) or "drop".']
    for c in adoption.of("pii"):
        action = "hash" if c.action == "hashed" else "drop"
        lines += [f"# {c.source}: {c.reason}", f"{c.name} = {_toml(action)}"]
    lines += [
        "",
        "[gate]",
        "# Judged group by group: protected categories, then the coarsest categorical features.",
        f"slices = {_toml(adoption.slices)}",
    ]
    return "\n".join(lines) + "\n"


# ---- writing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Targets:
    schema: Path
    profile: Path
    config: Path


def write(adoption: Adoption, targets: Targets, source: str, config: dict[str, Any]) -> None:
    """Render everything first, then write: a failure leaves the pilot as it was."""
    texts = {
        targets.schema: render_schema(adoption, source),
        targets.profile: json.dumps(adoption.profile, indent=2, sort_keys=True) + "\n",
        targets.config: render_config(adoption, config),
    }
    with contextlib.ExitStack() as stack:  # every file replaced on success, none on a failure
        for path, text in texts.items():
            stack.enter_context(atomic.replacing(path)).write_text(text, encoding="utf-8")


# ---- the whole step ----------------------------------------------------------------------


def source_config(
    source: str,
    table: str | None,
    kinds: tuple[str, ...],
    root: Path,
    local_sql: str | None = None,
) -> tuple[dict[str, Any], list[Decision]]:
    """Where ingestion reads the adopted table from, as config entries with their reasons.

    ``local_sql`` is the pilot's SQL URL when it is a local SQLite file: a file adopted into a
    pilot without a files source is loaded there (``load_into``), so ingest reads real rows.
    """
    data: list[tuple[str, str, Any]] = []
    sections: dict[str, list[tuple[str, str, Any]]] = {}
    notes: list[Decision] = []
    if "://" in source:
        if "sql" not in kinds:
            raise AdoptError(f"source {_safe(source)}: this pilot has no SQL source to read it")
        data += [
            ("The adopted database (credentials belong in APP_DATA__URL)", "url", _safe(source)),
            ("The adopted table", "table", table),
            ("Real data: `data seed` refuses to overwrite it", "real_sources", True),
        ]
        sections["data.sources"] = [("The adopted source", "enabled", ["sql"])]
        notes.append(Decision("source", "SQL table", "a SQLAlchemy URL", "ingest reads it"))
    elif "files" in kinds:
        path = Path(source).resolve()
        shown = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        data.append(("Real data: `data seed` refuses to overwrite it", "real_sources", True))
        sections["data.sources"] = [("The adopted source", "enabled", ["files"])]
        sections["data.sources.files"] = [("The adopted file", "path", shown)]
        notes.append(Decision("source", "file", path.suffix.lower(), "ingest reads it"))
    elif "sql" in kinds and local_sql is not None:
        name = local_table(source)
        data += [
            ("The adopted file, loaded into the pilot's SQLite database", "table", name),
            ("Real data: `data seed` refuses to overwrite it", "real_sources", True),
        ]
        sections["data.sources"] = [("The adopted source", "enabled", ["sql"])]
        why = f"this pilot has no files source; loaded into table {name} of {_safe(local_sql)}"
        notes.append(Decision("source", "file", why, "ingest reads it"))
    else:
        notes.append(
            Decision(
                "source",
                "file",
                "this pilot has no files source",
                f"ingest keeps reading {', '.join(kinds)}; `data seed` fills it with fixture rows",
            )
        )
    return {"data": data, "sections": sections}, notes


def local_table(source: str) -> str:
    """The SQL table an adopted file is loaded into: its file name as an identifier."""
    return identifier(Path(source).stem, set())


def load_into(url: str, name: str, frame: pd.DataFrame) -> None:
    """The adopted rows, as read (source column names), into table ``name`` at ``url``."""
    import sqlalchemy as sa

    if url.startswith("sqlite:///"):  # a fresh pilot has no data/ directory yet
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    try:
        frame.to_sql(name, engine, if_exists="replace", index=False, chunksize=10_000)
    except sa.exc.SQLAlchemyError as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise AdoptError(f"database {_safe(url)}: cannot load table {name} ({reason})") from None
    finally:
        engine.dispose()


def adopt(
    source: str,
    roles: Roles,
    targets: Targets,
    *,
    table: str | None = None,
    kinds: tuple[str, ...] = (),
    root: Path,
    local_sql: str | None = None,
) -> Adoption:
    """Read, decide, render and write; nothing is written unless every step succeeded."""
    config, notes = source_config(source, table, kinds, root, local_sql)
    frame = read_table(source, table)
    adoption = infer_contract(frame, roles)
    adoption.decisions += notes
    shown = f"{_safe(source)}#{table}" if table else Path(source).name
    loads = "://" not in source and "files" not in kinds and "sql" in kinds
    if loads and local_sql is not None:  # before the contract: a failed load writes nothing
        load_into(local_sql, local_table(source), frame)
    write(adoption, targets, shown, config)
    return adoption


def adopt_into_pilot(
    source: str, roles: Roles, *, table: str | None = None, sql_url: str | None = None
) -> tuple[Adoption, list[str]]:
    """``adopt`` into this pilot: its contract, its profile, its config/pilot.toml.

    ``sql_url`` (default: the configured ``data.url``) receives an adopted file when the pilot
    has no files source and the URL is a local SQLite file.
    """
    here = Path(__file__).parent
    targets = Targets(here / "schema.py", here / "profile.json", PROJECT_ROOT / "config/pilot.toml")
    kinds = tuple(str(k) for k in get_args(SourceName))
    if sql_url is None:
        settings = get_settings()
        sql_url = settings.sqlite_abs(settings.data.url)
    local = sql_url if sql_url.startswith("sqlite:///") else None
    adoption = adopt(
        source, roles, targets, table=table, kinds=kinds, root=PROJECT_ROOT, local_sql=local
    )
    written = [_shown(p) for p in (targets.schema, targets.profile, targets.config)]
    return adoption, written


def _shown(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)
