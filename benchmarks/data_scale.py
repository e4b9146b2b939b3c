"""Benchmark: the path that builds a model (adopt, ingest, train) at real sizes.

    python benchmarks/data_scale.py                       # generate a default pilot; 2M rows
    python benchmarks/data_scale.py --rows 2000000 20000000
    python benchmarks/data_scale.py --project DIR         # reuse a generated pilot (verify=false)
    python benchmarks/data_scale.py --repeat 3            # ingest, train and peers: median of 3
    python benchmarks/data_scale.py --write-doc           # record docs/benchmark.md

For each size, the pilot's own demo table (its synthetic generator, unique keys) is written as
Parquet, then each step runs in a fresh process of the pilot's environment and is measured
whole (wall, CPU of the process and its children, peak RSS through ``wait4``):

- ``data adopt`` of the Parquet file (it infers the contract; ingest then reads the file);
- ``ingest``, against a peer in the same run: ``pd.read_parquet`` + the contract's
  ``PilotSchema.validate(lazy=True)``, what a user would write by hand (it protects no PII,
  quarantines nothing, records no lineage and writes no table);
- ``train`` (the configured family), against a peer in the same run: the bare ``fit`` of the
  same estimator on the same prepared arrays (the training table read and transformed first,
  untimed), and its peak RSS against the training table's size decoded by Arrow;
- ``score`` of 100,000 rows with the champion (``promote`` to staging and production first,
  untimed).

A step that fails or runs out of memory is recorded as such, whatever it is: at 20M rows the
peer may not fit. Prints the figures and the issue's goals; asserts nothing.

The pilot is left with its own demo contract again (each table is deleted after its size), so
a pilot given with ``--project`` can be measured again.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from doc import write_section
from serve_vs_mlflow import (
    Step,
    cli_name,
    generate,
    machine,
    make_table,
    project_env,
    sh,
    uv_bin,
)
from serve_vs_mlflow import measured as shared_measured

ROOT = Path(__file__).resolve().parents[1]
SCORE_ROWS = 100_000

# Runs inside the pilot's environment: the peers (the tables come from ``make_table``).
WORKER = r"""
import json, sys, time
from importlib import import_module
from pathlib import Path
mode, package = sys.argv[1], sys.argv[2]
if mode == "peer-ingest":
    import pandas as pd
    schema = import_module(f"{package}.data.schema")
    frame = pd.read_parquet(sys.argv[3])
    frame = frame.rename(columns=getattr(schema, "RENAMES", {}))
    schema.PilotSchema.validate(frame, lazy=True)
elif mode == "peer-fit":
    import pandas as pd
    settings = import_module(f"{package}.settings").get_settings()
    train = import_module(f"{package}.model.train")
    features = import_module(f"{package}.features")
    metrics = import_module(f"{package}.model.metrics")
    frame = pd.read_parquet(settings.training_table)
    pipeline = train.build_pipeline(settings.model)
    x = pipeline.named_steps["features"].fit_transform(features.feature_frame(frame))
    y = metrics.label(frame)
    started, cpu = time.perf_counter(), time.process_time()
    pipeline.named_steps["model"].fit(x, y)
    print("FIT " + json.dumps({"seconds": time.perf_counter() - started,
                               "cpu": time.process_time() - cpu, "rows": len(frame)}))
"""


def measured(name: str, cmd: list[str], cwd: Path, env: dict[str, str]) -> Step:
    """The shared measurement; a peer's own clock (its ``FIT`` line: the fit alone, the
    table read before it) replaces the process's wall and CPU."""
    step = shared_measured(name, cmd, cwd, env, quiet=True)
    fit = [line for line in step.output if line.startswith("FIT ")]
    if step.ok and fit:
        numbers = json.loads(fit[-1].removeprefix("FIT "))
        step.seconds, step.cpu = numbers["seconds"], numbers["cpu"]
    print(f"  {name:<28} {step.cells()}", flush=True)
    return step


def in_rounds(
    pair: list[tuple[str, list[str]]], cwd: Path, env: dict[str, str], repeat: int
) -> list[Step]:
    """Each command of ``pair`` ``repeat`` times, in turns (A B A B ...: load elsewhere falls
    on both); for each, the run with the median wall time (a failed run is kept as such)."""
    runs: dict[str, list[Step]] = {name: [] for name, _ in pair}
    for _ in range(repeat):
        for name, cmd in pair:
            runs[name].append(measured(name, cmd, cwd, env))
    out = []
    for steps in runs.values():
        failed = [s for s in steps if not s.ok]
        median = sorted(steps, key=lambda s: s.seconds)[len(steps) // 2]
        out.append(failed[0] if failed else median)
    return out


def _adopted(project: Path, package: str) -> list[Path]:
    """The files `data adopt` writes: the contract, its profile and config/pilot.toml."""
    data = project / "src" / package / "data"
    return [data / "schema.py", data / "profile.json", project / "config" / "pilot.toml"]


DEMO: dict[Path, bytes | None] = {}


def restore_demo(project: Path, package: str) -> None:
    """Each size starts from the generated pilot's own contract (recorded on first use)."""
    for path in _adopted(project, package):
        if path not in DEMO:
            DEMO[path] = path.read_bytes() if path.exists() else None
            continue
        saved = DEMO[path]
        if saved is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(saved)


TABLE_MB: dict[int, float] = {}  # rows -> the training table's decoded Arrow size


def decoded_mb(project: Path, env: dict[str, str], python: str) -> float:
    """The training table `ingest` wrote, decoded whole by Arrow, in MB: what the train's
    peak RSS is held against (at most 3x)."""
    settings = f"{cli_name(project).replace('-', '_')}.settings"
    code = (
        "import importlib, pyarrow.parquet as pq; "
        f"s = importlib.import_module({settings!r}).get_settings(); "
        "print(pq.read_table(s.training_table).nbytes)"
    )
    out = subprocess.run(
        [python, "-c", code], cwd=project, env=env, capture_output=True, text=True, check=True
    )
    return int(out.stdout.split()[-1]) / 1e6


def run_size(
    project: Path, env: dict[str, str], rows: int, work: Path, repeat: int = 1
) -> list[Step]:
    slug = cli_name(project)
    package = slug.replace("-", "_")
    cli = str(project / ".venv" / "bin" / slug)
    python = str(project / ".venv" / "bin" / "python")
    script = work / "worker.py"
    script.write_text(WORKER)
    table = work / f"table-{rows}.parquet"
    sample = work / "score-input.parquet"
    restore_demo(project, package)  # the generator needs the demo contract adopt replaced
    print(f"rows {rows:,}: making the table", flush=True)
    make_table(project, env, package, rows, table)
    make_table(project, env, package, SCORE_ROWS, sample)
    for state in ("data", "mlruns", "var"):  # each size starts from an empty pilot
        shutil.rmtree(project / state, ignore_errors=True)
    steps = [
        measured(
            "data adopt", [cli, "data", "adopt", str(table), "--label", "churned"], project, env
        ),
        *in_rounds(
            [
                ("peer: read_parquet+validate",
                 [python, str(script), "peer-ingest", package, str(table)]),
                ("ingest", [cli, "ingest"]),
            ],
            project, env, repeat,
        ),
    ]  # fmt: skip
    TABLE_MB[rows] = decoded_mb(project, env, python)
    steps += in_rounds(
        [("train", [cli, "train"]), ("peer: bare fit", [python, str(script), "peer-fit", package])],
        project, env, repeat,
    )  # fmt: skip
    promoted = all(
        subprocess.run(
            [cli, "promote", "--to", stage, "--reason", "benchmark"],
            cwd=project,
            env=env,
            capture_output=True,
            check=False,
        ).returncode
        == 0
        for stage in ("staging", "production")
    )
    if promoted:
        out = work / "scored"
        steps.append(
            measured(
                f"score {SCORE_ROWS:,} rows",
                [
                    cli,
                    "score",
                    "--input",
                    str(sample),
                    "--output",
                    str(out),
                    "--reason",
                    "benchmark",
                ],
                project,
                env,
            )
        )
    else:
        steps.append(Step(f"score {SCORE_ROWS:,} rows", 0, 0, 0, 1, "promotion refused"))
    return steps


def goals(rows: int, steps: dict[str, Step]) -> list[str]:
    ok = lambda good: "met" if good else "NOT met"  # noqa: E731
    ingest, peer = steps["ingest"], steps["peer: read_parquet+validate"]
    train, fit = steps["train"], steps["peer: bare fit"]
    out = []
    if ingest.ok and peer.ok:
        wall, rss = ingest.seconds / peer.seconds, ingest.rss_mb / peer.rss_mb
        out.append(
            f"- ingest wall {wall:.2f}x the peer's (goal <= 1.5x at 2M): {ok(wall <= 1.5)}; "
            f"peak RSS {rss:.2f}x (goal <= 0.5x): {ok(rss <= 0.5)}"
        )
    else:
        out.append(
            f"- ingest {'ok' if ingest.ok else 'failed'}; peer "
            f"{'ok' if peer.ok else 'failed: ' + peer.tail}"
        )
    if train.ok and fit.ok:
        bound = 2 * fit.seconds + 5
        out.append(
            f"- train {train.seconds:.1f} s against 2 x bare fit {fit.seconds:.1f} s + 5 s"
            f" = {bound:.1f} s: {ok(train.seconds <= bound)}"
        )
    if train.ok and rows in TABLE_MB:
        share = train.rss_mb / TABLE_MB[rows]
        out.append(
            f"- train peak RSS {train.rss_mb:,.0f} MB = {share:.2f}x the training table decoded"
            f" by Arrow ({TABLE_MB[rows]:,.0f} MB; goal <= 3x): {ok(share <= 3)}"
        )
    if rows >= 20_000_000:
        adopt = steps["data adopt"]
        out.append(
            f"- 20M: adopt <= 30 s: {ok(adopt.ok and adopt.seconds <= 30)}; ingest <= 60 s"
            " within 2 GB: "
            f"{ok(ingest.ok and ingest.seconds <= 60 and ingest.rss_mb <= 2048)};"
            f" train <= 300 s within 12 GB: "
            f"{ok(train.ok and train.seconds <= 300 and train.rss_mb <= 12288)}"
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="a generated pilot (verify=false is fine)")
    parser.add_argument("--rows", type=int, nargs="+", default=[2_000_000], help="table sizes")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of ingest, train and their peers (median)"
    )
    parser.add_argument("--write-doc", action="store_true", help="record docs/benchmark.md")
    args = parser.parse_args()
    if args.project is None:
        project = generate(Path(tempfile.mkdtemp(prefix="shipshape-scale-")) / "churn-pilot")
    else:
        project = args.project.resolve()
    env = project_env(project) | {"APP_ENV": "dev"}
    if not (project / "uv.lock").exists():
        sh([uv_bin(), "lock", "-q"], cwd=project, env=env)
    sh([uv_bin(), "sync", "-q", "--locked", "--compile-bytecode"], cwd=project, env=env)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    where = machine()
    print(f"benchmark: {where}")
    lines = [
        "| rows | step | wall s | CPU s | peak RSS MB | result |",
        "| ---: | --- | ---: | ---: | ---: | --- |",
    ]
    summary: list[str] = []
    for rows in args.rows:
        work = Path(tempfile.mkdtemp(prefix="scale-", dir=project.parent))
        try:
            steps = run_size(project, env, rows, work, args.repeat)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            restore_demo(project, cli_name(project).replace("-", "_"))
        lines += [f"| {rows:,} | {s.name} | {s.cells()} |" for s in steps]
        summary += [f"At {rows:,} rows:", *goals(rows, {s.name: s for s in steps})]
    print("\n" + "\n".join(lines) + "\n\n" + "\n".join(summary))
    if args.write_doc:
        doc = write_section(
            "Real sizes: adopt, ingest and train",
            "Produced by `python benchmarks/data_scale.py --write-doc --rows "
            + " ".join(str(r) for r in args.rows)
            + f" --repeat {args.repeat}` (the latest run is recorded here). Each step is a fresh "
            "process of the pilot's environment, measured whole (wall, CPU with children, peak "
            "RSS); the peers run in the same run on the same table, in turns with the step they "
            "are held against, and each line is the run with the median wall time.\n\n"
            f"Run: {started}, on {where}.\n\n"
            + "\n".join(lines)
            + "\n\n"
            + "\n".join(summary)
            + "\n",
        )
        print(f"\nwrote {doc.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
