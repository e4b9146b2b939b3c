"""MLflow wiring: where runs and models live, and how the served model is found.

A registry in a local SQLite file is read directly for the two questions every scoring process
asks (which version is behind an alias, where its model directory is) and the pipeline is
loaded from that directory: MLflow's imports and its store's start cost a second or more per
process, for two reads. The tables are read on every call, read-only, so a moved alias is seen
at once; anything else (a tracking server, workspaces, a schema or row not as expected, a
version or alias not found) goes through MLflow, which gives the answer or the error.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from ..errors import PilotError
from ..settings import Settings

if TYPE_CHECKING:
    from .scorer import Scorer


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str
    alias: str
    run_id: str
    tags: dict[str, str]
    created_ms: int


def configure(settings: Settings) -> Any:
    """Point MLflow at the configured stores and return a client."""
    import mlflow
    from mlflow import MlflowClient

    tracking = settings.sqlite_abs(settings.mlflow.tracking_uri)
    if tracking.startswith("sqlite:///"):
        Path(tracking.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking)
    registry = settings.mlflow.registry_uri
    if registry:
        mlflow.set_registry_uri(settings.sqlite_abs(registry))
    return MlflowClient()


def ensure_experiment(settings: Settings) -> str:
    import mlflow

    configure(settings)
    name = settings.mlflow.experiment
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    location = settings.mlflow.artifact_location
    if "://" not in location:
        path = settings.path(location)
        path.mkdir(parents=True, exist_ok=True)
        location = path.as_uri()
    if settings.mlflow.tracking_uri.startswith("http"):
        location = ""  # a tracking server decides where artifacts go (its artifact proxy)
    return str(mlflow.create_experiment(name, artifact_location=location or None))


class RegistryError(PilotError):
    """A registry lookup that failed, reported as one line."""


def _ref(mv: Any, alias: str) -> ModelRef:
    return ModelRef(
        name=mv.name,
        version=str(mv.version),
        alias=alias,
        run_id=mv.run_id or "",
        tags=dict(mv.tags or {}),
        created_ms=int(mv.creation_timestamp or 0),
    )


# MLflow's registry tables as its SQL store writes them (MLflow 3: every row in a workspace,
# "default" unless workspaces are enabled); a version marked deleted is not one.
_WORKSPACE, _DELETED = "default", "Deleted_Internal"
_ALIAS_SQL = (
    "SELECT v.name, v.version, v.run_id, v.creation_time FROM registered_model_aliases a"
    " JOIN model_versions v ON v.workspace = a.workspace AND v.name = a.name"
    " AND v.version = a.version WHERE a.workspace = ? AND a.name = ? AND a.alias = ?"
    " AND v.current_stage != ?"
)
_VERSION_SQL = (
    "SELECT name, version, run_id, creation_time FROM model_versions"
    " WHERE workspace = ? AND name = ? AND version = ? AND current_stage != ?"
)
_TAGS_SQL = (
    'SELECT "key", value FROM model_version_tags WHERE workspace = ? AND name = ? AND version = ?'
)
_LOCATION_SQL = (
    "SELECT run_id, storage_location FROM model_versions"
    " WHERE workspace = ? AND name = ? AND version = ? AND current_stage != ?"
)


def local_registry(settings: Settings) -> Path | None:
    """The registry's SQLite file, when MLflow would read the registry from one."""
    uri = settings.sqlite_abs(settings.mlflow.registry_uri or settings.mlflow.tracking_uri)
    workspaces = os.environ.get("MLFLOW_ENABLE_WORKSPACES", "").lower() in {"true", "1"}
    if not uri.startswith("sqlite:///") or workspaces or os.environ.get("MLFLOW_WORKSPACE"):
        return None
    path = Path(uri.removeprefix("sqlite:///").split("?", 1)[0])
    return path if path.is_file() else None


@contextlib.contextmanager
def _local_snapshot(settings: Settings) -> Iterator[sqlite3.Connection | None]:
    """A read-only transaction on the local registry; None when MLflow must answer."""
    db = local_registry(settings)
    if db is None:
        yield None
        return
    with contextlib.closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=10)) as c:
        c.execute("BEGIN")  # one snapshot for every query
        yield c


def _local_ref(settings: Settings, sql: str, key: Any, alias: str) -> ModelRef | None:
    name = settings.model.name
    try:
        with _local_snapshot(settings) as conn:
            if conn is None:
                return None
            found = conn.execute(sql, (_WORKSPACE, name, key, _DELETED)).fetchall()
            if len(found) != 1:
                return None
            name, version, run_id, created = found[0]
            tags = conn.execute(_TAGS_SQL, (_WORKSPACE, name, version)).fetchall()
    except sqlite3.Error:  # locked, another schema, not a database: MLflow decides
        return None
    return ModelRef(
        name=name,
        version=str(version),
        alias=alias,
        run_id=run_id or "",
        tags=dict(tags),
        created_ms=int(created or 0),
    )


def resolve_alias(settings: Settings, alias: str | None = None) -> ModelRef:
    alias = alias or settings.serving.alias
    local = _local_ref(settings, _ALIAS_SQL, alias, alias)
    if local is not None:
        return local
    client = configure(settings)
    mv = client.get_model_version_by_alias(settings.model.name, alias)
    return _ref(mv, alias)


def find_alias(settings: Settings, alias: str) -> ModelRef | None:
    """The version behind an alias, or None when the alias (or the model) does not exist."""
    local = _local_ref(settings, _ALIAS_SQL, alias, alias)
    if local is not None:
        return local
    from mlflow.exceptions import MlflowException

    try:
        return resolve_alias(settings, alias)
    except MlflowException as exc:
        if exc.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}:
            return None
        raise


def get_version(settings: Settings, version: str) -> ModelRef:
    if version.isdigit():  # MLflow's own message for anything else
        local = _local_ref(settings, _VERSION_SQL, int(version), "")
        if local is not None:
            return local
    from mlflow.exceptions import MlflowException

    client = configure(settings)
    try:
        return _ref(client.get_model_version(settings.model.name, version), "")
    except MlflowException:
        raise RegistryError(
            f"model '{settings.model.name}' has no version {version!r} in the registry"
        ) from None


def local_model_dir(settings: Settings, ref: ModelRef) -> Path | None:
    """The version's model directory in a local artifact store, when the local registry holds
    that version of that run (a re-created registry's "version 1" is another model)."""
    if not ref.version.isdigit():
        return None
    try:
        with _local_snapshot(settings) as conn:
            if conn is None:
                return None
            key = (_WORKSPACE, ref.name, int(ref.version), _DELETED)
            found = conn.execute(_LOCATION_SQL, key).fetchall()
    except sqlite3.Error:
        return None
    if len(found) != 1:
        return None
    run_id, location = found[0]
    if (run_id or "") != ref.run_id or not str(location or "").startswith("file://"):
        return None
    path = Path(url2pathname(urlparse(location).path))
    return path if (path / "MLmodel").is_file() else None


def load_pipeline(settings: Settings, ref: ModelRef) -> Any:
    local = local_model_dir(settings, ref)
    if local is not None:
        return load_downloaded(local)
    import mlflow.sklearn

    configure(settings)
    return mlflow.sklearn.load_model(f"models:/{ref.name}/{ref.version}")


def compiled_dir(settings: Settings) -> Path | None:
    """Where compiled scorers (model/scorer.py) live: beside the local registry they derive
    from, one file per model directory's content (so they go when the registry goes)."""
    db = local_registry(settings)
    return None if db is None else db.parent / "compiled-scorers"


def load_scorer(settings: Settings, ref: ModelRef) -> Scorer:
    """The version's scorer: its compiled arrays when a local registry's version has been
    compiled before, else built from the pipeline (and compiled for the next process)."""
    from .scorer import build_scorer, compiled_key, load_compiled, save_compiled

    model_dir, cache = local_model_dir(settings, ref), compiled_dir(settings)
    if model_dir is None or cache is None:
        return build_scorer(load_pipeline(settings, ref))
    key = compiled_key(model_dir)
    scorer = load_compiled(cache, key)
    if scorer is None:
        scorer = build_scorer(load_downloaded(model_dir))
        save_compiled(cache, key, scorer)
    return scorer


def download_version(settings: Settings, ref: ModelRef, dest: Path) -> Path:
    """The version's model directory (MLmodel and the saved pipeline), copied under ``dest``."""
    import mlflow.artifacts

    configure(settings)
    uri = f"models:/{ref.name}/{ref.version}"
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dest)))


def import_loader() -> None:
    """Import what ``load_downloaded`` needs (skops, scikit-learn), ahead of the first load."""
    import skops.io  # noqa: F401
    import yaml  # noqa: F401


def load_downloaded(model_dir: Path) -> Any:
    """The pipeline in a downloaded model directory, without importing MLflow.

    Training saves it with skops (``mlflow.sklearn``'s default format) and lists the types
    skops must trust in the MLmodel file; the same load ``mlflow.sklearn.load_model`` does.
    Any other format, or MLflow's deserialization switch turned off, goes through MLflow.
    """
    import yaml

    flavor = yaml.safe_load((model_dir / "MLmodel").read_text())["flavors"]["sklearn"]
    allowed = os.environ.get("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true").lower()
    plain = flavor.get("serialization_format") == "skops" and not flavor.get("code")
    if not plain or allowed not in {"true", "1"}:  # MLflow's own load (and its code paths)
        import mlflow.sklearn

        return mlflow.sklearn.load_model(str(model_dir))
    import skops.io

    trusted = list(flavor.get("skops_trusted_types") or [])
    return skops.io.load(model_dir / flavor["pickled_model"], trusted=trusted)
