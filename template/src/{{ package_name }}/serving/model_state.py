"""The live model: loaded from the registry alias, swapped in place when the alias moves.

``watch`` polls the alias every ``model.alias_poll_seconds``; when it points at another
version, the new model is loaded off the event loop and then swapped in with one assignment,
so a request sees either the old model or the new one, never a mix, and nothing restarts.
If the registry is unreachable the current model keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from ..model.registry import ModelRef
from ..model.scorer import Scorer, build_scorer
from ..settings import Settings
from .versions import VersionSource

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    ref: ModelRef
    scorer: Scorer
    loaded_at: float = field(default_factory=time.time)


class ModelState:
    """The live model, or the reason there is none yet."""

    def __init__(self, source: VersionSource, alias: str | None = None) -> None:
        self.source = source
        self.alias = alias  # None: settings.serving.alias (the shadow passes its own)
        self.current: LoadedModel | None = None
        self.reason = "model not loaded yet"
        self._task: asyncio.Task[None] | None = None

    def target(self, settings: Settings) -> str:
        return f"{settings.model.name}@{self.alias or settings.serving.alias}"

    def _latest(self, settings: Settings, known: str | None) -> LoadedModel | None:
        """The version behind the alias, loaded; None when it is ``known``."""
        found = self.source.latest(self.alias or settings.serving.alias, known)
        return None if found is None else LoadedModel(found[0], build_scorer(found[1]))

    def load(self, settings: Settings) -> None:
        try:
            self.current = self._latest(settings, None)
        except Exception as exc:
            self.current = None
            self.reason = f"cannot load model '{self.target(settings)}': {exc}"
            log.warning(self.reason)

    def refresh(self, settings: Settings) -> bool:
        """Reload if the alias moved; True when another version was swapped in."""
        try:
            known = self.current.ref.version if self.current is not None else None
            loaded = self._latest(settings, known)
            if loaded is None:
                return False
        except Exception as exc:
            if self.current is None:
                self.reason = f"cannot load model '{self.target(settings)}': {exc}"
            log.warning("alias check failed, keeping the current model: %s", exc)
            return False
        old = self.current.ref.version if self.current else "none"
        self.current = loaded  # one assignment: the swap is atomic for readers
        new = loaded.ref
        log.warning("alias %s moved: now serving version %s (was %s)", new.alias, new.version, old)
        return True

    def watch(self, settings: Settings) -> None:
        """Start polling the alias in the background (call from the running event loop)."""

        async def poll() -> None:
            while True:
                await asyncio.sleep(settings.model.alias_poll_seconds)
                await asyncio.to_thread(self.refresh, settings)

        self._task = asyncio.get_running_loop().create_task(poll())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
