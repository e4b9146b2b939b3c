"""The registry child: resolves aliases and downloads versions for the service, off its process.

``serve`` starts this module before it imports the web stack, and asks it for its aliases
at once: the child spends its time in MLflow (imports, the registry store, the download)
while the service imports FastAPI, scikit-learn and the scorer, so on two cores the two
halves of the start overlap. Later alias checks go to the same child, so MLflow's imports
and registry queries never run in the serving process (``serving/versions.py``).

One JSON request per line on stdin, ``{"alias": ..., "known": version or null}``; one JSON
answer per line on stdout: ``{"same": true}`` when the alias still points at ``known``,
``{"ref": {...}, "path": dir}`` with the version's model directory downloaded under DEST,
or ``{"error": reason}``. The child exits when stdin closes.

    python -m <package>.model.fetch DEST
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from ..settings import get_settings
from .registry import download_version, resolve_alias


def answer(dest: Path, request: dict[str, Any]) -> dict[str, Any]:
    settings = get_settings()
    try:
        ref = resolve_alias(settings, request["alias"])
        if ref.version == request.get("known"):
            return {"same": True}
        path = download_version(settings, ref, dest / ref.alias / ref.version)
        return {"ref": dataclasses.asdict(ref), "path": str(path)}
    except Exception as exc:  # one line back to the service, which keeps its current model
        return {"error": (str(exc).strip() or type(exc).__name__).splitlines()[0]}


def main(dest: Path) -> None:
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(answer(dest, json.loads(line))), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
