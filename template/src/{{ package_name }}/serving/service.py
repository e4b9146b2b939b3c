"""The service's live parts, without HTTP: keys, models, decision log, window, shadow, metrics.

``Service(settings)`` checks the key configuration and builds them; ``start`` (in the running
event loop) opens the decision log, loads the models and follows their aliases; ``stop`` closes
them in order after the last request. ``decide.py`` makes decisions with one; the app holds one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..records.decision_log import DecisionLog
from ..records.window import PredictionWindow
from ..settings import ConfigError, Settings
from .auth import Authenticator, KeyConfigError, key_problems, load_keys
from .metrics import Metrics
from .model_state import ModelState
from .schemas import answers_of, body_adapter
from .shadow import Score, Shadow
from .versions import InProcess, VersionSource


class InFlight:
    """How many requests the service is working on right now."""

    def __init__(self) -> None:
        self.n = 0


class Service:
    def __init__(self, settings: Settings, versions: VersionSource | None = None) -> None:
        problems = key_problems(settings)
        if problems:
            raise ConfigError(problems[0])
        try:
            self.auth = Authenticator(load_keys(settings))
        except (OSError, KeyConfigError) as exc:  # pragma: no cover - key_problems reports it
            raise ConfigError(str(exc)) from None
        serving = settings.serving
        self.settings = settings
        self.threshold = settings.model.decision_threshold
        monitors = settings.monitoring
        self.metrics = Metrics(
            [settings.path(monitors.prom_path), settings.path(monitors.live_prom_path)]
        )
        self.inflight = InFlight()
        self.versions = versions or InProcess(settings)
        self.model = ModelState(self.versions)
        self.shadow_model = (
            ModelState(self.versions, serving.shadow_alias) if serving.shadow_alias else None
        )
        log_dir = settings.path(serving.decision_log_dir)
        self.decisions = DecisionLog(
            log_dir, serving.decision_log_max_bytes, on_commit=self.metrics.decision_batch.observe
        )
        self.shadow = Shadow(
            log_dir,
            self.metrics,
            self._shadow_scorer,
            serving.shadow_queue,
            serving.shadow_tolerance,
        )
        self.window = PredictionWindow(
            settings.path(settings.monitoring.window_path),
            settings.monitoring.window_rows,
            settings.monitoring.sample_rate,
        )
        self.body = body_adapter(serving.max_batch_rows)

    def start(self) -> None:
        """Open the decision log, load the model(s) and follow their aliases (in the loop)."""
        self.decisions.start()
        self.model.load(self.settings)
        self.model.watch(self.settings)  # promote/rollback apply without a restart
        self.metrics.model_loaded.set(1 if self.model.current else 0)
        if self.shadow_model is not None:
            self.shadow_model.load(self.settings)
            self.shadow_model.watch(self.settings)
            self.metrics.shadow_loaded.set(1 if self.shadow_model.current else 0)
            self.shadow.start()

    async def stop(self) -> None:
        """Stop following aliases, then flush the logs (after in-flight requests drained)."""
        await self.model.stop()
        if self.shadow_model is not None:
            await self.shadow_model.stop()
            self.shadow.stop()
        self.versions.close()
        await self.decisions.aclose()
        self.window.flush()

    def reload(self) -> None:
        """Load the model behind the alias now."""
        self.model.load(self.settings)
        self.metrics.model_loaded.set(1 if self.model.current else 0)

    def _shadow_scorer(self) -> tuple[str, str, Score] | None:
        """(name, version, score) of the shadow now, scoring as the decision log's outputs."""
        loaded = self.shadow_model.current if self.shadow_model is not None else None
        self.metrics.shadow_loaded.set(0 if loaded is None else 1)
        if loaded is None:
            return None
        scorer, threshold = loaded.scorer, self.threshold

        def score(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
            return answers_of(scorer.score(rows), threshold)

        return loaded.ref.name, loaded.ref.version, score
