"""The MLOps rails against a real tracking server, as staging and production run them.

A PostgreSQL server (initdb/pg_ctl), an S3-compatible store (moto_server) and `mlflow server`
with the PostgreSQL backend store and S3 artifacts are started on 127.0.0.1. The generated
pilot's own CLI then runs train -> gate (staging) -> promote (production) -> serve, proves a
degraded challenger (shuffled labels) is refused naming the failed check, promotes a good
one while the server answers requests, rolls back, and checks drift, all without a restart.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import SAMPLE_ROW as ROW
from .conftest import free_port, http, require_binary

pytestmark = [pytest.mark.generated, pytest.mark.slow]

MODEL = "churn_pilot"


def wait_until(
    what: str, ok: Any, proc: subprocess.Popen[bytes] | None = None, timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what}: process exited with code {proc.returncode}")
        try:
            if ok():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not ready after {timeout:.0f} s")
        time.sleep(0.25)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the postgres user when we are root."""
    if os.geteuid() == 0:
        return [
            require_binary("runuser", "runs PostgreSQL as its own user"),
            "-u",
            "postgres",
            "--",
            *cmd,
        ]
    return cmd


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server; yields the SQLAlchemy URL of an empty `mlflow` database."""
    extra = [str(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"))]
    path = os.pathsep.join([*extra, os.environ.get("PATH", "")])
    os.environ["PATH"] = path  # require_binary and subprocesses look here
    why = "the MLflow backend store of staging/prod"
    initdb, pg_ctl = require_binary("initdb", why), require_binary("pg_ctl", why)
    createdb = require_binary("createdb", why)
    # Not under pytest's tmp dir: that is private to root, and the server runs as postgres.
    data = Path(tempfile.mkdtemp(prefix="shipshape-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    port = free_port()
    subprocess.run(
        as_postgres(
            [initdb, "-D", str(data / "db"), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    subprocess.run(
        as_postgres(
            [
                pg_ctl,
                "-D",
                str(data / "db"),
                "-l",
                str(data / "log"),
                "-w",
                "-o",
                f"-c listen_addresses=127.0.0.1 -p {port} -k {data}",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        subprocess.run(
            [createdb, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "mlflow"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/mlflow"
    finally:
        subprocess.run(
            as_postgres([pg_ctl, "-D", str(data / "db"), "-m", "fast", "stop"]),
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def tracking_server(
    default_project: Path, postgres: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """moto_server (S3) and `mlflow server` from the generated project's own venv."""
    bin_dir = default_project / ".venv" / "bin"
    logs = tmp_path_factory.mktemp("server-logs")
    s3_port, port = free_port(), free_port()
    s3 = f"http://127.0.0.1:{s3_port}"
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MLFLOW_S3_ENDPOINT_URL": s3,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with (logs / "moto.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [str(bin_dir / "moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)],
                    stdout=log,
                    stderr=log,
                    env=env,
                )
            )
        wait_until("moto_server", lambda: http("GET", s3 + "/moto-api/")[0] < 500, procs[-1])
        assert http("PUT", s3 + "/mlflow")[0] == 200  # the artifact bucket
        with (logs / "mlflow.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [
                        str(bin_dir / "mlflow"),
                        "server",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--workers",
                        "1",
                        "--backend-store-uri",
                        postgres,
                        "--artifacts-destination",
                        "s3://mlflow/artifacts",
                    ],
                    stdout=log,
                    stderr=log,
                    env=env,
                )
            )
        url = f"http://127.0.0.1:{port}"
        wait_until(
            "mlflow server", lambda: http("GET", url + "/health")[0] == 200, procs[-1], timeout=240
        )
        yield {"url": url, "s3": s3, "logs": str(logs)}
    finally:
        for proc in reversed(procs):
            stop(proc)


class Pilot:
    """The generated pilot's CLI, configured for the tracking server."""

    def __init__(self, project: Path, env: dict[str, str]):
        self.project, self.env = project, env

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(self.project / ".venv" / "bin" / "churn-pilot"), *args],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if ok and proc.returncode != 0:
            pytest.fail(
                f"`{' '.join(args)}` exited {proc.returncode}: "
                f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
            )
        return proc


def version_tags(server: str, version: str) -> dict[str, str]:
    query = urllib.parse.urlencode({"name": MODEL, "version": version})
    status, text = http("GET", f"{server}/api/2.0/mlflow/model-versions/get?{query}")
    assert status == 200, text
    return {t["key"]: t["value"] for t in json.loads(text)["model_version"].get("tags", [])}


def alias_version(server: str, alias: str) -> str:
    query = urllib.parse.urlencode({"name": MODEL, "alias": alias})
    status, text = http("GET", f"{server}/api/2.0/mlflow/registered-models/alias?{query}")
    assert status == 200, text
    return str(json.loads(text)["model_version"]["version"])


def test_rails_against_a_tracking_server_with_postgresql_and_s3(
    default_project: Path, tracking_server: dict[str, str], tmp_path: Path
) -> None:
    server = tracking_server["url"]
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}} | {
        "APP_ENV": "dev",
        "APP_MLFLOW__TRACKING_URI": server,
        "APP_MLFLOW__EXPERIMENT": "server-e2e",
        "APP_DATA__PROCESSED_DIR": str(tmp_path / "processed"),
        "APP_MONITORING__WINDOW_PATH": str(tmp_path / "window.jsonl"),
        "APP_MONITORING__REPORT_DIR": str(tmp_path / "reports"),
        "APP_MONITORING__PROM_PATH": str(tmp_path / "drift.prom"),
        "APP_MONITORING__MIN_WINDOW_ROWS": "50",
        "APP_MODEL__ALIAS_POLL_SECONDS": "0.5",
        "UV_COMPILE_BYTECODE": "1",
    }
    pilot = Pilot(default_project, env)
    why = ["--actor", "ci"]

    # train -> register -> gate -> promote
    assert "version 1 as challenger" in pilot.run("train").stdout
    assert (
        "version 1 passed the gate"
        in pilot.run("promote", "--to", "staging", "--reason", "first release", *why).stdout
    )
    assert (
        "alias champion -> version 1"
        in pilot.run("promote", "--to", "production", "--reason", "first release", *why).stdout
    )

    # a degraded challenger is refused, naming the failed check, and cannot skip staging
    assert "version 2 as challenger" in pilot.run("train", "--shuffle-labels").stdout
    refused = pilot.run("promote", "--to", "staging", "--reason", "drill", *why, ok=False)
    assert refused.returncode == 1
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert refused.stderr.startswith("error: gate refused version 2: failed ")
    assert "failed absolute: roc_auc" in refused.stderr
    skipped = pilot.run(
        "promote", "--to", "production", "--version", "2", "--reason", "skip", ok=False
    )
    assert skipped.stderr.strip() == (
        "error: version 2 was not validated in staging: "
        "run `promote --to staging --version 2` first"
    )
    assert version_tags(server, "2")["gate.verdict"] == "failed"

    # serve, then promote a good challenger and roll back while requests are answered
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [
            str(default_project / ".venv" / "bin" / "churn-pilot"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=default_project,
        env=env,
        stdout=log,
        stderr=log,
    )
    answers: list[tuple[int, str]] = []
    done = threading.Event()

    def load() -> None:
        while not done.is_set():
            try:
                status, text = http("POST", base + "/predict", ROW)
            except OSError as exc:
                answers.append((0, str(exc)))
                continue
            answers.append((status, json.loads(text).get("model_version", text)))
            time.sleep(0.01)  # steady traffic, not a load test: the machine is shared

    def serving(version: str) -> bool:
        return json.loads(http("GET", base + "/metadata")[1]).get("model_version") == version

    worker = threading.Thread(target=load)
    try:
        wait_until("serve", lambda: http("GET", base + "/ready")[0] == 200, serve)
        assert serving("1")
        worker.start()
        assert "version 3 as challenger" in pilot.run("train").stdout
        pilot.run("promote", "--to", "staging", "--reason", "retrained", *why)
        pilot.run("promote", "--to", "production", "--reason", "retrained", *why)
        wait_until("switch to version 3", lambda: serving("3"), serve, timeout=60)
        out = pilot.run("rollback", "--reason", "alerts after release", *why).stdout
        assert "alias champion -> version 1 (was 3)" in out
        wait_until("rollback to version 1", lambda: serving("1"), serve, timeout=60)
        status, text = http("GET", base + "/ready")
        assert status == 200 and json.loads(text)["model_version"] == "1"
    finally:
        done.set()
        if worker.is_alive():
            worker.join(30)
        stop(serve)
        log.close()
    assert answers and {status for status, _ in answers} == {200}, answers[:5]
    assert {version for _, version in answers} == {"1", "3"}
    tags = version_tags(server, "3")
    assert (tags["rollback.by"], tags["rollback.reason"], tags["rollback.to"]) == (
        "ci",
        "alerts after release",
        "1",
    )
    assert tags["production.previous_champion"] == "1"

    # the served window (one repeated row) has drifted: exit 1, report, Prometheus figures,
    # and the retraining hook gates a fresh challenger into staging (champion stays put)
    drift = pilot.run("drift", "--retrain", ok=False)
    assert drift.returncode == 1, drift.stdout + drift.stderr
    assert "BREACH" in drift.stdout and "plan drifted" in drift.stdout
    assert "retrained: version 4: version 4 passed the gate" in drift.stdout, drift.stdout
    assert alias_version(server, "staging-validated") == "4"
    assert alias_version(server, "champion") == "1"
    assert version_tags(server, "4")["staging.reason"].startswith("retrain: drift: ")
    assert "pilot_drift_breached{" in (tmp_path / "drift.prom").read_text()
    assert json.loads((tmp_path / "reports" / "latest.json").read_text())["breached"] is True

    # artifacts went to the object store, not to the server's disk
    status, listing = http("GET", tracking_server["s3"] + "/mlflow?list-type=2&max-keys=1000")
    assert status == 200 and "reference_profile.json" in listing and "lineage.json" in listing
