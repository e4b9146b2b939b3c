"""The live model: loaded from the registry alias, or the reason there is none."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..model.registry import ModelRef, load_pipeline, resolve_alias
from ..settings import Settings
from .scorer import CompiledScorer

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    ref: ModelRef
    scorer: CompiledScorer


class ModelState:
    """The live model, or the reason there is none yet."""

    def __init__(self) -> None:
        self.current: LoadedModel | None = None
        self.reason = "model not loaded yet"

    def load(self, settings: Settings) -> None:
        try:
            ref = resolve_alias(settings)
            self.current = LoadedModel(ref, CompiledScorer(load_pipeline(settings, ref)))
        except Exception as exc:
            self.current = None
            self.reason = (
                f"cannot load model '{settings.model.name}@{settings.serving.alias}': {exc}"
            )
            log.warning(self.reason)
