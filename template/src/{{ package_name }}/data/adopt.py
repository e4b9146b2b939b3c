"""Adopt a real table: infer the data contract, the fixture profile and the pilot's config.

``infer_contract`` reads a frame and decides, column by column, what each one is (key,
label, time, PII, protected attribute, feature, or dropped) and why; ``render_*`` turn the
decisions into ``data/schema.py``, ``data/profile.json`` and ``config/pilot.toml``; ``adopt``
does all of it and writes only when every check passed. A file with more rows than the
inference sample is never read whole: ``BigFile`` draws a seeded sample and counts every row
in a streamed pass (``Whole``), and ingest later reads the file where it lies. No real value
leaves the table except what a contract must hold: value ranges, low-cardinality category
sets and distribution summaries. Free text, ids and PII values never reach a written file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import keyword
import re
import unicodedata
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from string import Template
from time import perf_counter
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import atomic
from ..settings import PROJECT_ROOT, SourceName
from .errors import DataError

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[Task, ...] = ("binary", "multiclass", "regression")
MIN_ROWS = 100  # fewer labeled rows cannot hold a training split, a holdout and judged slices
MAX_CATEGORIES = 50  # more distinct strings than this are free text, not a category set
MAX_CLASSES = 20  # an integer label with more values than this is a regression target
MAX_SLICE_GROUPS = 12  # a gate slice with more groups than this is too thin to judge
MARGIN = 0.1  # value ranges widen by this share of the observed range
SAMPLE = 2000  # rows examined for content patterns
INFER_ROWS = 100_000  # a bigger table's types and roles are inferred from a seeded sample this size
SAMPLE_SEED = 20260101
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
    # Proxies: short or indirect names real tables use for the same attributes.
    "female": "sex",
    "male": "sex",
    "women": "sex",
    "woman": "sex",
    "afam": "race",
    "black": "race",
    "white": "race",
    "hispanic": "ethnicity",
    "latino": "ethnicity",
    "asian": "race",
    "caucasian": "race",
    "minority": "race or ethnicity",
    "single": "marital status",
    "married": "marital status",
    "divorced": "marital status",
    "widowed": "marital status",
    "spouse": "marital status",
    "citizen": "nationality",
    "foreign": "nationality",
    "foreigner": "nationality",
    "immigrant": "nationality",
    "migrant": "nationality",
    "national": "nationality",
    "pregnant": "pregnancy",
    "pregnancy": "pregnancy",
    "maternity": "pregnancy",
    "birth": "age",
    "dob": "age",
    "bday": "age",
    "handicap": "disability",
    "orientation": "sexual orientation",
    "sexual": "sexual orientation",
    "veteran": "veteran status",
}
# Values that say a few-valued column describes a person, whatever its name.
PERSON_VALUES = {
    "sex": {"male", "female", "man", "woman", "men", "women", "nonbinary", "non-binary"},
    "race or ethnicity": {
        "white", "black", "asian", "hispanic", "latino", "caucasian", "cauc", "afam",
        "african american", "african-american", "amer-indian-eskimo", "asian-pac-islander",
    },
    "marital status": {
        "married", "single", "divorced", "widowed", "separated", "never married",
        "never-married", "married-civ-spouse",
    },
    "religion": {"christian", "muslim", "jewish", "hindu", "buddhist", "catholic", "protestant"},
    "nationality": {"citizen", "foreign", "foreigner", "immigrant", "non-citizen"},
}  # fmt: skip
# Label values that mean "yes": the positive class of a binary label, before the minority rule.
YES = {"yes", "y", "true", "t", "1", "positive", "pos", "default", "defaulted", "on", "ja", "si"}
NO = {"no", "n", "false", "f", "0", "negative", "neg", "off", "nein", "non"}
# Cell texts read as missing from a CSV: the settings' defaults, plus markers seen in the file.
NA_DEFAULT = ["", "NA", "N/A", "null", "NULL", "NaN", "nan", "None"]
NA_EXTRA = ["n/a", "#N/A", "<NA>", "?", "Null", "NONE"]
DELIMITERS = [",", ";", "\t", "|"]
# Column names that, with unique integers, are a row's name or number (R's rownames, pandas'
# index written out): the row's identity, never a feature.
ROW_NUMBER_NAMES = {"rownames", "rowname", "index", "row", "rownum", "row_number", "unnamed_0"}
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
# Names a contract field cannot take: the model's own attributes, and the module names the
# schema's class body reads (a field ``pa`` would hide pandera from the fields after it).
RESERVED = {
    "config", "validate", "to_schema", "columns", "index", "example", "strategy", "empty",
    "to_yaml", "to_json", "to_json_schema", "get_metadata", "pa", "pd", "np", "series", "any",
}  # fmt: skip


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


@dataclass(frozen=True)
class CsvFormat:
    """How a CSV file was read: recorded as ``[data.csv]`` so ingest and score read it alike."""

    delimiter: str = ","
    encoding: str = "utf-8"
    na_values: tuple[str, ...] = tuple(NA_DEFAULT)

    def describe(self) -> str:
        shown = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}[self.delimiter]
        extra = [v for v in self.na_values if v not in NA_DEFAULT]
        markers = f"; missing also as {', '.join(repr(v) for v in extra)}" if extra else ""
        return f"{shown}-separated, {self.encoding}{markers}"


@dataclass
class Adoption:
    """What adopt decided: the contract, its reasons, the profile and the config.

    ``labels`` (the labeled rows' label values, up to the inference sample) and ``rows`` /
    ``unlabeled`` are what a baseline for the task needs, without the table.
    """

    task: Task
    rows: int
    columns: list[Column]
    decisions: list[Decision] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)
    slices: list[str] = field(default_factory=list)
    positive: Any = None  # binary: the label value whose probability is reported
    review: dict[str, str] = field(default_factory=dict)  # PROTECTED_REVIEW
    unlabeled: int = 0  # rows without a label: scored, not trained on
    min_metric: float | None = None  # the owner's declared quality target
    csv: CsvFormat | None = None  # how the adopted CSV was read
    time_format: str | None = None  # the time column's text dates, in a local form
    labels: pd.Series = field(default_factory=lambda: pd.Series(dtype=object), repr=False)
    seconds: dict[str, float] = field(default_factory=dict)  # per step: read, decide, write

    def timings(self) -> str:
        return ", ".join(f"{step} {s:.1f} s" for step, s in self.seconds.items())

    @property
    def renames(self) -> dict[str, str]:
        return {c.source: c.name for c in self.columns if c.source != c.name}

    @property
    def unanswered(self) -> list[str]:
        return [name for name, answer in self.review.items() if answer == "unanswered"]

    def of(self, role: str) -> list[Column]:
        return [c for c in self.columns if c.role == role]


# ---- reading ----------------------------------------------------------------------------


def read_table(source: str, table: str | None = None) -> tuple[pd.DataFrame, CsvFormat | None]:
    """The user's table from a CSV or Parquet file, or a SQLAlchemy URL with a table name.

    A CSV's delimiter, encoding and missing markers are sniffed and returned with the frame.
    """
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
        return frame, None
    path = Path(source)
    if not path.is_file():
        raise AdoptError(f"source {source}: file does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix in {".csv", ".tsv", ".txt"}:
            fmt = sniff_csv(path)
            return read_csv(path, fmt), fmt
        if suffix == ".parquet":
            return pd.read_parquet(path), None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise AdoptError(f"source {source}: not readable ({reason})") from None
    except OSError as exc:
        raise AdoptError(f"source {source}: not readable ({exc.strerror})") from None
    raise AdoptError(f"source {source}: unsupported file type (expected .csv or .parquet)")


def sniff_csv(path: Path, size: int = 1 << 20) -> CsvFormat:
    """Delimiter, encoding and missing markers, from the file's first megabyte."""
    with path.open("rb") as fh:
        head = fh.read(size)
    if head.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"  # Excel's "CSV UTF-8": the BOM would stick to the first name
    else:
        encoding = "utf-8"
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a character cut at the sample's end
                encoding = "cp1252" if _decodes(head, "cp1252") else "latin-1"
    text = head.decode(encoding, errors="ignore")
    lines = text.splitlines()[:-1] if len(head) == size else text.splitlines()
    sample = "\n".join(lines[:500])
    delimiter = max(DELIMITERS, key=lambda d: _delimiter_score(sample, d))
    cells: set[str] = set()
    for row in csv.reader(io.StringIO(sample), delimiter=delimiter):
        cells.update(row)
    # A marker as the file writes it: `, ?` (a space after the delimiter) is the cell " ?".
    markers = set(NA_DEFAULT + NA_EXTRA)
    extra = sorted(c for c in cells if c.strip() in markers and c not in NA_DEFAULT)
    return CsvFormat(delimiter, encoding, tuple(NA_DEFAULT + extra))


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _delimiter_score(sample: str, delimiter: str) -> tuple[float, int]:
    """(share of rows with the most common width, that width): 1 column scores nothing."""
    widths = [len(r) for r in csv.reader(io.StringIO(sample), delimiter=delimiter) if r]
    if not widths:
        return 0.0, 0
    common = max(set(widths), key=widths.count)
    if common < 2:
        return 0.0, common
    return widths.count(common) / len(widths), common


def _csv_options(fmt: CsvFormat) -> dict[str, Any]:
    return {
        "sep": fmt.delimiter,
        "encoding": fmt.encoding,
        "na_values": list(fmt.na_values),
        "keep_default_na": False,
    }


def read_csv(path: Path | io.StringIO, fmt: CsvFormat) -> pd.DataFrame:
    """The file (or text) as pandas reads it with ``fmt``; columns pandas would turn into
    booleans keep their text (``TRUE``/``no``...), the values every later reader sees."""
    options = _csv_options(fmt) | {"low_memory": False}
    frame: pd.DataFrame = pd.read_csv(path, **options)
    flags = [c for c in frame.columns if _is_flag(frame[c])]
    if flags:
        if isinstance(path, io.StringIO):
            path.seek(0)
        text = pd.read_csv(path, usecols=flags, dtype=str, **options)
        for c in flags:
            frame[c] = text[c]
    return frame


def _is_flag(values: pd.Series) -> bool:
    """Booleans, or booleans with missing values (pandas keeps those as objects)."""
    if pd.api.types.is_bool_dtype(values):
        return True
    present = values.dropna()
    return (
        pd.api.types.is_object_dtype(values)
        and len(present) > 0
        and bool(present.map(lambda v: isinstance(v, bool | np.bool_)).all())
    )


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns (R factors, pandas categories) as their plain values: the contract
    holds the values, and every source reads them back as plain ones."""
    cats = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    if not cats:
        return frame
    out = frame.copy(deep=False)
    for c in cats:
        out[c] = out[c].astype(object).where(out[c].notna(), None).infer_objects()
    return out


def _safe(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1@", url)


# ---- deciding ---------------------------------------------------------------------------


def identifier(name: str, taken: set[str]) -> str:
    """A lowercase Python identifier for a column name (``Order Total`` -> ``order_total``)."""
    spelled = str(name).replace("ß", "ss")  # Größe -> grosse; other accents fold below
    ascii_name = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode()
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", ascii_name.strip())
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


def _value_hint(values: pd.Series) -> str | None:
    """What a few-valued text column's values say it describes (sex, marital status...)."""
    if values.nunique() > MAX_SLICE_GROUPS:
        return None
    # R's factor labels often carry their order: "1. Never Married", "2. Married".
    distinct = {re.sub(r"^\d+\.\s*", "", str(v).strip().lower()) for v in values.dropna().unique()}
    if not distinct:
        return None
    for meaning, words in PERSON_VALUES.items():
        hits = distinct & words  # two words: "white"/"blue" collars are not a race column
        if len(hits) >= 2 and len(hits) * 2 >= len(distinct):
            return meaning
    if distinct == {"m", "f"}:
        return "sex"
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


# Dates written as text: (pattern every value matches, format, what the decision says).
# Slashed and dashed day/month orders are told apart by a part above 12 (_day_first).
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}")
_YMD = re.compile(r"^\d{4}/\d{1,2}/\d{1,2}(?: \d{1,2}:\d{2}(?::\d{2})?)?$")
_DMY_DOTS = re.compile(r"^\d{1,2}\.\d{1,2}\.\d{4}(?: \d{1,2}:\d{2}(?::\d{2})?)?$")
_XYY = re.compile(r"^(\d{1,2})([/-])(\d{1,2})\2\d{4}(?: \d{1,2}:\d{2}(?::\d{2})?)?$")


@dataclass(frozen=True)
class TimeText:
    """A text column's dates: the parsed values, or why they are not dates after all."""

    parsed: pd.Series | None
    form: str = ""  # e.g. "ISO 8601", "MM/DD/YYYY"
    ambiguous: bool = False
    fmt: str = ""  # what pd.to_datetime reads them with


def _as_time(values: pd.Series) -> TimeText:
    """The column as datetimes when its dtype is one, or every text value is a date."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return TimeText(values, "date-time values")
    if not pd.api.types.is_object_dtype(values) and not pd.api.types.is_string_dtype(values):
        return TimeText(None)
    text = values.dropna().astype(str).str.strip()
    if text.empty or not text.str.match(r"^\d").all():
        return TimeText(None)
    form, fmt = "", ""
    if text.str.match(_ISO).all():
        form, fmt = "ISO 8601", "ISO8601"
    elif text.str.match(_YMD).all():
        form, fmt = "YYYY/MM/DD", "%Y/%m/%d"
    elif text.str.match(_DMY_DOTS).all():
        form, fmt = "DD.MM.YYYY", "%d.%m.%Y"
    else:
        parts = text.str.extract(_XYY)
        if parts[0].isna().any():
            return TimeText(None)
        first, second = parts[0].astype(int), parts[2].astype(int)
        sep = str(parts[1].iloc[0])
        if (first > 12).any() and (second <= 12).all():
            form, fmt = f"DD{sep}MM{sep}YYYY", f"%d{sep}%m{sep}%Y"
        elif (second > 12).any() and (first <= 12).all():
            form, fmt = f"MM{sep}DD{sep}YYYY", f"%m{sep}%d{sep}%Y"
        else:
            return TimeText(None, f"MM{sep}DD{sep}YYYY or DD{sep}MM{sep}YYYY", ambiguous=True)
    if fmt != "ISO8601" and text.str.contains(":").any():
        fmt += " %H:%M:%S" if text.str.count(":").max() == 2 else " %H:%M"
    if fmt == "ISO8601":
        parsed = pd.to_datetime(values, errors="coerce", format="ISO8601", utc=True)
    else:
        parsed = pd.to_datetime(values.astype(object), errors="coerce", format=fmt)
    if parsed.notna().sum() != len(text):
        return TimeText(None)
    return TimeText(parsed, form, fmt=fmt)


def _integral(present: pd.Series) -> bool:
    numbers = present.astype(float)
    return bool(len(numbers)) and bool(np.all(np.mod(numbers, 1) == 0))


def _kind_of(name: str, values: pd.Series) -> str:
    """int, float, bool, str or datetime; anything else cannot be a contract column."""
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_integer_dtype(values):
        return "int"
    if pd.api.types.is_float_dtype(values):
        # 73.0: what pandas writes for an integer column once it held a missing value
        return "int" if _integral(values.dropna()) and not values.isna().any() else "float"
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


def _span(low: Any, high: Any, integer: bool) -> tuple[float, float]:
    """A contract range around the observed [low, high], widened by MARGIN."""
    lo, hi = float(low), float(high)
    pad = max((hi - lo) * MARGIN, 1.0 if integer else abs(hi) * MARGIN or 1.0)
    ge, le = lo - pad, hi + pad
    if lo >= 0 > ge:
        ge = 0.0  # a non-negative quantity stays non-negative
    if integer:
        return float(np.floor(ge)), float(np.ceil(le))
    return _round(ge), _round(le)


def _round(x: float) -> float:
    return float(f"{x:.6g}")


def _py(value: Any) -> Any:
    """A numpy scalar as the Python value the rendered contract spells."""
    return value.item() if isinstance(value, np.generic) else value


CAP = MAX_CLASSES * 5  # distinct values counted per column; beyond it, only "more than CAP"


@dataclass
class Whole:
    """What one column holds across the whole table, beside the inference sample.

    From the frame itself when adopt reads the whole table, else from the streamed pass
    (``scan``): exact row, missing and per-value counts, the range, key uniqueness.
    """

    rows: int
    nulls: int = 0
    counts: dict[Any, int] | None = field(default_factory=dict)  # None: more than CAP values
    lo: Any = None  # numbers and date-times
    hi: Any = None
    integral: bool = False  # numbers: every present one is whole
    dupes: int | None = None  # repeated values; None: not checked (not a key candidate)
    bad: int = 0  # text dates that the sample's date form does not read

    @classmethod
    def of(cls, values: pd.Series) -> Whole:
        present = values.dropna()
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        ranged = len(present) > 0 and (numeric or pd.api.types.is_datetime64_any_dtype(values))
        whole = cls(
            rows=len(values),
            nulls=len(values) - len(present),
            counts=None,
            lo=present.min() if ranged else None,
            hi=present.max() if ranged else None,
            integral=numeric and _integral(present),
        )
        try:
            counts = present.value_counts(sort=False)
            whole.dupes = int(values.duplicated().sum())
        except TypeError:  # unhashable values (lists, dicts): _kind_of refuses the column
            return whole
        whole.counts = dict(zip(counts.index, counts.to_numpy().tolist(), strict=True))
        return whole

    @property
    def present(self) -> int:
        return self.rows - self.nulls

    @property
    def distinct(self) -> int:
        """Distinct present values; CAP + 1 stands for "more than CAP"."""
        return CAP + 1 if self.counts is None else len(self.counts)

    def mapped(self, how: Any) -> Whole:
        """The same column with each value replaced by ``how(value)`` (counts merged)."""
        if self.counts is None:
            return self
        merged: dict[Any, int] = {}
        for value, n in self.counts.items():
            merged[how(value)] = merged.get(how(value), 0) + n
        return replace(self, counts=merged)


def _many(whole: Whole) -> str:
    """How many distinct values, as exactly as they were counted."""
    return f"more than {CAP}" if whole.counts is None else str(whole.distinct)


def _label_values(source: str, values: pd.Series) -> tuple[pd.Series, str]:
    """The label's present values and their kind: int (integral numbers, ``1.0`` included),
    float or str. Booleans become the text ``True``/``False``; their classes are words."""
    kind = _kind_of(source, values)
    present = values.dropna()
    if kind == "bool":
        return present.map(lambda v: str(bool(v))).astype(object), "str"
    if kind == "datetime":
        raise AdoptError(f"label '{source}': date-times cannot be a label")
    if kind in {"int", "float"} and _integral(present):
        return present.astype("int64"), "int"
    if kind == "str":
        return present.astype(str).astype(object), "str"
    return present, kind


def _label_counts(source: str, sample: pd.Series, whole: Whole) -> tuple[Whole, str]:
    """The label across the whole table, its values spelled as ``_label_values`` spells them
    (kind judged on the sample, as every type is), and its kind."""
    kind = _kind_of(source, sample)
    if kind == "bool":
        return whole.mapped(lambda v: str(bool(v))), "str"
    if kind == "datetime":
        raise AdoptError(f"label '{source}': date-times cannot be a label")
    if kind in {"int", "float"} and whole.integral:
        return whole.mapped(int), "int"
    if kind == "str":
        return whole.mapped(str), "str"
    return whole, kind


def infer_task(distinct: int, kind: str) -> Task:
    """Two values are binary whatever they are; text or a few integers are classes."""
    if distinct == 2 and kind in {"int", "str"}:
        return "binary"
    if kind == "str" or (kind == "int" and distinct <= MAX_CLASSES):
        return "multiclass"
    return "regression"


def _shown_values(values: list[Any], limit: int = 6) -> str:
    out = ", ".join(str(v) for v in values[:limit])
    return out + (", ..." if len(values) > limit else "")


def choose_positive(counts: pd.Series, given: str | None, source: str) -> tuple[Any, str]:
    """The positive class of a binary label (``counts``: rows per value) and why."""
    values = [_py(v) for v in counts.index]
    if given is not None:
        exact = [v for v in values if str(v) == given]
        folded = [v for v in values if str(v).strip().lower() == given.strip().lower()]
        match = exact or folded
        if len(match) != 1:
            shown = _shown_values(sorted(str(v) for v in values))
            raise AdoptError(f"--positive {given}: not a value of label '{source}' ({shown})")
        return match[0], "given by --positive"
    yes = [v for v in values if str(v).strip().lower() in YES]
    if len(yes) == 1:
        return yes[0], f"'{yes[0]}' means yes"
    no = [v for v in values if str(v).strip().lower() in NO]
    if len(no) == 1 and not yes:
        other = next(v for v in values if v != no[0])
        return other, f"the other value, '{no[0]}', means no"
    # The rarer outcome is what a team usually acts on (default, churn, fraud); a tie: the
    # value that sorts last, as 0/1 labels have always had it.
    if counts.nunique() == 1:
        last = sorted(values, key=str)[-1]
        return last, "both values are equally common; the one that sorts last"
    minority = min(values, key=lambda v: int(counts[v]))
    share = float(counts[minority]) / float(counts.sum())
    return minority, f"the minority class, {share:.1%} of labeled rows"


def _label(
    name: str, source: str, whole: Whole, sample: pd.Series, roles: Roles
) -> tuple[Column, Task, Any, list[Decision]]:
    """The label column, the task, the positive class (binary) and the decisions' lines."""
    label, kind = _label_counts(source, sample, whole)
    values = list(label.counts or {})  # the label's distinct values (when at most CAP)
    distinct = label.distinct
    if distinct == 0:
        raise AdoptError(f"label '{source}': no row has a value; nothing to learn")
    if distinct < 2:
        raise AdoptError(f"label '{source}': constant (one value in every row); nothing to learn")
    if label.present < MIN_ROWS:
        raise AdoptError(
            f"label '{source}': {label.present} rows have a label; adopt needs at least {MIN_ROWS}"
        )
    inferred = infer_task(distinct, kind)
    chosen = roles.task or inferred
    why = "given by --task" if roles.task else _task_reason(inferred, values, distinct)
    if roles.positive is not None and chosen != "binary":
        raise AdoptError(f"--positive {roles.positive}: label '{source}' is {chosen}, not binary")
    positive: Any = None
    if chosen == "binary":
        if distinct != 2:
            shown = _shown_values(sorted(str(v) for v in values))
            raise AdoptError(
                f"label '{source}': --task binary needs two values; it has {distinct} ({shown})"
            )
        if kind == "float":
            raise AdoptError(f"label '{source}': --task binary needs two integer or text values")
        counts = pd.Series(label.counts).rename_axis(None)
        positive, because = choose_positive(counts, roles.positive, source)
        classes = sorted((_py(v) for v in counts.index), key=lambda v: (v == positive, str(v)))
        dtype = "int" if kind == "int" else "str"
        col = Column(name, source, "label", dtype, categories=classes, reason=why)
    elif chosen == "multiclass":
        if distinct == 2:  # the rails score two classes as binary: P(POSITIVE) and a threshold
            raise AdoptError(
                f"label '{source}': two values are a binary label; use --task binary"
                " (--positive VALUE picks the positive class)"
            )
        if distinct > MAX_CLASSES * 5:
            raise AdoptError(f"label '{source}': {_many(label)} classes; too many to learn")
        if kind == "float":
            raise AdoptError(f"label '{source}': --task multiclass needs integer or text classes")
        classes = sorted(_py(v) for v in values)
        col = Column(name, source, "label", kind, categories=classes, reason=why)
    else:
        if kind not in {"int", "float"}:
            raise AdoptError(f"label '{source}': --task regression needs numeric values")
        ge, le = _span(label.lo, label.hi, integer=False)
        col = Column(name, source, "label", "float", ge=ge, le=le, reason=why)
    col = replace(col, action=f"label, task {chosen}")
    shown = source if source == name else f"{source} (as {name})"
    notes = [Decision(shown, "label", col.reason, col.action)]
    if chosen == "binary":
        negative = next(v for v in col.categories or [] if v != positive)
        notes.append(
            Decision(
                shown,
                "positive class",
                because,
                f"POSITIVE = {_literal(positive)}; the model reports P({positive}),"
                f" {_literal(negative)} is the negative class",
            )
        )
    missing = whole.nulls
    if missing:
        notes.append(
            Decision(
                shown,
                "unlabeled rows",
                f"{missing} of {whole.rows} rows have no label",
                "scored, not trained on: ingest keeps them apart as unlabeled",
            )
        )
    return col, chosen, positive, notes


def _task_reason(task: Task, values: list[Any], distinct: int) -> str:
    if task == "binary":
        a, b = sorted(str(v) for v in values)
        return f"two values, {a} and {b}"
    if task == "multiclass":
        return f"{distinct} distinct values"
    return "numeric values with many distinct values"


def _feature(name: str, source: str, whole: Whole, sample: pd.Series, kind: str) -> Column:
    """A feature: range and categories from the whole table, the fill value from the sample."""
    nullable = whole.nulls > 0
    if kind in {"int", "float"}:
        integer = kind == "int" or whole.integral
        ge, le = _span(whole.lo, whole.hi, integer)
        default: float | None = None
        if nullable:
            median = float(sample.dropna().median())
            default = float(np.round(median)) if integer else _round(median)
        shown = "int" if integer else "float"
        return Column(
            name,
            source,
            "feature",
            "int" if integer and not nullable else "float",
            kind="numeric",
            ge=ge,
            le=le,
            default=default,
            reason=f"{shown} values" + (", missing ones filled with the median" * nullable),
            action="numeric feature",
        )
    categories = sorted({str(v) for v in whole.counts or {}})
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
        reason=f"{whole.distinct} categories" + (", missing ones kept as a category" * nullable),
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
    not_protected: tuple[str, ...] = ()
    positive: str | None = None

    @classmethod
    def parse(
        cls,
        label: str,
        task: str | None,
        key: str | None,
        time: str | None,
        pii: list[str],
        protected: list[str],
        not_protected: list[str] | None = None,
        positive: str | None = None,
    ) -> Roles:
        if task is not None and task not in TASKS:
            raise AdoptError(f"--task {task}: choose one of {', '.join(TASKS)}")
        both = sorted(set(protected) & set(not_protected or []))
        if both:
            raise AdoptError(f"--protected {both[0]}: also given as --not-protected; choose one")
        chosen = next((t for t in TASKS if t == task), None)
        return cls(
            label, chosen, key, time, tuple(pii), tuple(protected), tuple(not_protected or ()),
            positive,
        )  # fmt: skip


def check_min_metric(value: float | None) -> float | None:
    """The declared quality target: a share, as every task's gate metric is one."""
    if value is None:
        return None
    if not 0 <= value <= 1 or value != value:
        raise AdoptError(
            f"--min-metric {value}: the quality target is the task's gate metric, between 0 and 1"
        )
    return float(value)


def _resolve(roles: Roles, columns: list[str], names: dict[str, str]) -> Roles:
    """Roles named by the table's name or the contract's (``Monthly Spend``/``monthly_spend``);
    an unknown name is one line listing the columns."""
    by_contract = {v: k for k, v in names.items()}

    def one(given: str, flag: str) -> str:
        if given in columns:
            return given
        if given in by_contract:
            return by_contract[given]
        shown = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
        raise AdoptError(f"{flag} {given}: no such column (columns: {shown})")

    def opt(given: str | None, flag: str) -> str | None:
        return None if given is None else one(given, flag)

    resolved = replace(
        roles,
        label=one(roles.label, "--label"),
        key=opt(roles.key, "--key"),
        time=opt(roles.time, "--time"),
        pii=tuple(one(c, "--pii") for c in roles.pii),
        protected=tuple(one(c, "--protected") for c in roles.protected),
        not_protected=tuple(one(c, "--not-protected") for c in roles.not_protected),
    )
    for c, flag in [
        *[(c, "--protected") for c in resolved.protected],
        *[(c, "--not-protected") for c in resolved.not_protected],
    ]:
        if c == resolved.label:
            raise AdoptError(f"{flag} {c}: it is the label, not a column to judge fairness by")
    return resolved


def _check_rows(rows: int) -> None:
    if rows < MIN_ROWS:
        raise AdoptError(f"table: {rows} rows; adopt needs at least {MIN_ROWS}")


def _key_column(
    wholes: dict[str, Whole], sample: pd.DataFrame, names: dict[str, str], roles: Roles
) -> Column | None:
    exclude = {roles.label, *roles.protected, *roles.not_protected, *roles.pii}
    key, why = roles.key, "given by --key"
    if key is None:
        key, why = _guess_key(wholes, sample, names, exclude)
    if key is None:
        return None
    whole = wholes[key]
    if roles.key is not None:  # a guessed key was proven unique and complete already
        if whole.dupes:
            raise AdoptError(f"key '{key}': not unique ({whole.dupes} duplicate values)")
        if whole.nulls:
            raise AdoptError(f"key '{key}': {whole.nulls} rows have no key")
    dtype = "int" if _kind_of(key, sample[key]) == "int" else "str"
    return Column(names[key], key, "key", dtype, unique=True, reason=why, action="key")


def _guess_key(
    wholes: dict[str, Whole], sample: pd.DataFrame, names: dict[str, str], exclude: set[str]
) -> tuple[str | None, str]:
    """An id-like name with a unique value per row, else a written-out row number."""
    for c, name in names.items():
        if c in exclude or not _id_like(name):
            continue
        whole = wholes[c]
        if whole.nulls == 0 and whole.dupes == 0:
            return c, "an id-like name with a unique value per row"
    for c, name in names.items():
        whole = wholes[c]
        if c in exclude or whole.nulls or _kind_of(c, sample[c]) != "int":
            continue
        if whole.dupes != 0:  # repeated, or never checked (repeated within the sample)
            continue
        if name in ROW_NUMBER_NAMES or name.startswith("unnamed"):
            return c, "a row name or number, one per row; never a feature"
        lo, hi = int(whole.lo), int(whole.hi)
        if hi - lo + 1 == whole.rows:  # 1..n in some order: a numbering, whatever its name
            return c, f"a row number ({lo} to {hi}, one per row); never a feature"
    return None, ""


def _id_like(name: str) -> bool:
    tokens = _tokens(name)
    return bool(tokens) and tokens[-1] in {"id", "key", "uuid", "nr", "no"}


@dataclass(frozen=True)
class Times:
    """The table's date-time columns: the event time (parsed whole) and what else was seen."""

    time: str | None
    parsed: TimeText | None
    dates: dict[str, TimeText]  # every date-time column, judged on the inference sample
    ambiguous: dict[str, str]  # text dates whose day and month cannot be told apart


def _time_columns(
    wholes: dict[str, Whole], sample: pd.DataFrame, candidates: list[str], roles: Roles
) -> Times:
    """The event-time column (given or the first date-time one) and every date-time seen."""
    dates: dict[str, TimeText] = {}
    ambiguous: dict[str, str] = {}
    for c in candidates:
        t = _as_time(sample[c])
        if t.parsed is not None:
            dates[c] = t
        elif t.ambiguous:
            ambiguous[c] = t.form
    if roles.time is not None and roles.time not in dates:
        why = "values are not date-times"
        if roles.time in ambiguous:
            why = f"day and month cannot be told apart ({ambiguous[roles.time]})"
        raise AdoptError(f"--time {roles.time}: {why}")
    for c in [roles.time] if roles.time else list(dates):
        whole = dates[c] if wholes[c].bad == 0 else TimeText(None)
        if whole.parsed is not None:
            return Times(c, whole, dates, ambiguous)
        if roles.time:  # a value beyond the sample is not a date
            raise AdoptError(f"--time {c}: values are not date-times")
        dates.pop(c)
    return Times(None, None, dates, ambiguous)


# What one column becomes: a contract column (with how its decision names the role) or a
# decision to leave it out; and the owner's answer when it could be a protected attribute.
Verdict = tuple[Column, str | None] | Decision


def _protected_hint(name: str, values: pd.Series, kind: str) -> str | None:
    meaning = _name_hint(name, PROTECTED_NAMES)
    if meaning is not None:
        return f"the name says {meaning}"
    if kind in {"str", "bool"}:
        by_values = _value_hint(values)
        if by_values is not None:
            return f"values look like {by_values}"
    return None


def _classify(
    c: str, name: str, whole: Whole, sample: pd.Series, roles: Roles
) -> tuple[Verdict, str | None]:
    """The role of a column that is neither the label, the key nor the event time."""
    kind = _kind_of(c, sample)
    asked = c in roles.protected or c in roles.not_protected
    if whole.distinct == 1 and not asked:
        why = "one value in every row" + (", or missing" if whole.nulls else "")
        return Decision(c, "dropped", why + "; nothing to learn", "not in the contract"), None
    pii = _pii_kind(c, name, sample, kind, roles)
    if pii is not None:
        pii_kind, why = pii
        action = "hashed" if PII_ACTIONS.get(pii_kind, "drop") == "hash" else "dropped"
        pii_column = Column(name, c, "pii", "str", nullable=True, pii=pii_kind, reason=why)
        answer = "not protected" if c in roles.not_protected else None
        return (replace(pii_column, action=action), "PII"), answer
    hint = None if asked else _protected_hint(name, sample, kind)
    if c in roles.protected:
        return (_protected(name, c, whole, kind, "given by --protected"), "protected"), "protected"
    if hint is not None:
        why = f"{hint}; unanswered"
        return (_protected(name, c, whole, kind, why), "protected"), "unanswered"
    answer = "not protected" if c in roles.not_protected else None
    if kind == "bool":
        whole = whole.mapped(lambda v: str(bool(v)))
        kind = "str"
    distinct = whole.distinct
    if kind == "str" and (distinct > MAX_CATEGORIES or distinct > 0.5 * whole.present):
        dates = _as_time(sample)
        if dates.ambiguous:
            why = f"dates as text, but day and month cannot be told apart ({dates.form})"
            fix = "not in the contract; write them as YYYY-MM-DD to use them"
            return Decision(c, "dropped", why, fix), answer
        why = f"{_many(whole)} distinct strings; too many for a category set"
        return Decision(c, "free text", why, "dropped"), answer
    column = _feature(name, c, whole, sample, kind)
    if answer is not None:
        column = replace(column, reason=column.reason + "; not protected, given by --not-protected")
    return (column, None), answer


def infer_contract(
    frame: pd.DataFrame, roles: Roles, wholes: dict[str, Whole] | None = None
) -> Adoption:
    """Decide the contract for ``frame``; raises ``AdoptError`` on the first refusal.

    Types, roles and content patterns are judged on a seeded sample of at most ``INFER_ROWS``
    rows; counts, key uniqueness, ranges and category sets on the whole table. ``frame`` is
    the whole table, or (with ``wholes``, from the streamed pass) the sample already drawn.
    """
    columns = [str(c) for c in frame.columns]
    frame = plain(frame.set_axis(columns, axis=1))
    taken: set[str] = set()
    names = {c: identifier(c, taken) for c in columns}
    roles = _resolve(roles, columns, names)
    sample = frame
    if wholes is None:
        _check_rows(len(frame))
        wholes = {c: Whole.of(frame[c]) for c in columns}
        if len(frame) > INFER_ROWS:
            sample = frame.sample(n=INFER_ROWS, random_state=SAMPLE_SEED).sort_index()
    rows = wholes[columns[0]].rows
    _check_rows(rows)
    out: list[Column] = []
    decisions: list[Decision] = []

    def decide(col: Column, what: str | None = None) -> None:
        out.append(col)
        shown = col.source if col.source == col.name else f"{col.source} (as {col.name})"
        decisions.append(Decision(shown, what or col.role, col.reason, col.action))

    label, task, positive, label_notes = _label(
        names[roles.label], roles.label, wholes[roles.label], sample[roles.label], roles
    )
    out.append(label)
    decisions += label_notes
    key = _key_column(wholes, sample, names, roles)
    if key is not None:
        decide(key)
    rest = [c for c in columns if c not in {roles.label, key.source if key else None}]
    # A date of birth is a protected attribute, not the event time: only --time makes it one.
    candidates = [
        c
        for c in rest
        if c == roles.time
        or (
            c not in roles.protected
            and c not in roles.not_protected
            and _name_hint(names[c], PROTECTED_NAMES) is None
        )
    ]
    times = _time_columns(wholes, sample, candidates, roles)
    answers: dict[str, str] = {}
    for c in rest:
        whole = wholes[c]
        if whole.nulls == whole.rows:
            decisions.append(
                Decision(c, "dropped", "every value is missing", "not in the contract")
            )
        elif c == times.time and times.parsed is not None:
            why = "given by --time" if roles.time else "date-time values"
            if times.parsed.form not in {"", "ISO 8601", "date-time values"}:
                why += f", written as {times.parsed.form}"
            nullable = whole.nulls > 0
            time_column = Column(names[c], c, "time", "datetime", nullable=nullable, reason=why)
            decide(replace(time_column, action="time"))
        elif c in times.dates:
            why = "a second date-time column"
            decisions.append(Decision(c, "dropped", why, "not in the contract"))
        else:
            verdict, answer = _classify(c, names[c], whole, sample[c], roles)
            if answer is not None:
                answers[c] = answer
            if isinstance(verdict, Decision):
                decisions.append(verdict)
            else:
                decide(*verdict)
    for c in roles.not_protected:
        answers.setdefault(c, "not protected")
    if not any(col.role == "feature" for col in out):
        raise AdoptError(f"table: no feature columns left besides label '{roles.label}'")
    out.sort(key=lambda col: columns.index(col.source))  # the table's own column order
    in_contract = {col.source: col.name for col in out}
    review = {in_contract.get(c, c): answers[c] for c in columns if c in answers}
    adoption = Adoption(
        task=task,
        rows=rows,
        columns=out,
        decisions=decisions,
        positive=positive,
        review=review,
        unlabeled=wholes[roles.label].nulls,
        labels=_label_values(roles.label, sample[roles.label])[0],
    )
    unanswered = [c for c in columns if answers.get(c) == "unanswered"]
    if unanswered:
        adoption.decisions.append(
            Decision(
                "protected review",
                f"{len(unanswered)} column(s) await your answer: {', '.join(unanswered)}",
                "each could be a protected attribute or a proxy for one; kept out of the"
                " features until answered",
                "answer each with --protected COL or --not-protected COL (repeatable) and"
                " re-run adopt",
            )
        )
    adoption.slices = _slices(adoption)
    parsed: dict[str, pd.Series] = {}
    if times.time and times.parsed and times.parsed.parsed is not None:
        parsed[times.time] = times.parsed.parsed
        if times.parsed.form not in {"ISO 8601", "date-time values"}:
            adoption.time_format = times.parsed.fmt  # the contract records it
    adoption.profile = profile(adoption, sample, parsed)
    return adoption


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


def _protected(name: str, source: str, whole: Whole, kind: str, why: str) -> Column:
    """A protected attribute: never a feature. Always nullable: a row missing it is still a
    row to train on and score, and the missing ones form their own group in the slices."""
    action = "never a feature; fairness slices"
    if kind in {"int", "float"}:
        ge, le = _span(whole.lo, whole.hi, whole.integral)
        few = whole.distinct <= MAX_SLICE_GROUPS
        cats = sorted(float(v) for v in whole.counts or {}) if few else None
        return Column(
            name, source, "protected", "float", nullable=True, ge=ge, le=le, categories=cats,
            reason=why, action=action if few else "never a feature; judged in governance",
        )  # fmt: skip
    text = whole.mapped((lambda v: str(bool(v))) if kind == "bool" else str)
    names = sorted(text.counts or {}) if text.distinct <= MAX_CATEGORIES else None
    return Column(
        name,
        source,
        "protected",
        "str",
        nullable=True,
        categories=names,
        reason=why,
        action=action,
    )


def _slices(adoption: Adoption) -> list[str]:
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


def profile(
    adoption: Adoption, sample: pd.DataFrame, times: dict[str, pd.Series]
) -> dict[str, Any]:
    """Per-column distribution summaries: enough to generate look-alike rows, no real row.

    Shares and quantiles come from the inference sample. The label's missing share is kept as
    ``unlabeled_share`` (its ``null_share`` is 0): generated rows always carry a label.
    """
    cols: dict[str, Any] = {}
    for c in adoption.columns:
        values = sample[c.source]
        nulls = _round(float(values.isna().mean()))
        entry: dict[str, Any] = {"role": c.role, "null_share": 0.0 if c.role == "label" else nulls}
        if c.role == "label" and nulls:
            entry["unlabeled_share"] = nulls
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
            if c.role == "label":
                present = _label_values(c.source, values)[0]
            shares = present.astype(str).value_counts(normalize=True)
            if c.dtype == "int":
                shares = present.astype(int).astype(str).value_counts(normalize=True)
            elif c.dtype == "float":  # a few-valued numeric protected attribute
                shares = present.astype(float).astype(str).value_counts(normalize=True)
                entry["numeric"] = True
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
        if c.role == "time" and adoption.time_format:
            meta["format"] = adoption.time_format  # data/roles.py TIME_FORMAT
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
    review = "".join(f"    {_literal(k)}: {_literal(v)},\n" for k, v in adoption.review.items())
    review_block = "PROTECTED_REVIEW: dict[str, str] = " + (
        "{\n" + review + "}" if review else "{}"
    )
    return _SCHEMA.substitute(
        source=_fit(source, 92),
        rows=adoption.rows,
        task=adoption.task,
        positive=_literal(adoption.positive),
        review=review_block,
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

SCHEMA_VERSION = "2"
# What the label is: "binary" (two values), "multiclass" (a category set) or "regression".
TASK = "$task"
# binary: the label value whose probability the model reports (the other is the negative).
POSITIVE: Any = $positive
# Source column name -> contract column name, for source names that are not Python
# identifiers (sources rename on read).
$renames
# Columns that could be protected attributes (or proxies for one) and the owner's answer:
# "protected", "not protected" or "unanswered" (`data adopt --protected/--not-protected COL`
# answers; `ready` keeps the item open until every one is answered).
$review

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
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml(str(k))} = {_toml(v)}" for k, v in value.items()) + "}"
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
    if adoption.csv is not None:
        fmt = adoption.csv
        lines += [
            "",
            "[data.csv]",
            "# How the adopted CSV was read (sniffed by `data adopt`): ingest and score read it",
            "# the same way.",
            f"delimiter = {_toml(fmt.delimiter)}",
            f"encoding = {_toml(fmt.encoding)}",
            f"na_values = {_toml(list(fmt.na_values))}",
        ]
    lines += ["", "[gate]"]
    if adoption.min_metric is not None:
        lines += [
            "# The quality target the owner declared (data adopt --min-metric): the task's gate",
            "# metric a model must reach, whatever the baseline.",
            f"min_metric = {_toml(adoption.min_metric)}",
        ]
    lines += [
        "# Judged group by group: protected categories, then the coarsest categorical features.",
        f"slices = {_toml(adoption.slices)}",
    ]
    return "\n".join(lines) + "\n"


# ---- a big file: a seeded sample, then one streamed pass --------------------------------

CHUNK_ROWS = 500_000  # rows per chunk of a streamed pass: memory stays flat whatever the size
Report = Callable[[str], None]


@dataclass
class Progress:
    """Per chunk of a streamed pass: rows done, rows/s and an ETA (rows known up front for
    Parquet, bytes read against the file's size for a CSV)."""

    step: str
    report: Report | None
    total: int | None = None
    size: int | None = None
    rows: int = 0
    started: float = field(default_factory=perf_counter)

    def chunk(self, rows: int, position: int | None = None) -> None:
        self.rows += rows
        if self.report is None:
            return
        elapsed = max(perf_counter() - self.started, 1e-9)
        share = None
        if self.total:
            share = self.rows / self.total
        elif self.size and position is not None:
            share = min(position / self.size, 1.0)
        eta = f", {share:.0%}, ETA {elapsed * (1 - share) / share:.0f} s" if share else ""
        rate = self.rows / elapsed
        self.report(f"adopt: {self.step}: {self.rows:,} rows, {rate:,.0f} rows/s{eta}")


@dataclass
class BigFile:
    """A file too big to read whole: read in chunks, the way the files source reads it."""

    path: Path
    fmt: CsvFormat | None  # None: Parquet
    total: int | None  # rows, from Parquet metadata
    seconds: dict[str, float] = field(default_factory=dict)  # per pass

    def read(
        self, report: Report | None, key: str | None = None
    ) -> tuple[pd.DataFrame, dict[str, Whole]]:
        """A seeded sample of ``INFER_ROWS`` rows (typed as reading the whole file types them)
        and, per column, the whole table's counts (``Whole``).

        Parquet is typed: one pass draws the sample and counts, a second reads only the
        columns that could be a key or a date. A CSV's sample decides how each text column is
        read, so its second pass counts everything.
        """
        if self.fmt is None:
            sample, wholes = self._pass("read", report, sampling=True, count=True)
            keys, dates = _checks(sample, key)
            if keys or dates:
                self._pass("check", report, columns=[*keys, *dates], keys=keys, dates=dates,
                           wholes=wholes)  # fmt: skip
            return sample, wholes
        sample, _ = self._pass("sample", report, sampling=True)
        keys, dates = _checks(sample, key)
        kinds = {str(c): _scan_kind(str(c), sample[c]) for c in sample.columns}
        _, wholes = self._pass("scan", report, count=True, kinds=kinds, keys=keys, dates=dates)
        return sample, wholes

    def _pass(
        self,
        step: str,
        report: Report | None,
        *,
        sampling: bool = False,
        count: bool = False,
        columns: list[str] | None = None,
        kinds: dict[str, str] | None = None,
        keys: Collection[str] = (),
        dates: dict[str, str] | None = None,
        wholes: dict[str, Whole] | None = None,
    ) -> tuple[pd.DataFrame, dict[str, Whole]]:
        """One streamed pass over the file (only ``columns``, for Parquet)."""
        began = perf_counter()
        rng = np.random.default_rng(SAMPLE_SEED)
        picks = np.sort(rng.choice(self.total, size=INFER_ROWS, replace=False)) if (
            sampling and self.total is not None
        ) else None  # fmt: skip
        parts: list[pa.RecordBatch] = []
        wholes = {} if wholes is None else wholes
        kept: dict[str, list[np.ndarray]] = {c: [] for c in keys}
        dates = dates or {}
        start = 0
        for batch in self._chunks(step, report, columns):
            if sampling:
                if picks is not None:
                    lo, hi = np.searchsorted(picks, [start, start + batch.num_rows])
                    chosen = picks[lo:hi] - start
                else:  # rows unknown up front: each row kept with the same chance, then trimmed
                    chosen = np.flatnonzero(rng.random(batch.num_rows) < self._rate(batch))
                parts.append(batch.take(pa.array(chosen)))
            for name, column in zip(batch.schema.names, batch.columns, strict=True):
                c = str(name)
                if name.startswith("__index_level_"):  # a pandas index written into the file
                    continue
                values = self._typed(c, column, (kinds or {}).get(c, "str"), start)
                if count:
                    _add(wholes.setdefault(c, Whole(rows=0, integral=True)), values)
                if c in dates:
                    wholes[c].bad += _unreadable_dates(values, dates[c])
                if c in kept:
                    kept[c].append(_fingerprints(values.drop_null()))
            start += batch.num_rows
        for c, arrays in kept.items():
            wholes[c].dupes = _repeats(np.concatenate(arrays))
            if wholes[c].dupes and arrays[0].dtype == np.uint64:  # hashes: count exactly
                wholes[c].dupes = self._repeated(c, (kinds or {}).get(c, "str"))
        self.seconds[step] = perf_counter() - began
        if not sampling:
            return pd.DataFrame(), wholes
        frame: pd.DataFrame = pa.Table.from_batches(parts).to_pandas()
        if self.fmt is None:
            return frame, wholes
        if len(frame) > INFER_ROWS:
            frame = frame.sample(n=INFER_ROWS, random_state=SAMPLE_SEED).sort_index()
        # The sampled cells, parsed as pandas parses the whole file (types, flags kept as text).
        text = io.StringIO(frame.to_csv(index=False, sep=self.fmt.delimiter))
        return read_csv(text, replace(self.fmt, encoding="utf-8")), wholes

    def _chunks(
        self, step: str, report: Report | None, columns: list[str] | None
    ) -> Iterator[pa.RecordBatch]:
        """Every row, ``CHUNK_ROWS`` at a time, as Arrow batches (a CSV's cells as text)."""
        size = self.path.stat().st_size
        progress = Progress(step, report, self.total, None if self.total else size)
        try:
            if self.fmt is None:
                parquet = pq.ParquetFile(self.path)
                for batch in parquet.iter_batches(batch_size=CHUNK_ROWS, columns=columns):
                    yield batch
                    progress.chunk(batch.num_rows)
                return
            with self.path.open("rb") as fh:
                options = _csv_options(self.fmt) | {"dtype": str, "chunksize": CHUNK_ROWS}
                for part in pd.read_csv(fh, usecols=columns, **options):
                    # one batch per chunk (pandas' text may arrive as several Arrow pieces)
                    table = pa.Table.from_pandas(part, preserve_index=False).combine_chunks()
                    yield from table.to_batches()
                    progress.chunk(len(part), fh.tell())
        except (pa.ArrowException, pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
            where = f"after row {progress.rows:,}"
            raise AdoptError(f"source {self.path}: not readable {where} ({reason})") from None
        except OSError as exc:
            raise AdoptError(f"source {self.path}: not readable ({exc.strerror})") from None

    def _repeated(self, c: str, kind: str) -> int:
        """Repeated values of one text column, counted exactly (its hashes repeated)."""
        parts = [
            self._typed(c, batch.column(c), kind, 0).drop_null()
            for batch in self._chunks("recount", None, [c])
        ]
        present = sum(len(p) for p in parts)
        return present - int(pc.count_distinct(pa.chunked_array(parts)).as_py())

    def _rate(self, batch: pa.RecordBatch) -> float:
        """The chance of keeping a row, for about twice INFER_ROWS rows from the whole file."""
        per_row = max(batch.nbytes / max(batch.num_rows, 1), 1.0)
        estimate = self.path.stat().st_size / per_row
        return float(min(1.0, 2 * INFER_ROWS / max(estimate, 1.0)))

    def _typed(self, c: str, column: pa.Array, kind: str, start: int) -> pa.Array:
        """A CSV chunk's text as the sample's type; a number beyond the sample that is not one
        refuses the file in one line."""
        if isinstance(column.type, pa.DictionaryType):
            column = column.dictionary_decode()
        if self.fmt is None or kind not in {"int", "float"}:
            return column
        text = column.to_pandas()
        numbers = pd.to_numeric(text, errors="coerce")
        wrong = numbers.isna() & text.notna()
        if wrong.any():
            at = int(np.flatnonzero(wrong.to_numpy())[0])
            raise AdoptError(
                f"column '{c}': {text.iloc[at]!r} in row {start + at + 1:,} is not a number,"
                " as the sampled values are"
            )
        return pa.array(numbers, from_pandas=True)


def _checks(sample: pd.DataFrame, key: str | None) -> tuple[list[str], dict[str, str]]:
    """Columns to check across the whole table: key candidates (the given key, id-like names
    and integers with no value twice and none missing in the sample) and text dates (with the
    form the sample's values have)."""
    keys, dates = [], {}
    for c in sample.columns:
        values = sample[c]
        kind = _scan_kind(str(c), values)
        named = key is not None and key in {str(c), identifier(str(c), set())}
        candidate = named or kind == "int" or _id_like(identifier(str(c), set()))
        unique = values.notna().all() and not values.duplicated().any()
        if candidate and (unique or named) and kind in {"int", "str"}:
            keys.append(str(c))
        if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
            t = _as_time(values)
            if t.fmt:
                dates[str(c)] = t.fmt
    return keys, dates


def _fingerprints(values: pa.Array) -> np.ndarray:
    """Integers as they are; anything else as 64-bit hashes (repeats then counted exactly)."""
    if pa.types.is_integer(values.type):
        return np.asarray(values.to_numpy(), dtype=np.int64)
    objects = values.to_numpy(zero_copy_only=False)
    return np.asarray(pd.util.hash_array(objects, categorize=False), dtype=np.uint64)


def _repeats(values: np.ndarray) -> int:
    values.sort()
    return int(np.count_nonzero(values[1:] == values[:-1]))


def _scan_kind(name: str, values: pd.Series) -> str:
    try:
        return _kind_of(name, values)
    except AdoptError:
        return "other"  # refused by name when the contract is decided


def _add(whole: Whole, values: pa.Array) -> None:
    """One chunk of a column into its whole-table counts (pyarrow compute)."""
    if pa.types.is_floating(values.type):
        values = pc.if_else(pc.is_nan(values), None, values)  # NaN is missing, as in pandas
    whole.rows += len(values)
    whole.nulls += values.null_count
    present = values.drop_null()
    numeric = pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
    if len(present) and (numeric or pa.types.is_timestamp(values.type)):
        low, high = pc.min_max(present).values()
        lo, hi = low.as_py(), high.as_py()
        whole.lo = lo if whole.lo is None else min(whole.lo, lo)
        whole.hi = hi if whole.hi is None else max(whole.hi, hi)
    if pa.types.is_floating(values.type) and len(present) and whole.integral:
        whole.integral = bool(pc.all(pc.equal(pc.floor(present), present)).as_py())
    if whole.counts is None or len(present) == 0:
        return
    found = pc.value_counts(present)
    if len(found) > CAP:
        whole.counts = None  # many values: a range or free text, not a set to count
        return
    for value, n in zip(
        found.field("values").to_pylist(), found.field("counts").to_pylist(), strict=True
    ):
        whole.counts[value] = whole.counts.get(value, 0) + n
    if len(whole.counts) > CAP:
        whole.counts = None


def _unreadable_dates(values: pa.Array, fmt: str) -> int:
    """Present text values that the sample's date form does not read."""
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return 0
    text = values.to_pandas()
    if fmt == "ISO8601":
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
    else:
        parsed = pd.to_datetime(text.astype(object), errors="coerce", format=fmt)
    return int((parsed.isna() & text.notna()).sum())


def _csv_rows(path: Path, size: int = 1 << 20) -> float:
    """About how many rows a CSV has: its size over the mean line length of its first MB."""
    with path.open("rb") as fh:
        head = fh.read(size)
    lines = max(head.count(b"\n"), 1)
    return path.stat().st_size / (len(head) / lines)


def open_big(source: str) -> BigFile | None:
    """The file, when it is too big to read whole; None reads it whole (``read_table``)."""
    path = Path(source)
    if "://" in source or not path.is_file():
        return None
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            total = pq.ParquetFile(path).metadata.num_rows
            return BigFile(path, None, total) if total > INFER_ROWS else None
        if suffix in {".csv", ".tsv", ".txt"} and _csv_rows(path) > INFER_ROWS:
            return BigFile(path, sniff_csv(path), None)
    except (pa.ArrowException, OSError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise AdoptError(f"source {source}: not readable ({reason})") from None
    return None


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
    source: str, table: str | None, kinds: tuple[str, ...], root: Path
) -> tuple[dict[str, Any], list[Decision]]:
    """Where ingestion reads the adopted table from, as config entries with their reasons.

    A file is read where it lies by the files source, which every pilot has: nothing is copied
    into another store just to be read back.
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
    else:
        path = Path(source).resolve()
        shown = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        data.append(("Real data: `data seed` refuses to overwrite it", "real_sources", True))
        sections["data.sources"] = [("The adopted source", "enabled", ["files"])]
        sections["data.sources.files"] = [("The adopted file", "path", shown)]
        notes.append(Decision("source", "file", path.suffix.lower(), "ingest reads it"))
    return {"data": data, "sections": sections}, notes


def adopt(
    source: str,
    roles: Roles,
    targets: Targets,
    *,
    table: str | None = None,
    kinds: tuple[str, ...] = (),
    root: Path,
    min_metric: float | None = None,
    report: Report | None = None,
) -> Adoption:
    """Read, decide, render and write; nothing is written unless every step succeeded.

    A file bigger than the inference sample is never read whole: a seeded sample decides the
    types and roles, one streamed pass counts what the contract must hold (``report`` gets a
    progress line per chunk).
    """
    target = check_min_metric(min_metric)
    config, notes = source_config(source, table, kinds, root)
    started = perf_counter()
    big = open_big(source)
    seconds: dict[str, float] = {}
    if big is None:
        frame, fmt = read_table(source, table)
        seconds["read"] = perf_counter() - started
        started = perf_counter()
        adoption = infer_contract(frame, roles)
    else:
        fmt = big.fmt
        sample, wholes = big.read(report, roles.key)
        seconds |= big.seconds  # the sample and the streamed counts, pass by pass
        started = perf_counter()
        adoption = infer_contract(sample, roles, wholes)
    seconds["decide"] = perf_counter() - started
    adoption.seconds = seconds
    adoption.csv, adoption.min_metric = fmt, target
    if fmt is not None:
        notes.insert(
            0, Decision("source", "CSV", fmt.describe(), "recorded in [data.csv] for ingest/score")
        )
    adoption.decisions[:0] = notes
    if target is None:
        adoption.decisions.append(
            Decision(
                "quality target",
                "not declared",
                "no --min-metric",
                "the gate holds models to the baseline's interval, the champion and the slices;"
                " `ready` lists the target as open",
            )
        )
    else:
        adoption.decisions.append(
            Decision(
                "quality target",
                f"min_metric {target}",
                "given by --min-metric",
                f"[gate] min_metric = {target}: models below it are refused",
            )
        )
    shown = f"{_safe(source)}#{table}" if table else Path(source).name
    started = perf_counter()
    write(adoption, targets, shown, config)
    adoption.seconds["write"] = perf_counter() - started
    return adoption


def adopt_into_pilot(
    source: str,
    roles: Roles,
    *,
    table: str | None = None,
    min_metric: float | None = None,
    report: Report | None = None,
) -> tuple[Adoption, list[str]]:
    """``adopt`` into this pilot: its contract, its profile, its config/pilot.toml."""
    here = Path(__file__).parent
    targets = Targets(here / "schema.py", here / "profile.json", PROJECT_ROOT / "config/pilot.toml")
    kinds = tuple(str(k) for k in get_args(SourceName))
    adoption = adopt(
        source,
        roles,
        targets,
        table=table,
        kinds=kinds,
        root=PROJECT_ROOT,
        min_metric=min_metric,
        report=report,
    )
    written = [_shown(p) for p in (targets.schema, targets.profile, targets.config)]
    return adoption, written


def _shown(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)
