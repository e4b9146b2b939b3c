"""Post-generation verification: prove the new pilot builds and runs on this machine.

Run by Copier as a task after `copier copy` (inside the new project). Steps: lock, install,
lint, format, types, tests, seed, data check, train, gate (staging), promote (production),
governance, readiness, serve + predict. After the install, independent steps run side by side
(the checks beside the seed -> train -> gate -> promote -> serve chain); each step prints its
duration as it finishes, and the total closes the run. A failure prints one line naming the
step and its cause, stops what has not started, and exits non-zero (the full output of every
step is in verify.log).

Skip verification with the answer `verify=false` (`copier copy -d verify=false ...`) or the
environment variable SHIPSHAPE_SKIP_VERIFY=1, e.g. offline; the lock is still attempted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOG = Path("verify.log")
LOG_LOCK = threading.Lock()
LIVE: set[subprocess.Popen[str]] = set()  # processes of the steps now running
LIVE_LOCK = threading.Lock()
STOPPING = threading.Event()


class StepFailed(Exception):
    pass


def uv_command() -> list[str]:
    found = shutil.which("uv")
    if found:
        return [found]
    try:
        import uv  # type: ignore[import-not-found]

        return [uv.find_uv_bin()]
    except ImportError:
        raise StepFailed("uv is not installed: `python3 -m pip install uv`, then retry") from None


def clean_env() -> dict[str, str]:
    # Bytecode is written by Python on first import, as on any workstation: compiling the
    # whole environment at install (uv's --compile-bytecode) costs more than it saves here.
    dropped = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "UV_COMPILE_BYTECODE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["APP_ENV"] = "dev"
    return env


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "no output"


def log_output(cmd: Sequence[str], output: str) -> None:
    """Append one step's command and output to verify.log (steps run side by side)."""
    with LOG_LOCK, LOG.open("a") as log:
        log.write(f"\n$ {' '.join(cmd)}\n{output}")


def run(cmd: Sequence[str], timeout: float = 900) -> str:
    proc = start(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        log_output(cmd, f"timed out after {timeout:.0f} s\n")
        raise StepFailed(f"timed out after {timeout:.0f} s") from None
    finally:
        LIVE.discard(proc)
    log_output(cmd, out + err)
    if proc.returncode != 0:
        raise StepFailed(last_line(out + "\n" + err))
    return out


def start(cmd: Sequence[str], **kwargs: Any) -> subprocess.Popen[str]:
    """Start a step's process; a failure elsewhere stops it (see stop_all)."""
    with LIVE_LOCK:
        if STOPPING.is_set():
            raise StepFailed("stopped: another step failed")
        proc = subprocess.Popen(cmd, text=True, env=clean_env(), **kwargs)
        LIVE.add(proc)
    return proc


def stop_all() -> None:
    with LIVE_LOCK:
        STOPPING.set()
        for proc in list(LIVE):
            proc.terminate()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(method: str, url: str, body: dict[str, object] | None = None) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url, data=data, method=method, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def example_row(base: str) -> dict[str, object]:
    """The request example the service documents: it derives from the pilot's data contract."""
    status, text = http("GET", base + "/openapi.json")
    if status != 200:
        raise StepFailed(f"GET /openapi.json answered {status}: {text[:200]}")
    schemas = json.loads(text).get("components", {}).get("schemas", {})
    examples = schemas.get("Features", {}).get("examples") or []
    if not examples:
        raise StepFailed("the OpenAPI document has no example for Features")
    return dict(examples[0])


def summarize(prediction: dict[str, object]) -> str:
    shown = {k: v for k, v in prediction.items() if k != "explanation"}
    return ", ".join(
        f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items()
    )


def serve_and_predict(uv: list[str], slug: str) -> str:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [*uv, "run", "-q", "--locked", slug, "serve", "--host", "127.0.0.1", "--port", str(port)]
    server_log = LOG.with_name("verify-serve.log")
    with server_log.open("w") as out:
        proc = start(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise StepFailed(f"server exited with code {proc.returncode} (see verify.log)")
            try:
                status, text = http("GET", base + "/ready")
                if status == 200:
                    break
            except OSError:
                status, text = 0, "not listening"
            if time.monotonic() > deadline:
                raise StepFailed(f"server not ready after 90 s: {status} {text[:200]}")
            time.sleep(0.1)
        ready_after = 90 - (deadline - time.monotonic())
        status, text = http("POST", base + "/predict", example_row(base))
        if status != 200:
            raise StepFailed(f"POST /predict answered {status}: {text[:200]}")
        prediction = json.loads(text)["predictions"][0]
        return f"ready in {ready_after:.1f} s; {summarize(prediction)}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        LIVE.discard(proc)
        log_output(cmd, server_log.read_text())
        server_log.unlink(missing_ok=True)


def readiness(uv: list[str], slug: str) -> str:
    """Score the pilot; report a score below the threshold without failing (evidence from
    later work, such as CI jobs and the sign-off, is expected to be missing at generation)."""
    cmd = [*uv, "run", "-q", "--locked", slug, "ready"]
    proc = start(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        LIVE.discard(proc)
    log_output(cmd, out + err)
    lines = out.strip().splitlines()
    if proc.returncode == 0 and lines:
        return lines[-1]
    # Exit 1 with a "not ready" verdict is a score, not a failure of the step.
    if proc.returncode == 1 and lines and lines[-1].startswith("not ready: "):
        return lines[-1].removeprefix("not ready: ") + " (below: see governance/readiness.md)"
    raise StepFailed(last_line(out + "\n" + err))


@dataclass
class Step:
    name: str
    action: Callable[[], str]
    after: tuple[str, ...] = ()
    width: int = 90


def run_steps(steps: Sequence[Step], parallel: int) -> int:
    """Run each step once all it comes after have passed; independent steps side by side.

    Steps start in list order as workers free up, so list the longest chain first: a step
    is timed from when it starts, not from when it became ready. Prints a line per step as
    it finishes; on the first failure, prints it, starts nothing more, waits for what is
    running, and returns 1.
    """
    done: set[str] = set()
    running: dict[Future[str], tuple[Step, float]] = {}
    pending = list(steps)
    failed = False
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        while pending or running:
            if not failed:
                for step in [s for s in pending if set(s.after) <= done]:
                    if len(running) >= parallel:
                        break
                    pending.remove(step)
                    running[pool.submit(step.action)] = (step, time.perf_counter())
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                step, started = running.pop(future)
                seconds = time.perf_counter() - started
                try:
                    detail = future.result()
                except Exception as exc:  # one line per failed step, never a traceback
                    if not isinstance(exc, StepFailed):
                        exc = StepFailed(f"{type(exc).__name__}: {exc}")
                    if not failed:  # the first failure is the cause; the rest were stopped
                        print(f"verify: FAILED at step '{step.name}': {exc}", file=sys.stderr)
                        stop_all()
                    failed = True
                    continue
                done.add(step.name)
                print(
                    f"verify: {step.name:<16} ok  {seconds:6.1f} s  {detail[: step.width]}",
                    flush=True,
                )
    return 1 if failed or pending else 0


def git_init() -> None:
    if Path(".git").exists() or shutil.which("git") is None:
        return
    subprocess.run(["git", "init", "-q"], check=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--verify", default="True")
    args = parser.parse_args(argv)
    verify = args.verify.lower() in {"true", "1", "yes"} and os.environ.get(
        "SHIPSHAPE_SKIP_VERIFY", ""
    ).lower() not in {"1", "true", "yes"}
    slug = tomllib.loads(Path("pyproject.toml").read_text())["project"]["name"]
    LOG.write_text("shipshape post-generation verification\n")
    git_init()

    try:
        uv = uv_command()
    except StepFailed as exc:
        print(f"verify: FAILED at step 'find uv': {exc}", file=sys.stderr)
        return 1

    if not verify:
        try:
            run([*uv, "lock"], timeout=300)
            print("verify: skipped (verify=false or SHIPSHAPE_SKIP_VERIFY=1); uv.lock created")
        except StepFailed as exc:
            skipped = "verify: skipped (verify=false or SHIPSHAPE_SKIP_VERIFY=1)"
            print(f"{skipped}; uv lock failed ({exc}): run `uv lock` when online")
        return 0

    locked = [*uv, "run", "-q", "--locked"]
    pilot = [*locked, slug]
    why = ["--reason", "post-generation verification", "--actor", "shipshape"]

    def command(*cmd: str, timeout: float = 900) -> Callable[[], str]:
        return lambda: last_line(run(cmd, timeout=timeout))

    steps = [
        # Longest first: the pilot's tests on one worker, its README chain on the other.
        Step("lock", command(*uv, "lock")),
        Step("install", command(*uv, "sync", "-q", "--locked"), ("lock",)),
        Step(
            "tests", command(*locked, "pytest", "-q", "-x", "-p", "no:cacheprovider"), ("install",)
        ),
        # The pilot, command by command, as its README runs it.
        Step("seed data", command(*pilot, "data", "seed"), ("install",)),
        Step("train", command(*pilot, "train"), ("seed data",)),
        Step("gate (staging)", command(*pilot, "promote", "--to", "staging", *why), ("train",)),
        Step(
            "promote", command(*pilot, "promote", "--to", "production", *why), ("gate (staging)",)
        ),
        Step("serve + predict", lambda: serve_and_predict(uv, slug), ("promote",)),
        # The checks, in the gaps.
        Step("types", command(*locked, "mypy"), ("install",)),
        Step("data check", command(*pilot, "data", "check"), ("seed data",)),
        Step("layers", command(*locked, "lint-imports"), ("install",)),
        Step("lint", command(*locked, "ruff", "check", "."), ("install",)),
        Step("format", command(*locked, "ruff", "format", "--check", "."), ("install",)),
        # Governance and readiness read the test reports and the registry: they come last.
        Step("governance", command(*pilot, "governance", "render"), ("promote", "tests")),
        Step("readiness", lambda: readiness(uv, slug), ("governance", "data check"), width=200),
    ]
    total = time.perf_counter()
    if run_steps(steps, parallel=int(os.environ.get("SHIPSHAPE_VERIFY_JOBS", "2"))):
        return 1
    print(f"verify: pilot verified in {time.perf_counter() - total:.1f} s (details in verify.log)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
