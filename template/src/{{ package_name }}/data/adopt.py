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
import csv
import io
import json
import keyword
import re
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from string import Template
from time import perf_counter
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from .. import atomic
from ..settings import PROJECT_ROOT, SourceName, get_settings
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
    labels: pd.Series = field(default_factory=lambda: pd.Series(dtype=object), repr=False)
    # Columns whose parsed values replace the text when the file is loaded into SQL.
    loaded: dict[str, pd.Series] = field(default_factory=dict, repr=False)
    seconds: dict[str, float] = field(default_factory=dict)  # per step: read, decide, load, write

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


def read_csv(path: Path, fmt: CsvFormat) -> pd.DataFrame:
    """The file as pandas reads it with ``fmt``; columns pandas would turn into booleans keep
    their text (``TRUE``/``no``...), the values every later reader sees."""
    options: dict[str, Any] = {
        "sep": fmt.delimiter,
        "encoding": fmt.encoding,
        "na_values": list(fmt.na_values),
        "keep_default_na": False,
        "low_memory": False,
    }
    frame: pd.DataFrame = pd.read_csv(path, **options)
    flags = [c for c in frame.columns if _is_flag(frame[c])]
    if flags:
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
    return TimeText(parsed, form)


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


def _py(value: Any) -> Any:
    """A numpy scalar as the Python value the rendered contract spells."""
    return value.item() if isinstance(value, np.generic) else value


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


def infer_task(present: pd.Series, kind: str) -> Task:
    """Two values are binary whatever they are; text or a few integers are classes."""
    distinct = present.nunique()
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
    name: str, source: str, values: pd.Series, roles: Roles
) -> tuple[Column, Task, Any, list[Decision]]:
    """The label column, the task, the positive class (binary) and the decisions' lines."""
    present, kind = _label_values(source, values)
    distinct = int(present.nunique())
    if distinct == 0:
        raise AdoptError(f"label '{source}': no row has a value; nothing to learn")
    if distinct < 2:
        raise AdoptError(f"label '{source}': constant (one value in every row); nothing to learn")
    if len(present) < MIN_ROWS:
        raise AdoptError(
            f"label '{source}': {len(present)} rows have a label; adopt needs at least {MIN_ROWS}"
        )
    inferred = infer_task(present, kind)
    chosen = roles.task or inferred
    why = "given by --task" if roles.task else _task_reason(inferred, present)
    if roles.positive is not None and chosen != "binary":
        raise AdoptError(f"--positive {roles.positive}: label '{source}' is {chosen}, not binary")
    positive: Any = None
    if chosen == "binary":
        if distinct != 2:
            shown = _shown_values(sorted(str(v) for v in present.unique()))
            raise AdoptError(
                f"label '{source}': --task binary needs two values; it has {distinct} ({shown})"
            )
        if kind == "float":
            raise AdoptError(f"label '{source}': --task binary needs two integer or text values")
        counts = present.value_counts()
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
            raise AdoptError(f"label '{source}': {distinct} classes; too many to learn")
        if kind == "float":
            raise AdoptError(f"label '{source}': --task multiclass needs integer or text classes")
        classes = sorted(_py(v) for v in present.unique())
        col = Column(name, source, "label", kind, categories=classes, reason=why)
    else:
        if kind not in {"int", "float"}:
            raise AdoptError(f"label '{source}': --task regression needs numeric values")
        ge, le = _bounds(present, integer=False)
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
    missing = int(values.isna().sum())
    if missing:
        notes.append(
            Decision(
                shown,
                "unlabeled rows",
                f"{missing} of {len(values)} rows have no label",
                "scored, not trained on: ingest keeps them apart as unlabeled",
            )
        )
    return col, chosen, positive, notes


def _task_reason(task: Task, present: pd.Series) -> str:
    if task == "binary":
        a, b = sorted(str(v) for v in present.unique())
        return f"two values, {a} and {b}"
    if task == "multiclass":
        return f"{present.nunique()} distinct values"
    return "numeric values with many distinct values"


def _feature(name: str, source: str, values: pd.Series, kind: str) -> Column:
    nullable = bool(values.isna().any())
    present = values.dropna()
    if kind in {"int", "float"}:
        integer = kind == "int" or _integral(present)
        ge, le = _bounds(present, integer)
        default: float | None = None
        if nullable:
            median = float(present.median())
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


def _check_rows(frame: pd.DataFrame) -> None:
    if len(frame) < MIN_ROWS:
        raise AdoptError(f"table: {len(frame)} rows; adopt needs at least {MIN_ROWS}")


def _key_column(frame: pd.DataFrame, names: dict[str, str], roles: Roles) -> Column | None:
    exclude = {roles.label, *roles.protected, *roles.not_protected, *roles.pii}
    key, why = roles.key, "given by --key"
    if key is None:
        key, why = _guess_key(frame, names, exclude)
    if key is None:
        return None
    values = frame[key]
    if roles.key is not None:  # a guessed key was proven unique and complete already
        dupes = int(values.duplicated().sum())
        if dupes:
            raise AdoptError(f"key '{key}': not unique ({dupes} duplicate values)")
        if values.isna().any():
            raise AdoptError(f"key '{key}': {int(values.isna().sum())} rows have no key")
    dtype = "int" if _kind_of(key, values) == "int" else "str"
    return Column(names[key], key, "key", dtype, unique=True, reason=why, action="key")


def _guess_key(
    frame: pd.DataFrame, names: dict[str, str], exclude: set[str]
) -> tuple[str | None, str]:
    """An id-like name with a unique value per row, else a written-out row number."""
    for c, name in names.items():
        tokens = _tokens(name)
        if c in exclude or not tokens or tokens[-1] not in {"id", "key", "uuid", "nr", "no"}:
            continue
        values = frame[c]
        if values.notna().all() and not values.duplicated().any():
            return c, "an id-like name with a unique value per row"
    for c, name in names.items():
        values = frame[c]
        if c in exclude or values.isna().any() or _kind_of(c, values) != "int":
            continue
        if values.duplicated().any():
            continue
        if name in ROW_NUMBER_NAMES or name.startswith("unnamed"):
            return c, "a row name or number, one per row; never a feature"
        lo, hi = int(values.min()), int(values.max())
        if hi - lo + 1 == len(values):  # 1..n in some order: a numbering, whatever its name
            return c, f"a row number ({lo} to {hi}, one per row); never a feature"
    return None, ""


@dataclass(frozen=True)
class Times:
    """The table's date-time columns: the event time (parsed whole) and what else was seen."""

    time: str | None
    parsed: TimeText | None
    dates: dict[str, TimeText]  # every date-time column, judged on the inference sample
    ambiguous: dict[str, str]  # text dates whose day and month cannot be told apart


def _time_columns(
    frame: pd.DataFrame, sample: pd.DataFrame, candidates: list[str], roles: Roles
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
        whole = dates[c] if len(sample) == len(frame) else _as_time(frame[c])
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
    c: str, name: str, values: pd.Series, sample: pd.Series, roles: Roles
) -> tuple[Verdict, str | None]:
    """The role of a column that is neither the label, the key nor the event time."""
    kind = _kind_of(c, sample)
    asked = c in roles.protected or c in roles.not_protected
    if values.nunique() == 1 and not asked:
        why = "one value in every row" + (", or missing" if values.isna().any() else "")
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
        return (_protected(name, c, values, kind, "given by --protected"), "protected"), "protected"
    if hint is not None:
        why = f"{hint}; unanswered"
        return (_protected(name, c, values, kind, why), "protected"), "unanswered"
    answer = "not protected" if c in roles.not_protected else None
    if kind == "bool":
        values = values.map(lambda v: None if pd.isna(v) else str(bool(v)))
        kind = "str"
    distinct = values.nunique()
    if kind == "str" and (distinct > MAX_CATEGORIES or distinct > 0.5 * values.notna().sum()):
        dates = _as_time(sample)
        if dates.ambiguous:
            why = f"dates as text, but day and month cannot be told apart ({dates.form})"
            fix = "not in the contract; write them as YYYY-MM-DD to use them"
            return Decision(c, "dropped", why, fix), answer
        why = f"{distinct} distinct strings; too many for a category set"
        return Decision(c, "free text", why, "dropped"), answer
    column = _feature(name, c, values, kind)
    if answer is not None:
        column = replace(column, reason=column.reason + "; not protected, given by --not-protected")
    return (column, None), answer


def infer_contract(frame: pd.DataFrame, roles: Roles) -> Adoption:
    """Decide the contract for ``frame``; raises ``AdoptError`` on the first refusal.

    Types, roles and content patterns are judged on a seeded sample of at most ``INFER_ROWS``
    rows; counts, key uniqueness, ranges and category sets on the whole table.
    """
    columns = [str(c) for c in frame.columns]
    frame = plain(frame.set_axis(columns, axis=1))
    taken: set[str] = set()
    names = {c: identifier(c, taken) for c in columns}
    roles = _resolve(roles, columns, names)
    _check_rows(frame)
    sample = frame
    if len(frame) > INFER_ROWS:
        sample = frame.sample(n=INFER_ROWS, random_state=SAMPLE_SEED).sort_index()
    out: list[Column] = []
    decisions: list[Decision] = []

    def decide(col: Column, what: str | None = None) -> None:
        out.append(col)
        shown = col.source if col.source == col.name else f"{col.source} (as {col.name})"
        decisions.append(Decision(shown, what or col.role, col.reason, col.action))

    label, task, positive, label_notes = _label(
        names[roles.label], roles.label, frame[roles.label], roles
    )
    out.append(label)
    decisions += label_notes
    key = _key_column(frame, names, roles)
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
    times = _time_columns(frame, sample, candidates, roles)
    answers: dict[str, str] = {}
    for c in rest:
        values = frame[c]
        if values.isna().all():
            decisions.append(
                Decision(c, "dropped", "every value is missing", "not in the contract")
            )
        elif c == times.time and times.parsed is not None:
            why = "given by --time" if roles.time else "date-time values"
            if times.parsed.form not in {"", "ISO 8601", "date-time values"}:
                why += f", written as {times.parsed.form}"
            nullable = bool(values.isna().any())
            time_column = Column(names[c], c, "time", "datetime", nullable=nullable, reason=why)
            decide(replace(time_column, action="time"))
        elif c in times.dates:
            why = "a second date-time column"
            decisions.append(Decision(c, "dropped", why, "not in the contract"))
        else:
            verdict, answer = _classify(c, names[c], values, sample[c], roles)
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
    labeled = frame[roles.label].notna()
    adoption = Adoption(
        task=task,
        rows=len(frame),
        columns=out,
        decisions=decisions,
        positive=positive,
        review=review,
        unlabeled=int((~labeled).sum()),
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
    adoption.slices = _slices(adoption, frame)
    parsed: dict[str, pd.Series] = {}
    if times.time and times.parsed and times.parsed.parsed is not None:
        parsed[times.time] = times.parsed.parsed
        if times.parsed.form not in {"ISO 8601", "date-time values"}:
            # Text dates in a local form are loaded (a file loaded into SQL) as ISO text.
            adoption.loaded[times.time] = times.parsed.parsed
    adoption.profile = profile(adoption, frame, sample, parsed)
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


def _protected(name: str, source: str, values: pd.Series, kind: str, why: str) -> Column:
    """A protected attribute: never a feature. Always nullable: a row missing it is still a
    row to train on and score, and the missing ones form their own group in the slices."""
    present = values.dropna()
    action = "never a feature; fairness slices"
    if kind in {"int", "float"}:
        ge, le = _bounds(present, _integral(present))
        few = present.nunique() <= MAX_SLICE_GROUPS
        cats = sorted(float(v) for v in present.unique()) if few else None
        return Column(
            name, source, "protected", "float", nullable=True, ge=ge, le=le, categories=cats,
            reason=why, action=action if few else "never a feature; judged in governance",
        )  # fmt: skip
    if kind == "bool":
        present = present.map(lambda v: str(bool(v)))
    text = present.astype(str)
    names = _categories(text) if text.nunique() <= MAX_CATEGORIES else None
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


def profile(
    adoption: Adoption, frame: pd.DataFrame, sample: pd.DataFrame, times: dict[str, pd.Series]
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


def loadable(frame: pd.DataFrame, adoption: Adoption) -> pd.DataFrame:
    """The rows as a SQL table should hold them: what SQLite would store otherwise is not what
    the contract reads back (booleans become 0/1, text dates in a local form stay unparsed)."""
    out = plain(frame).copy(deep=False)
    for c in out.columns:
        if pd.api.types.is_bool_dtype(out[c]) or (
            pd.api.types.is_object_dtype(out[c])
            and out[c].map(lambda v: isinstance(v, bool | np.bool_)).any()
        ):
            out[c] = out[c].map(lambda v: None if pd.isna(v) else str(bool(v))).astype(object)
    for c, parsed in adoption.loaded.items():
        out[c] = parsed.dt.strftime("%Y-%m-%d %H:%M:%S").where(parsed.notna(), None)
    return out


def adopt(
    source: str,
    roles: Roles,
    targets: Targets,
    *,
    table: str | None = None,
    kinds: tuple[str, ...] = (),
    root: Path,
    local_sql: str | None = None,
    min_metric: float | None = None,
) -> Adoption:
    """Read, decide, render and write; nothing is written unless every step succeeded."""
    target = check_min_metric(min_metric)
    config, notes = source_config(source, table, kinds, root, local_sql)
    started = perf_counter()
    frame, fmt = read_table(source, table)
    read = perf_counter()
    adoption = infer_contract(frame, roles)
    adoption.seconds = {"read": read - started, "decide": perf_counter() - read}
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
    loads = "://" not in source and "files" not in kinds and "sql" in kinds
    if loads and local_sql is not None:  # before the contract: a failed load writes nothing
        started = perf_counter()
        load_into(local_sql, local_table(source), loadable(frame, adoption))
        adoption.seconds["load"] = perf_counter() - started
    started = perf_counter()
    write(adoption, targets, shown, config)
    adoption.seconds["write"] = perf_counter() - started
    return adoption


def adopt_into_pilot(
    source: str,
    roles: Roles,
    *,
    table: str | None = None,
    sql_url: str | None = None,
    min_metric: float | None = None,
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
        source,
        roles,
        targets,
        table=table,
        kinds=kinds,
        root=PROJECT_ROOT,
        local_sql=local,
        min_metric=min_metric,
    )
    written = [_shown(p) for p in (targets.schema, targets.profile, targets.config)]
    return adoption, written


def _shown(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)
