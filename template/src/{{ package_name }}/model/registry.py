"""MLflow wiring: where runs and models live, and how the served model is found."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PilotError
from ..settings import Settings


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


def resolve_alias(settings: Settings, alias: str | None = None) -> ModelRef:
    client = configure(settings)
    alias = alias or settings.serving.alias
    mv = client.get_model_version_by_alias(settings.model.name, alias)
    return _ref(mv, alias)


def find_alias(settings: Settings, alias: str) -> ModelRef | None:
    """The version behind an alias, or None when the alias (or the model) does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return resolve_alias(settings, alias)
    except MlflowException as exc:
        if exc.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}:
            return None
        raise


def get_version(settings: Settings, version: str) -> ModelRef:
    from mlflow.exceptions import MlflowException

    client = configure(settings)
    try:
        return _ref(client.get_model_version(settings.model.name, version), "")
    except MlflowException:
        raise RegistryError(
            f"model '{settings.model.name}' has no version {version!r} in the registry"
        ) from None


def load_pipeline(settings: Settings, ref: ModelRef) -> Any:
    import mlflow.sklearn

    configure(settings)
    return mlflow.sklearn.load_model(f"models:/{ref.name}/{ref.version}")


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
    if flavor.get("serialization_format") != "skops" or allowed not in {"true", "1"}:
        import mlflow.sklearn

        return mlflow.sklearn.load_model(str(model_dir))
    import skops.io

    trusted = list(flavor.get("skops_trusted_types") or [])
    return skops.io.load(model_dir / flavor["pickled_model"], trusted=trusted)
