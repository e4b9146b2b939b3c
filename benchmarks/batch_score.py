"""Benchmark: batch `score` (local engine) against MLflow pyfunc predict, same model.

    python benchmarks/batch_score.py                   # generate a default pilot, train, measure
    python benchmarks/batch_score.py --project DIR     # reuse a generated, trained pilot
    python benchmarks/batch_score.py --rows 200000     # a smaller input on a busy machine
    python benchmarks/batch_score.py --write-doc       # also record docs/benchmark.md

On the same N-row Parquet input (the pilot's synthetic generator): the pilot's `run_batch`
end to end (read in chunks, validate every row with the contract, quarantine, score, write
Parquet, publish, record) against `mlflow.pyfunc.load_model(...).predict` on the whole frame
already in memory (prediction only: the peer reads, validates and writes nothing). Peak RSS
of a fresh process scoring 1x and 10x the input shows whether memory stays flat. The Spark
engine (`local[2]`) is measured when the pilot has the `spark` group (`uv sync --group
spark`) and Java is on PATH, else skipped with the reason. Prints ratios; asserts nothing.
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
from serve_vs_mlflow import generate, machine, make_table, prepare, project_env, uv_bin

ROOT = Path(__file__).resolve().parents[1]

# Runs inside the pilot's environment: one measurement per fresh process, JSON on stdout.
WORKER = r"""
import json, resource, shutil, sys, time
from pathlib import Path
mode, package, data = sys.argv[1], sys.argv[2], Path(sys.argv[3])
rows = int(sys.argv[4]) if len(sys.argv) > 4 else 0
cli = __import__(f"{package}.settings", fromlist=["x"])
settings = cli.get_settings()

def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

out = {}
if mode in ("local", "spark"):
    from importlib import import_module
    batch = import_module(f"{package}.batch")
    source = sys.argv[5]
    dest = data / f"out-{mode}-{Path(source).name}"
    shutil.rmtree(dest, ignore_errors=True)
    # Model loading (MLflow imports, registry, artifact) is not timed, as for the peer.
    predict = import_module(f"{package}.batch.predict")
    predict.load_model(settings, predict.model_ref(settings, None, None))
    if mode == "spark":  # the JVM's start (5-10 s) is not timed either; its Python workers' is
        import_module(f"{package}.batch.spark").session(settings)
    started, cpu = time.perf_counter(), time.process_time()
    record = batch.run_batch(
        settings,
        batch.BatchRequest(source, str(dest), "benchmark", actor="benchmark",
                           batch_id=f"bench-{mode}-{Path(source).name}", engine=mode),
    )
    out = {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu,
           "rows": record["rows_read"],
           "scored": record["rows_scored"], "quarantined": record["rows_quarantined"]}
elif mode == "pyfunc":
    import mlflow.pyfunc, pandas as pd
    registry = __import__(f"{package}.model.registry", fromlist=["x"])
    ref = registry.resolve_alias(settings, "champion")
    registry.configure(settings)
    model = mlflow.pyfunc.load_model(f"models:/{ref.name}/{ref.version}")
    frame = pd.read_parquet(data / "x1" / "input.parquet")
    schema = model.metadata.get_input_schema()
    doubles = {c.name: "float64" for c in schema.inputs if "double" in str(c.type)}
    features = frame[schema.input_names()].astype(doubles)
    model.predict(features.head(1000))  # warm-up
    started, cpu = time.perf_counter(), time.process_time()
    model.predict(features)
    out = {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu,
           "rows": len(features)}
    # The pilot's own prediction step on the same frame, for a prediction-only comparison:
    # without explanations, as `score` runs without --explain (pyfunc explains nothing either).
    predict = __import__(f"{package}.batch.predict", fromlist=["x"])
    scorer = predict.load_model(settings, predict.model_ref(settings, None, None))
    started, cpu = time.perf_counter(), time.process_time()
    scorer.scorer.score_frame(frame, explain=False)
    out["compiled_seconds"] = time.perf_counter() - started
    out["compiled_cpu"] = time.process_time() - cpu
out["peak_rss_mb"] = rss_mb()
print("RESULT " + json.dumps(out))
"""


def work(project: Path, env: dict[str, str], *args: str) -> dict[str, float]:
    script = project / "var" / "batch_bench_worker.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text(WORKER)
    cmd = [uv_bin(), "run", "-q", "--locked"]
    if args[0] == "spark":
        cmd += ["--group", "spark"]
    proc = subprocess.run(
        [*cmd, "python", str(script), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{args[0]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    result: dict[str, float] = json.loads(lines[-1].removeprefix("RESULT "))
    return result


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the median wall time (an odd count gives a real run, not an average)."""
    return sorted(runs, key=lambda r: r["seconds"])[(len(runs) - 1) // 2]


def spark_problem(project: Path, env: dict[str, str]) -> str:
    if shutil.which("java") is None:
        return "java is not on PATH"
    proc = subprocess.run(
        [uv_bin(), "run", "-q", "--locked", "--group", "spark", "python", "-c", "import pyspark"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if proc.returncode == 0 else "pyspark is not installed (uv sync --group spark)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="a generated, trained pilot")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the 1x input")
    parser.add_argument(
        "--repeat", type=int, default=3, help="fresh processes per run, interleaved (median)"
    )
    parser.add_argument("--no-spark", action="store_true", help="skip the Spark engine")
    parser.add_argument("--write-doc", action="store_true", help="record docs/benchmark.md")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    if args.project is None:
        tmp = Path(tempfile.mkdtemp(prefix="shipshape-batch-bench-"))
        project = generate(tmp / "churn-pilot")
    else:
        project = args.project.resolve()
    slug = prepare(project)
    package = slug.replace("-", "_")
    env = project_env(project) | {"APP_ENV": "dev"}
    (project / "var").mkdir(exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="batch-bench-", dir=project / "var"))
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    where = machine()
    print(f"benchmark: {where}; {args.rows:,} rows (1x), median of {args.repeat}", flush=True)
    try:
        make_table(project, env, package, args.rows, data / "x1" / "input.parquet", 200_000)
        (data / "x10").mkdir()
        for i in range(10):  # 10x: ten copies (keys repeat across files, never within a chunk)
            shutil.copy(data / "x1" / "input.parquet", data / "x10" / f"part-{i}.parquet")
        x1, x10 = str(data / "x1" / "input.parquet"), str(data / "x10")
        # Rounds of peer, 1x, 10x: a moment of load elsewhere hits every side alike, and the
        # median run of each side is reported (a fresh process each time).
        runs: dict[str, list[dict[str, float]]] = {"peer": [], "x1": [], "x10": []}
        for _ in range(args.repeat):
            runs["peer"].append(work(project, env, "pyfunc", package, str(data)))
            runs["x1"].append(work(project, env, "local", package, str(data), "0", x1))
            runs["x10"].append(work(project, env, "local", package, str(data), "0", x10))
        peer, local1, local10 = (median_run(runs[k]) for k in ("peer", "x1", "x10"))
        problem = "--no-spark" if args.no_spark else spark_problem(project, env)
        spark = None if problem else work(project, env, "spark", package, str(data), "0", x1)
    finally:
        shutil.rmtree(data, ignore_errors=True)

    def rate(r: dict[str, float]) -> float:
        return r["rows"] / r["seconds"]

    lines = [
        "| run | rows | seconds | CPU s | rows/s | peak RSS MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = [
        ("MLflow pyfunc predict, whole frame in memory (prediction only)", peer),
        ("`score` local engine, 1x (read, validate, quarantine, score, write)", local1),
        ("`score` local engine, 10x", local10),
    ]
    if spark is not None:
        rows.append(
            (
                "`score --engine spark`, local[2], 1x (session already started; CPU, peak RSS:"
                " driver only)",
                spark,
            )
        )
    for name, r in rows:
        lines.append(
            f"| {name} | {r['rows']:,.0f} | {r['seconds']:.2f} | {r.get('cpu', 0):.2f} | "
            f"{rate(r):,.0f} | "
            f"{r['peak_rss_mb']:.0f} |"
        )
    compiled = {"rows": peer["rows"], "seconds": peer["compiled_seconds"], "peak_rss_mb": 0}
    compiled["cpu"] = peer["compiled_cpu"]
    lines.insert(
        3,
        f"| the pilot's serving scorer (score_frame, no explanations), same frame "
        f"(prediction only) | {compiled['rows']:,.0f} | {compiled['seconds']:.2f} | "
        f"{compiled['cpu']:.2f} | {rate(compiled):,.0f} | - |",
    )
    speed = rate(local1) / rate(peer)
    need = local1["rows"] / (3 * rate(peer))
    growth = local10["peak_rss_mb"] / local1["peak_rss_mb"] - 1
    ok = lambda good: "met" if good else "NOT met"  # noqa: E731
    summary = [
        f"- local `score` rows/s: {speed:.2f}x pyfunc predict (target >= 3x): {ok(speed >= 3)}",
        f"- CPU per row: `score` 1x uses {local1['cpu'] / peer['cpu']:.2f}x pyfunc's CPU time "
        "(less sensitive to other load on the machine than wall time)",
        f"- 3x pyfunc means the 1x run in {need:.2f} s"
        + (f" ({local1['seconds'] - need:.2f} s to go)" if speed < 3 else "")
        + f"; the 10x run (closer to the steady state) is {rate(local10) / rate(peer):.2f}x",
        f"- prediction step alone: the serving scorer {rate(compiled) / rate(peer):.1f}x pyfunc",
        f"- peak RSS 10x vs 1x: {growth:+.0%} (target <= +20%): {ok(growth <= 0.2)}",
        "- Spark: "
        + (
            f"{rate(spark):,.0f} rows/s on local[2] ({rate(spark) / rate(local1):.2f}x local)"
            if spark is not None
            else f"skipped ({problem})"
        ),
    ]
    print("\n" + "\n".join(lines) + "\n\n" + "\n".join(summary))
    if args.write_doc:
        doc = write_section(
            "Batch scoring: `score` against MLflow pyfunc",
            "Produced by `python benchmarks/batch_score.py --write-doc"
            + (f" --rows {args.rows}" if args.rows != 1_000_000 else "")
            + (f" --repeat {args.repeat}" if args.repeat != 3 else "")
            + "` (the latest run is recorded here; reproduce with the same command, "
            "`--project DIR` to reuse a trained pilot). Same registered model, same input "
            "(the pilot's synthetic rows as Parquet), each run in a fresh process of the "
            f"pilot's environment; each line is the median of {args.repeat} such runs, taken "
            "in rounds (peer, 1x, 10x) so that load elsewhere falls on every side.\n\n"
            f"Run: {started}, on {where}.\n\n"
            + "\n".join(lines)
            + "\n\n"
            + "\n".join(summary)
            + "\n\n"
            "`score` does far more per row than the peer: it reads the file in chunks, "
            "validates every row with the contract, quarantines failures, writes Parquet "
            "and the batch record. pyfunc only predicts on a frame already in memory, so its "
            "memory grows with the input while `score`'s stays bounded by the chunk size "
            "(`APP_BATCH__CHUNK_ROWS`) and the pipeline's bounded queues. "
            "Ratios matter more than absolute figures: the machine may be shared.\n\n"
            "What dominates now. A Parquet chunk stays Arrow from reading to writing: only the "
            "contract's columns are decoded, the contract's null, uniqueness, range, `isin` "
            "and pattern checks are Arrow kernels on whole columns (pandera only judges rows "
            "some kernel flags), the one-hot matrix is built from Arrow lookups, the key "
            "column is passed through, and a file DEST is one Parquet file written while the "
            "chunks come (no merge pass; each chunk is also kept as an uncompressed Arrow IPC "
            "part, the checkpoint a resume replays). Few-valued text columns (categories, "
            "`isin` columns) are read as Arrow dictionaries, so each check judges their "
            "distinct values once; keys that arrive in order are proven unique by one "
            "comparison per row; without `--explain` the linear margin is summed column by "
            "column, no design matrix. CPU per million rows, stage by stage in a fresh "
            "process (2026-12-04, AMD EPYC): reading 0.20-0.36 s (0.15 s warm; the key and "
            "the e-mail, long unique strings, are two thirds of it), validation ~0.14 s, "
            "scoring and the output table ~0.08 s, Parquet writing 0.12-0.17 s with zstd "
            "(no min/max statistics on the key: unordered ids prune no row group), the IPC "
            "checkpoint ~0.03 s. A process loads a registered version once and finds its "
            "BLAS libraries once (a scan of every loaded library, ~0.02 s), while the input "
            "is hashed. During a batch Arrow allocates from the C library's allocator: "
            "pyarrow's default (mimalloc) faulted its chunk-sized buffers in at 0.3-0.8 s of "
            "system time in a fresh process against 0.15-0.2 s, which was most of the gap "
            "between the 1x and the 10x lines. BLAS is held to one thread (`threadpoolctl`): "
            "its idle workers spun on the cores and cost ~0.6 CPU-s per million rows. "
            "What remains is the fresh process (first chunks fault in their memory; the 10x "
            "run spreads it) and the two cores: our pipeline needs both, pyfunc one, so "
            "other load on the machine slows ours more. On this machine the same 1x run "
            "took 0.35-0.55 s across fresh processes and pyfunc 1.0-1.7 s, hence the median "
            "of several rounds.\n\n"
            "Spark on one machine is not what it is for: on `local[2]` a million rows cost "
            "the Python workers' start (each imports the pilot, ~3-5 s), then Spark's own "
            "conversions between its rows and Arrow on both sides of `mapInArrow`, which "
            "outweigh the scoring (0.03 s per 100,000-row Arrow batch, the local engine's "
            "chunk function on the same types). The figure is there to show the engine "
            "works end to end and what a single node costs; on a cluster the same job "
            "spreads over executors (docs/batch.md in the pilot).\n",
        )
        print(f"\nwrote {doc.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
