"""How the monitors publish: a JSON report (stamped, plus a ``latest`` copy) and a Prometheus
textfile of gauges, both written atomically so a reader never sees half a file.

The service serves the ``.prom`` files on its ``/metrics`` when it shares the monitors'
volume (``serving/metrics.py``); elsewhere a node exporter's textfile collector can. The
alert rules in ``deploy/monitoring/alerts.yaml`` read the gauges.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .. import atomic


class Gauges:
    """Prometheus text exposition of ``pilot_*`` gauges, one family at a time."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def add(self, name: str, help_text: str, samples: Iterable[tuple[str, float]]) -> None:
        """One gauge family; each sample is (labels without braces, value)."""
        self._lines += [f"# HELP pilot_{name} {help_text}", f"# TYPE pilot_{name} gauge"]
        # Concatenated, not an f-string: Prometheus' label braces would need doubling.
        self._lines += ["pilot_" + name + "{" + labels + "} " + f"{v:.6g}" for labels, v in samples]

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


def write_report(
    out_dir: Path, kind: str, generated_at: float, data: dict[str, Any], latest: str
) -> Path:
    """``<kind>-<UTC stamp>.json``, and the same as ``latest`` (what ``ready`` reads)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(generated_at))
    path = out_dir / f"{kind}-{stamp}.json"
    text = json.dumps(data, indent=2)
    for target in (path, out_dir / latest):
        atomic.write_text(target, text)
    return path
