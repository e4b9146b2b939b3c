"""Benchmark: a generated pilot's service against `mlflow models serve`, same model, one run.

    python benchmarks/serve_vs_mlflow.py                  # generate a default pilot, train, measure
    python benchmarks/serve_vs_mlflow.py --project DIR    # reuse a generated pilot
    python benchmarks/serve_vs_mlflow.py --family linear  # one model family (default: every one)
    python benchmarks/serve_vs_mlflow.py --write-doc      # also record docs/benchmark.md

For each model family the pilot trains one version (``APP_MODEL__ESTIMATOR``, no code edit)
and both servers serve that version (alias ``challenger``). Both run on 127.0.0.1 from the
pilot's own environment; the same keep-alive load generator (benchmarks/loadgen.py, run with the
pilot's interpreter) drives both, interleaved, scenario by scenario. Ours runs as configured
for production: API-key auth, request validation, and the decision log fsync-ed before each
answer. Prints a table and the ratios against the targets; it asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from doc import write_section

ROOT = Path(__file__).resolve().parents[1]
LOADGEN = Path(__file__).with_name("loadgen.py")
SECTION = "Serving: the generated service against `mlflow models serve`"
ROW = {
    "age": 42,
    "tenure_months": 3,
    "monthly_spend": 120.0,
    "support_tickets": 5,
    "plan": "basic",
    "region": "south",
}
SCENARIOS = [  # name, rows per request, concurrency
    ("one row", 1, 16),
    ("100-row batch", 100, 8),
    ("one row, concurrency 1", 1, 1),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def project_env(project: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env = {k: v for k, v in env.items() if not k.startswith("APP_")}
    env["UV_COMPILE_BYTECODE"] = "1"
    # The pilot's venv first, then the tools installed beside this interpreter (uv, copier).
    bins = [str(project / ".venv" / "bin"), str(Path(sys.executable).parent)]
    env["PATH"] = os.pathsep.join([*bins, env.get("PATH", "")])
    return env


def uv_bin() -> str:
    """uv as installed by requirements-dev.txt (beside this interpreter), else from PATH."""
    beside = Path(sys.executable).with_name("uv")
    return str(beside) if beside.exists() else (shutil.which("uv") or "uv")


def sh(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"benchmark: `{' '.join(cmd)}` failed: {(proc.stderr or proc.stdout)[-800:]}")
    return proc.stdout


def cli_name(project: Path) -> str:
    """The pilot's CLI (its project name), whatever its folder is called."""
    with (project / "pyproject.toml").open("rb") as fh:
        return str(tomllib.load(fh)["project"]["name"])


def generate(dst: Path) -> Path:
    copier = str(Path(sys.executable).with_name("copier"))
    if not Path(copier).exists():
        copier = shutil.which("copier") or "copier"
    sh(
        [
            copier,
            "copy",
            "-q",
            "--trust",
            "--defaults",
            "-d",
            "verify=false",
            "--vcs-ref",
            "HEAD",
            str(ROOT),
            str(dst),
        ],
        cwd=ROOT,
    )
    return dst


# Runs inside the pilot's environment: N rows of the pilot's own demo table (its synthetic
# generator, a seed per part, unique keys) written as one Parquet file, part by part.
MAKE_TABLE = r"""
import sys
from importlib import import_module
from pathlib import Path
import pyarrow as pa, pyarrow.parquet as pq
package, rows, target, step = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
gen = import_module(f"{package}.data.synthetic").generate
target.parent.mkdir(parents=True, exist_ok=True)
writer = None
for i, start in enumerate(range(0, rows, step)):
    part = gen(min(step, rows - start), seed=100 + i)
    part["customer_id"] = [f"C{n:09d}" for n in range(start + 1, start + len(part) + 1)]
    table = pa.Table.from_pandas(part, preserve_index=False)
    writer = writer or pq.ParquetWriter(target, table.schema)
    writer.write_table(table)
writer.close()
"""


def make_table(
    project: Path, env: dict[str, str], package: str, rows: int, target: Path,
    step: int = 500_000,
) -> Path:  # fmt: skip
    """``rows`` rows of the pilot's demo table as Parquet at ``target`` (parts of ``step``)."""
    python = str(project / ".venv" / "bin" / "python")
    sh([python, "-c", MAKE_TABLE, package, str(rows), str(target), str(step)], cwd=project,
       env=env)  # fmt: skip
    return target


@dataclass
class Step:
    """One fresh process, measured whole."""

    name: str
    seconds: float
    cpu: float  # user + system, with its children
    rss_mb: float  # peak resident set of the process or its largest child
    code: int
    tail: str = ""  # the output's last line (a failure's reason)
    output: list[str] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return self.code == 0

    def cells(self) -> str:
        status = "ok" if self.ok else f"failed ({self.code}): {self.tail}"
        return f"{self.seconds:.1f} | {self.cpu:.1f} | {self.rss_mb:,.0f} | {status}"


def measured(
    name: str, cmd: list[str], cwd: Path, env: dict[str, str], quiet: bool = False
) -> Step:
    """Run ``cmd`` as a fresh process: wall time, CPU (with children) and peak RSS, read
    through ``wait4`` for that process alone (not this one's other children)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode(errors="replace").strip().splitlines()
    step = Step(name, seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                proc.returncode, text[-1][:160] if text else "", text)  # fmt: skip
    if not quiet:
        print(f"  {name:<28} {step.cells()}", flush=True)
    return step


FAMILIES = ["linear", "gradient_boosting", "random_forest"]


def prepare(project: Path) -> str:
    """Lock, install and seed when needed; returns the CLI name."""
    env = project_env(project)
    slug = cli_name(project)
    if not (project / "uv.lock").exists():
        sh([uv_bin(), "lock", "-q"], cwd=project, env=env)
    sh([uv_bin(), "sync", "-q", "--locked", "--compile-bytecode"], cwd=project, env=env)
    if not (project / "data" / "processed" / "training.parquet").exists():
        sh([slug, "data", "seed"], cwd=project, env=env)
    return slug


def train(project: Path, slug: str, family: str) -> None:
    """A version of this family behind the alias `challenger` (what both servers serve)."""
    sh([slug, "train"], cwd=project, env=project_env(project) | {"APP_MODEL__ESTIMATOR": family})


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(resp.status)
    except Exception:
        return 0


@contextmanager
def server(cmd: list[str], project: Path, env: dict[str, str], probe: str) -> Iterator[None]:
    log = (project / "var").joinpath(f"bench-{Path(cmd[0]).name}.log")
    log.parent.mkdir(exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, cwd=project, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 180
        while get(probe) != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"benchmark: {cmd[0]} did not start; see {log}")
            time.sleep(0.3)
        yield
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def load(
    project: Path,
    port: int,
    path: str,
    body: bytes,
    headers: dict[str, str],
    concurrency: int,
    seconds: float,
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile(suffix=".json") as fh:
        fh.write(body)
        fh.flush()
        cmd = [
            str(project / ".venv" / "bin" / "python"),
            str(LOADGEN),
            "--port",
            str(port),
            "--path",
            path,
            "--body-file",
            fh.name,
            "--concurrency",
            str(concurrency),
            "--seconds",
            str(seconds),
        ]
        for k, v in headers.items():
            cmd += ["--header", f"{k}: {v}"]
        return dict(json.loads(sh(cmd, cwd=project)))


IN_PROCESS = r"""
import asyncio, json, statistics, sys, tempfile, time
from pathlib import Path
import pandas as pd
from {pkg}.settings import get_settings
from {pkg}.model.registry import load_pipeline, resolve_alias
from {pkg}.serving.contract import Features
from {pkg}.records.decision_log import DecisionLog, encode
from {pkg}.model.metrics import output
from {pkg}.model.scorer import build_scorer
row = json.loads(sys.argv[1])
settings = get_settings()
pipeline = load_pipeline(settings, resolve_alias(settings))
scorer = build_scorer(pipeline)
frame = pd.DataFrame([row])
def median_ms(fn, n):
    out = []
    for _ in range(n):
        t = time.perf_counter(); fn(); out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out)
log = DecisionLog(Path(tempfile.mkdtemp()), 1 << 30)
log.start()
async def ours(n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        rec = Features.model_validate(row).__dict__
        s = scorer.score([rec])
        await log.append(encode({{"inputs": rec, "p": s.output[0].tolist()}}))
        out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out)
print(json.dumps({{
    "pipeline_predict_proba_ms": median_ms(lambda: output(pipeline, frame), 300),
    "compiled_score_ms": median_ms(lambda: scorer.score([row]), 3000),
    "validate_score_durable_log_ms": asyncio.run(ours(500)),
}}))
log.close()
"""


def in_process(project: Path, package: str) -> dict[str, float]:
    code = IN_PROCESS.format(pkg=package)
    out = sh(
        [str(project / ".venv" / "bin" / "python"), "-c", code, json.dumps(ROW)],
        cwd=project,
        env=project_env(project) | {"APP_SERVING__ALIAS": "challenger"},
    )
    return dict(json.loads(out.strip().splitlines()[-1]))


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, load average {load1:.1f} at start"
    )


def measure(
    project: Path, slug: str, family: str, seconds: float
) -> tuple[dict[tuple[str, str], dict[str, float]], dict[str, float], list[Path]]:
    """Train a version of the family, then load both servers with it, scenario by scenario."""
    train(project, slug, family)
    package = slug.replace("-", "_")
    env = project_env(project)
    key = "sk_" + secrets.token_urlsafe(32)
    decisions = Path(tempfile.mkdtemp(prefix="decisions-", dir=project / "var"))
    ours_env = env | {
        "APP_ENV": "dev",
        "APP_SERVING__ALIAS": "challenger",
        "APP_SERVING__API_KEYS": f"bench:predict:{hashlib.sha256(key.encode()).hexdigest()}",
        "APP_SERVING__DECISION_LOG_DIR": str(decisions),
    }
    mlflow_env = env | {"MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlruns' / 'mlflow.db'}"}
    ours_port, mlflow_port = free_port(), free_port()
    inproc = in_process(project, package)
    results: dict[tuple[str, str], dict[str, float]] = {}
    ours_cmd = [
        str(project / ".venv/bin" / slug),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(ours_port),
    ]
    mlflow_cmd = [
        str(project / ".venv/bin/mlflow"),
        "models",
        "serve",
        "-m",
        f"models:/{package}@challenger",
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(mlflow_port),
    ]
    with (
        server(ours_cmd, project, ours_env, f"http://127.0.0.1:{ours_port}/ready"),
        server(mlflow_cmd, project, mlflow_env, f"http://127.0.0.1:{mlflow_port}/ping"),
    ):
        for name, rows, concurrency in SCENARIOS:
            ours_body = json.dumps(ROW if rows == 1 else {"rows": [ROW] * rows}).encode()
            mlflow_body = json.dumps(
                {"dataframe_split": {"columns": list(ROW), "data": [list(ROW.values())] * rows}}
            ).encode()
            for label, port, path, body, headers in (
                ("ours", ours_port, "/predict", ours_body, {"X-API-Key": key}),
                ("mlflow", mlflow_port, "/invocations", mlflow_body, {}),
            ):
                r = load(project, port, path, body, headers, concurrency, seconds)
                r["rows_per_s"] = r["rps"] * rows
                results[(name, label)] = r
                print(
                    f"  {family:<17} {name:<24} {label:<7} {r['rps']:8.1f} req/s"
                    f"  p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms"
                    f"  errors {r['errors']}",
                    flush=True,
                )
    return results, inproc, sorted(decisions.glob("decisions-*.jsonl"))


def summarise(
    family: str,
    results: dict[tuple[str, str], dict[str, float]],
    inproc: dict[str, float],
    decision_files: list[Path],
) -> tuple[list[str], list[str]]:
    one, batch, single = (s[0] for s in SCENARIOS)
    ratio_rps = results[(one, "ours")]["rps"] / results[(one, "mlflow")]["rps"]
    ratio_p99 = results[(one, "ours")]["p99_ms"] / results[(one, "mlflow")]["p99_ms"]
    ratio_rows = results[(batch, "ours")]["rows_per_s"] / results[(batch, "mlflow")]["rows_per_s"]
    overhead = results[(single, "ours")]["p50_ms"] - inproc["pipeline_predict_proba_ms"]
    over_full = results[(single, "ours")]["p50_ms"] - inproc["validate_score_durable_log_ms"]
    lines = []
    for (name, label), r in results.items():
        server_name = (
            "ours (auth, validation, durable log)" if label == "ours" else "mlflow models serve"
        )
        lines.append(
            f"| {family} | {name} | {server_name} | {r['rps']:.0f} | {r['rows_per_s']:.0f} | "
            f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']:.0f} |"
        )
    ok = lambda good: "met" if good else "NOT met"  # noqa: E731
    summary = [
        f"- **{family}**: one-row throughput {ratio_rps:.1f}x MLflow (target >= 10x): "
        f"{ok(ratio_rps >= 10)}; one-row p99 {ratio_p99:.2f} of MLflow's (target <= 0.20): "
        f"{ok(ratio_p99 <= 0.2)}; 100-row batch rows/s {ratio_rows:.1f}x MLflow (target >= 3x): "
        f"{ok(ratio_rows >= 3)}",
        f"  - concurrency 1: median {results[(single, 'ours')]['p50_ms']:.2f} ms; in-process "
        f"pipeline prediction on one row {inproc['pipeline_predict_proba_ms']:.2f} ms "
        f"(difference {overhead:+.2f} ms, target <= +1 ms): {ok(overhead <= 1)}; in-process "
        f"validation + fast-path score and explanation + durable log append "
        f"{inproc['validate_score_durable_log_ms']:.2f} ms (HTTP adds {over_full:+.2f} ms); "
        f"fast-path score alone {inproc['compiled_score_ms'] * 1000:.0f} us",
        f"  - decision log written: {sum(p.stat().st_size for p in decision_files) / 1e6:.0f} "
        f"MB in {len(decision_files)} file(s), fdatasync before every answer",
    ]
    return lines, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="a generated pilot (default: generate one)")
    parser.add_argument("--seconds", type=float, default=8, help="per scenario and server")
    parser.add_argument(
        "--family", action="append", choices=FAMILIES, help="model family (repeatable)"
    )
    parser.add_argument("--write-doc", action="store_true", help="record docs/benchmark.md")
    args = parser.parse_args()
    families = args.family or FAMILIES

    tmp = None
    if args.project is None:
        tmp = Path(tempfile.mkdtemp(prefix="shipshape-bench-"))
        project = generate(tmp / "churn-pilot")
    else:
        project = args.project.resolve()
    slug = prepare(project)
    (project / "var").mkdir(exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    where = machine()
    print(f"benchmark: {where}", flush=True)
    lines = [
        "| family | scenario | server | requests/s | rows/s | p50 ms | p99 ms | errors |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    summary: list[str] = []
    for family in families:
        results, inproc, decision_files = measure(project, slug, family, args.seconds)
        rows, notes = summarise(family, results, inproc, decision_files)
        lines += rows
        summary += notes
        for path in decision_files:
            path.unlink()
    print("\n" + "\n".join(lines) + "\n\n" + "\n".join(summary))
    if args.write_doc:
        command = "python benchmarks/serve_vs_mlflow.py --write-doc" + "".join(
            f" --family {f}" for f in args.family or []
        )
        if args.seconds != 8:
            command += f" --seconds {args.seconds:g}"
        body = (
            f"Produced by `{command}` (the latest run is recorded here). For each model family "
            "the default (binary) pilot trains one version and both servers serve that same "
            "version; same machine, same keep-alive load generator, both servers with one "
            f"worker, {args.seconds:g} s per scenario after a 1 s warm-up.\n\n"
            f"Run: {started}, on {where}.\n\n"
            + "\n".join(lines)
            + "\n\n"
            + "\n".join(summary)
            + "\n\n"
            "Ours answers only after the decision-log record is on disk (group commit: one "
            "`fdatasync` covers every request that arrived during the previous one), checks the "
            "API key, validates each row against the data contract and explains every answer "
            "(exact linear attribution or TreeSHAP). For the tree families a 100-row batch "
            "computes TreeSHAP for each of its rows (LightGBM `pred_contrib`), work MLflow's "
            "bare prediction does not do: the batch target (>= 3x, set while the pilot was "
            "linear only) is met for linear models, not for trees. Bulk scoring without a "
            "caller waiting is `score` (see the batch section below).\n"
        )
        doc = write_section(SECTION, body)
        print(f"\nwrote {doc.relative_to(ROOT)}")
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
