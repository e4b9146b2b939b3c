"""Benchmark: how long a generated pilot makes people wait, and how much the service carries.

    python benchmarks/startup.py                   # generate a default pilot and measure
    python benchmarks/startup.py --project DIR     # reuse a generated pilot (verify=false is fine)
    python benchmarks/startup.py --verify          # also time copy -> verified, warm and cold cache
    python benchmarks/startup.py --write-doc       # record the figures in docs/benchmark.md

Measures, in one run on one machine:
- each CLI command's wall time (median of repeated runs, each a fresh process measured whole:
  wall, CPU with children, peak RSS) against its goal: under 1 s for the commands that need
  neither MLflow nor scikit-learn, under 3 s for the registry commands;
- what a scheduled job pays on a tiny input, imports and model load included: `score` of 100
  rows (goal: at most 1.5 s) against `mlflow models predict` of the same version on the same
  rows, in rounds; `ingest` (goal: under 1 s) and `train` of the 5,000-row demo (goal: at most
  3 s);
- whether `uv run` recompiles an unchanged environment (files written under .venv);
- seconds from launch to ready for the pilot's service and for `mlflow models serve` of the
  same registered version (goal: at most half of MLflow's);
- the size of the serving environment as the image installs it (goal: at most 450 MB), beside
  the full workstation environment;
- with --verify, `copier copy` to a verified pilot with a warm and a cold package cache
  (goals: 60 s and 120 s), with the hook's own per-step lines.
It asserts nothing: it prints the figures and whether each goal was met.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from doc import write_section
from serve_vs_mlflow import (
    ROW,
    Step,
    cli_name,
    free_port,
    generate,
    get,
    machine,
    make_table,
    measured,
    project_env,
    sh,
    uv_bin,
)

ROOT = Path(__file__).resolve().parents[1]
REPEAT = 5
LIGHT_GOAL_S, REGISTRY_GOAL_S = 1.0, 3.0
SCORE_ROWS, SCORE_GOAL_S, TRAIN_GOAL_S, INGEST_GOAL_S = 100, 1.5, 3.0, 1.0
# A command's row: name, its median run, the goal as shown, whether it is met.
Row = tuple[str, Step, str, bool]


def median_step(steps: list[Step]) -> Step:
    """The run with the median wall time (an odd count gives a real run, not an average)."""
    return sorted(steps, key=lambda s: s.seconds)[(len(steps) - 1) // 2]


def runs(name: str, cmd: list[str], cwd: Path, env: dict[str, str], n: int = REPEAT) -> Step:
    steps = []
    for _ in range(n):
        step = measured(name, cmd, cwd, env, quiet=True)
        if step.code not in (0, 1):
            sys.exit(f"benchmark: `{' '.join(cmd)}` exited {step.code}: {step.tail}")
        steps.append(step)
    return median_step(steps)


def under(name: str, step: Step, goal: float) -> Row:
    return name, step, f"< {goal:g} s", step.seconds < goal


def at_most(name: str, step: Step, goal: float) -> Row:
    return name, step, f"<= {goal:g} s", step.seconds <= goal


def whole_process(
    project: Path, slug: str, env: dict[str, str], mlflow_env: dict[str, str]
) -> tuple[list[Row], str]:
    """`score` of 100 rows and `mlflow models predict` of the champion on the same rows, in
    rounds (load elsewhere falls on both); then `ingest` and `train` of the demo."""
    package = slug.replace("-", "_")
    bin_dir = project / ".venv" / "bin"
    work = Path(tempfile.mkdtemp(prefix="startup-", dir=project / "var"))
    try:
        rows = make_table(project, env, package, SCORE_ROWS, work / "rows.parquet")
        csv = work / "rows.csv"  # the same rows as `mlflow models predict` reads them
        sh([str(bin_dir / "python"), "-c", "import sys, pandas as pd; "
            "pd.read_parquet(sys.argv[1]).to_csv(sys.argv[2], index=False)", str(rows),
            str(csv)], cwd=project, env=env)  # fmt: skip
        ours, theirs = [], []
        for i in range(REPEAT):
            score = [str(bin_dir / slug), "score", "--input", str(rows), "--output",
                     str(work / f"scored-{i}.parquet"), "--reason", "benchmark"]  # fmt: skip
            predict = [str(bin_dir / "mlflow"), "models", "predict", "-m",
                       f"models:/{package}@champion", "-i", str(csv), "-t", "csv", "-o",
                       str(work / f"predicted-{i}.json"), "--env-manager", "local"]  # fmt: skip
            for out, cmd, cmd_env in ((ours, score, env), (theirs, predict, mlflow_env)):
                step = measured(cmd[1], cmd, project, cmd_env, quiet=True)
                if not step.ok:
                    sys.exit(f"benchmark: `{' '.join(cmd[:3])}` failed: {step.tail}")
                out.append(step)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    score, peer = median_step(ours), median_step(theirs)
    cli = str(bin_dir / slug)
    rows_out = [
        at_most(f"score ({SCORE_ROWS} rows)", score, SCORE_GOAL_S),
        (f"peer: mlflow models predict ({SCORE_ROWS} rows)", peer, "", True),
        under("ingest", runs("ingest", [cli, "ingest"], project, env), INGEST_GOAL_S),
        at_most("train (demo)", runs("train", [cli, "train"], project, env, 3), TRAIN_GOAL_S),
    ]
    ratio = (
        f"- `score` of {SCORE_ROWS} rows, whole process (imports, registry, model load, "
        f"records): {score.seconds:.2f} s, {score.seconds / peer.seconds:.2f} of `mlflow "
        f"models predict` of the same version on the same rows ({peer.seconds:.2f} s); goal "
        f"<= {SCORE_GOAL_S:g} s: {met(score.seconds <= SCORE_GOAL_S)}"
    )
    return rows_out, ratio


def prepare(project: Path, env: dict[str, str]) -> str:
    """Install, seed, train twice and promote both: rollback then has somewhere to go."""
    slug = cli_name(project)
    if not (project / "uv.lock").exists():
        sh([uv_bin(), "lock", "-q"], cwd=project, env=env)
    sh([uv_bin(), "sync", "-q", "--locked"], cwd=project, env=env)
    cli = str(project / ".venv" / "bin" / slug)
    if not (project / "mlruns" / "mlflow.db").exists():
        sh([cli, "data", "seed"], cwd=project, env=env)
        for _ in range(2):
            sh([cli, "train"], cwd=project, env=env)
            for stage in ("staging", "production"):
                sh([cli, "promote", "--to", stage, "--reason", "benchmark"], cwd=project, env=env)
    return slug


def ready_seconds(cmd: list[str], probe: str, project: Path, env: dict[str, str]) -> float:
    """Launch to a 200 on ``probe``; the whole process group is stopped afterwards
    (`mlflow models serve` answers from a child process that outlives its parent)."""
    if get(probe) != 0:
        sys.exit(f"benchmark: something already answers on {probe}")
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        while get(probe) != 200:
            if proc.poll() is not None or time.perf_counter() - started > 180:
                sys.exit(f"benchmark: {' '.join(cmd[:3])} did not become ready")
            time.sleep(0.05)
        return time.perf_counter() - started
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while get(probe) != 0 and time.monotonic() < deadline:  # the port is free again
            time.sleep(0.1)


def post_one(port: int) -> None:
    import json
    import urllib.request

    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict",
        data=json.dumps(ROW).encode(),
        headers={"content-type": "application/json"},
    )
    urllib.request.urlopen(req, timeout=10).read()


def du_mb(path: Path) -> float:
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return total / 1e6


def serving_env_mb(project: Path, env: dict[str, str]) -> float:
    """The serving image's environment, built as the Dockerfile builds it: `dependencies`
    only, the scientific libraries' test suites removed, bytecode compiled."""
    target = Path(tempfile.mkdtemp(prefix="serving-env-"))
    try:
        sh(
            [uv_bin(), "sync", "-q", "--locked", "--no-default-groups", "--no-install-project"],
            cwd=project,
            env=env | {"UV_PROJECT_ENVIRONMENT": str(target), "UV_COMPILE_BYTECODE": "0"},
        )
        for site in target.glob("lib/python*/site-packages"):
            for package in ("numpy", "pandas", "scipy", "sklearn"):
                for tests in sorted((site / package).rglob("tests"), reverse=True):
                    if tests.is_dir():
                        shutil.rmtree(tests, ignore_errors=True)
        sh([str(target / "bin" / "python"), "-m", "compileall", "-q", "-j", "0",
            str(target / "lib")], cwd=project, env=env)  # fmt: skip
        return du_mb(target)
    finally:
        shutil.rmtree(target, ignore_errors=True)


def recompiled_files(project: Path, slug: str, env: dict[str, str]) -> tuple[int, float]:
    """Files `uv run` writes under .venv on an unchanged environment, and its overhead."""
    venv = project / ".venv"
    subprocess.run([uv_bin(), "run", "-q", "--locked", slug, "--help"], cwd=project, env=env,
                   capture_output=True, check=False)  # fmt: skip
    marker = time.time()
    time.sleep(0.05)
    wrapped = runs("uv run", [uv_bin(), "run", "-q", "--locked", slug, "--help"], project, env, 3)
    bare = runs("bare", [str(venv / "bin" / slug), "--help"], project, env, 3)
    written = sum(1 for p in venv.rglob("*") if p.is_file() and p.stat().st_mtime > marker)
    return written, wrapped.seconds - bare.seconds


def copy_to_verified(cache: Path | None) -> tuple[float, list[str]]:
    dst = Path(tempfile.mkdtemp(prefix="shipshape-verify-")) / "churn-pilot"
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    if cache is not None:
        env["UV_CACHE_DIR"] = str(cache)
    copier = str(Path(sys.executable).with_name("copier"))
    started = time.perf_counter()
    proc = subprocess.run(
        [copier, "copy", "-q", "--trust", "--defaults", "--vcs-ref", "HEAD", str(ROOT), str(dst)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith("verify:")]
    if proc.returncode != 0:
        sys.exit("benchmark: copy failed\n" + "\n".join(lines))
    shutil.rmtree(dst.parent, ignore_errors=True)
    return seconds, lines


def met(good: bool) -> str:
    return "met" if good else "NOT met"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="a generated pilot (default: generate one)")
    parser.add_argument("--verify", action="store_true", help="time copy -> verified too")
    parser.add_argument("--write-doc", action="store_true", help="record docs/benchmark.md")
    args = parser.parse_args()
    if args.project is None:
        project = generate(Path(tempfile.mkdtemp(prefix="shipshape-bench-")) / "churn-pilot")
    else:
        project = args.project.resolve()
    env = project_env(project) | {"APP_ENV": "dev"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a workstation caches bytecode on first import
    where, started = machine(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"benchmark: {where}", flush=True)
    slug = prepare(project, env)
    cli = str(project / ".venv" / "bin" / slug)
    package = slug.replace("-", "_")

    # The service, then MLflow's, each launched three times; the first request fills the log.
    port = free_port()
    ours = [cli, "serve", "--host", "127.0.0.1", "--port", str(port)]
    mlflow_port = free_port()
    theirs = [str(project / ".venv" / "bin" / "mlflow"), "models", "serve", "-m",
              f"models:/{package}@champion", "--env-manager", "local", "-h", "127.0.0.1",
              "-p", str(mlflow_port)]  # fmt: skip
    mlflow_env = env | {"MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlruns' / 'mlflow.db'}"}
    ours_ready = statistics.median(
        ready_seconds(ours, f"http://127.0.0.1:{port}/ready", project, env) for _ in range(3)
    )
    mlflow_ready = statistics.median(
        ready_seconds(theirs, f"http://127.0.0.1:{mlflow_port}/ping", project, mlflow_env)
        for _ in range(3)
    )
    proc = subprocess.Popen(ours, cwd=project, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        while get(f"http://127.0.0.1:{port}/ready") != 200:
            time.sleep(0.05)
        post_one(port)  # `audit` below then reads a real decision log
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    commands = [
        ("--help", [cli, "--help"], LIGHT_GOAL_S),
        ("config check", [cli, "config", "check"], LIGHT_GOAL_S),
        ("apikey", [cli, "apikey", "--id", "bench", "--role", "predict"], LIGHT_GOAL_S),
        ("audit", [cli, "audit", "--limit", "1"], LIGHT_GOAL_S),
    ]
    rows = [under(name, runs(name, cmd, project, env), goal) for name, cmd, goal in commands]
    back = [cli, "rollback", "--reason", "benchmark"]
    forth = [cli, "promote", "--to", "production", "--reason", "benchmark"]
    moves: dict[str, list[Step]] = {"rollback": [], "promote --to production": []}
    for _ in range(REPEAT):
        for name, cmd in (("rollback", back), ("promote --to production", forth)):
            step = measured(name, cmd, project, env, quiet=True)
            if not step.ok:
                sys.exit(f"benchmark: `{name}` failed: {step.tail}")
            moves[name].append(step)
    rows += [under(name, median_step(s), REGISTRY_GOAL_S) for name, s in moves.items()]
    whole, score_line = whole_process(project, slug, env, mlflow_env)
    rows += whole
    written, overhead = recompiled_files(project, slug, env)
    serving_mb, full_mb = serving_env_mb(project, env), du_mb(project / ".venv")

    lines = [
        "| command | median s | CPU s | peak RSS MB | goal | |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    lines += [
        f"| `{n}` | {s.seconds:.2f} | {s.cpu:.2f} | {s.rss_mb:,.0f} | {g} | "
        f"{met(ok) if g else 'peer'} |"
        for n, s, g, ok in rows
    ]
    summary = [
        score_line,
        f"- `uv run --locked {slug} --help` on an unchanged environment: {written} files "
        f"written under .venv, {overhead:+.2f} s over the bare command: "
        f"{met(written == 0)}",
        f"- ready after launch: ours {ours_ready:.1f} s, `mlflow models serve` of the same "
        f"version {mlflow_ready:.1f} s: {ours_ready / mlflow_ready:.2f} of MLflow's (goal <= "
        f"0.50): {met(ours_ready <= mlflow_ready / 2)}",
        f"- serving environment (the image's `dependencies`, bytecode compiled): "
        f"{serving_mb:.0f} MB (goal <= 450 MB): {met(serving_mb <= 450)}; the workstation "
        f"environment with full MLflow, data sources and dev tools: {full_mb:.0f} MB",
    ]
    if args.verify:
        warm, warm_lines = copy_to_verified(None)
        cold_cache = Path(tempfile.mkdtemp(prefix="uv-cold-"))
        try:
            cold, cold_lines = copy_to_verified(cold_cache)
        finally:
            shutil.rmtree(cold_cache, ignore_errors=True)
        summary += [
            f"- copy -> verified, warm package cache: {warm:.1f} s (goal <= 60 s): "
            f"{met(warm <= 60)}",
            f"- copy -> verified, cold package cache: {cold:.1f} s (goal <= 120 s): "
            f"{met(cold <= 120)}",
        ]
        steps = ["", "Warm run, as the hook prints it:", "", "```", *warm_lines, "```"]
        steps += ["", "Cold run:", "", "```", *cold_lines, "```"]
    else:
        steps = []
    print("\n" + "\n".join(lines) + "\n\n" + "\n".join(summary) + "\n".join(steps))
    if args.write_doc:
        body = (
            "Produced by `python benchmarks/startup.py --verify --write-doc`. Every command runs "
            f"{REPEAT} times (`train` 3) in a default pilot, each a fresh process measured "
            "whole (the median run shown: wall, CPU with children, peak RSS), bytecode cached "
            "as on a workstation; `score` and its peer run in rounds on the same rows.\n\n"
            f"Run: {started}, on {where}.\n\n"
            + "\n".join(lines) + "\n\n" + "\n".join(summary) + "\n".join(steps) + "\n"
        )  # fmt: skip
        print(f"\nwrote {write_section('Start-up, footprint and copy to verified', body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
