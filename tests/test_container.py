"""The generated pilot's image: linted, built for real, run as production runs it.

Docker is used where an engine answers; otherwise podman (.ci/setup.d/20-podman.sh installs
it). Registry pulls do not work on these machines, so the podman path builds on a local Debian
base image made with debootstrap (cached under /var/cache/shipshape) and passes it as the
Dockerfile's BASE_IMAGE build argument; the host's CA bundle goes in as the build secret, as
it would behind a corporate TLS proxy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import IN_CI, free_port, http, render, require_binary, uv_run

BASE_IMAGE = "localhost/shipshape-base:bookworm-python3"
BASE_CACHE = Path("/var/cache/shipshape/bookworm-python3.tar")


def tool(name: str) -> str:
    """A tool pinned in requirements-dev.txt (next to this interpreter) or on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    return require_binary(name, "pip install -r requirements-dev.txt")


def test_dockerfile_passes_hadolint(tmp_path: Path) -> None:
    for answers in ({}, {"python_version": "3.13", "project_name": "X" * 58}):
        project = render(tmp_path / str(len(answers)), **answers)
        proc = subprocess.run(
            [tool("hadolint"), "--no-color", "Dockerfile"],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_shape(tmp_path: Path) -> None:
    text = (render(tmp_path / "p", python_version="3.12") / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=python:3.12-slim" in text
    assert text.count("FROM ${BASE_IMAGE}") == 2  # builder and runtime on the same base
    # the dependency layer first, with the service's dependencies only
    assert "uv sync --locked --no-default-groups --no-install-project" in text
    assert "--mount=type=secret,id=ca_bundle" in text
    assert "UV_PYTHON_DOWNLOADS=never" in text
    assert "HEALTHCHECK" in text and "\nUSER ${APP_UID}" in text
    ignored = (tmp_path / "p" / ".dockerignore").read_text().splitlines()
    assert ignored[ignored.index("*") :][:1] == ["*"]  # allow-list: nothing enters unless named
    assert "**/.env" in ignored and "**/mlruns" in ignored


# ------------------------------------------------------------------ build and run for real


@dataclass
class Engine:
    cmd: list[str]
    env: dict[str, str]
    podman: bool

    def run(
        self, *args: str, timeout: float = 600, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*self.cmd, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(args[:3])} exited {proc.returncode}:\n"
                f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        return proc


def docker_engine() -> Engine | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "info"], capture_output=True).returncode == 0:
        return Engine([docker], dict(os.environ), podman=False)
    return None


def podman_engine(tmp: Path) -> Engine:
    podman = require_binary("podman", "builds and runs the generated image without Docker")
    require_binary("runc", "podman's container runtime here")
    conf = tmp / "containers.conf"
    conf.write_text(
        '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n'
        '[engine]\nruntime = "runc"\n'
    )
    return Engine([podman], dict(os.environ) | {"CONTAINERS_CONF": str(conf)}, podman=True)


def debian_mirror() -> str:
    """The Debian mirror apt already uses (deb822 `URIs:` or one-line `deb URL` entries)."""
    for source in [Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")]:
        if source.exists():
            for line in source.read_text().splitlines():
                words = line.split()
                if words[:1] in (["URIs:"], ["deb"]):
                    urls = [w for w in words[1:] if w.startswith("http") and "security" not in w]
                    if urls:
                        return urls[0]
    pytest.fail("no Debian mirror configured for apt: debootstrap needs the one apt uses")


def ensure_base_image(engine: Engine, tmp: Path) -> None:
    """A Debian bookworm image with Python 3.11 and venv, made locally (no registry)."""
    if engine.run("image", "exists", BASE_IMAGE, check=False).returncode == 0:
        return
    if not BASE_CACHE.exists():
        debootstrap = require_binary("debootstrap", "makes the local base image")
        rootfs = tmp / "rootfs"
        subprocess.run(
            [
                debootstrap,
                "--variant=minbase",
                "--include=python3,python3-venv,ca-certificates",
                "bookworm",
                str(rootfs),
                debian_mirror(),
            ],
            check=True,
            capture_output=True,
            timeout=900,
        )
        for junk in [
            "var/cache/apt/archives",
            "var/lib/apt/lists",
            "usr/share/doc",
            "usr/share/man",
            "usr/share/locale",
        ]:
            shutil.rmtree(rootfs / junk, ignore_errors=True)
        BASE_CACHE.parent.mkdir(parents=True, exist_ok=True)
        partial = BASE_CACHE.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], check=True)
        partial.rename(BASE_CACHE)
        shutil.rmtree(rootfs, ignore_errors=True)
    engine.run("import", str(BASE_CACHE), BASE_IMAGE)


def ca_bundle() -> str | None:
    for candidate in [os.environ.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt"]:
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@dataclass
class Built:
    engine: Engine
    image: str
    project: Path
    seconds: float
    size_mb: float


@pytest.fixture(scope="module")
def built(default_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    tmp = tmp_path_factory.mktemp("container")
    engine = docker_engine() or podman_engine(tmp)
    image = f"localhost/shipshape-test/{default_project.name}:{uuid.uuid4().hex[:8]}"
    args = ["build", "-t", image]
    if engine.podman:
        ensure_base_image(engine, tmp)
        # chroot isolation: RUN steps need no extra privileges; docker format keeps HEALTHCHECK.
        args += [
            "--isolation",
            "chroot",
            "--format",
            "docker",
            "--build-arg",
            f"BASE_IMAGE={BASE_IMAGE}",
        ]
    bundle = ca_bundle()
    if bundle:
        args += ["--secret", f"id=ca_bundle,src={bundle}"]
    # Canaries: a secret and a data file in the project must never reach any layer.
    canary = f"shipshape-canary-{uuid.uuid4().hex}"
    (default_project / ".env").write_text(f"APP_CANARY={canary}\n")
    (default_project / "data" / "canary.csv").write_text(f"secret\n{canary}\n")
    try:
        started = time.perf_counter()
        engine.run(*args, str(default_project), timeout=900)
        seconds = time.perf_counter() - started
    finally:
        (default_project / ".env").unlink()
        (default_project / "data" / "canary.csv").unlink()
    size = float(engine.run("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())
    print(f"\nimage build: {seconds:.1f} s, size {size / 1e6:.0f} MB ({image})")
    archive = tmp / "image.tar"
    engine.run("save", "-o", str(archive), image)
    with archive.open("rb") as f:
        tail = b""
        while chunk := f.read(1 << 24):
            assert canary.encode() not in tail + chunk, "a secret or data file reached a layer"
            tail = chunk[-len(canary) :]
    archive.unlink()
    try:
        yield Built(engine, image, default_project, seconds, size / 1e6)
    finally:
        engine.run("rmi", "-f", image, check=False)
        if engine.podman:  # the untagged builder stage left behind by the build
            engine.run("image", "prune", "-f", check=False)


@contextmanager
def tracking_server(project: Path, store: Path) -> Iterator[str]:
    """`mlflow server` (SQLite backend, proxied artifacts) from the pilot's workstation venv:
    the image carries MLflow's client only and reaches the registry through it, as in prod."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    cmd = [str(project / ".venv" / "bin" / "mlflow"), "server", "--host", "127.0.0.1",
           "--port", str(port), "--workers", "1",
           "--backend-store-uri", f"sqlite:///{store}/mlflow.db",
           "--artifacts-destination", str(store / "artifacts")]  # fmt: skip
    with (store / "mlflow.log").open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, (store / "mlflow.log").read_text()[-3000:]
            try:
                if http("GET", url + "/health")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "mlflow server not ready after 240 s"
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.generated
@pytest.mark.slow
def test_serving_image_installs_only_what_serving_needs(built: Built) -> None:
    # The goal is at most 450 MB of installed dependencies (the base image's Python aside).
    du = built.engine.run("run", "--rm", "--entrypoint", "du", built.image, "-sm", "/app/.venv")
    venv_mb = int(du.stdout.split()[0])
    print(f"\nserving image: {built.size_mb:.0f} MB in all, /app/.venv {venv_mb} MB")
    assert venv_mb <= 450, f"/app/.venv is {venv_mb} MB"
    listed = built.engine.run(
        "run", "--rm", "--entrypoint", "python", built.image, "-c",
        "import importlib.metadata as m; print(sorted(d.metadata['Name'].lower() "
        "for d in m.distributions()))",
    ).stdout  # fmt: skip
    assert "'mlflow-skinny'" in listed
    for absent in ("'mlflow'", "'sqlalchemy'", "'pyarrow'", "'pytest'", "'mypy'"):
        assert absent not in listed, f"{absent} is in the serving image"


@pytest.mark.generated
@pytest.mark.slow
def test_image_serves_predictions_as_non_root(built: Built, tmp_path: Path) -> None:
    engine, slug = built.engine, built.project.name
    store = Path(tempfile.mkdtemp(prefix="shipshape-store-"))
    try:
        with tracking_server(built.project, store) as tracking:
            registry = {"APP_MLFLOW__TRACKING_URI": tracking}
            uv_run(built.project, slug, "train", env=registry)
            # train sets `challenger`; the service serves `champion`: gate it, then promote it
            for stage in ("staging", "production"):
                uv_run(built.project, slug, "promote", "--to", stage, "--reason",
                       "container test", env=registry)  # fmt: skip
            port = free_port()
            name = f"shipshape-test-{uuid.uuid4().hex[:8]}"
            engine.run(
                "run", "-d", "--rm", "--name", name, "--read-only",
                "--mount", "type=volume,destination=/app/var",  # as in Kubernetes
                "--network", "host",  # the tracking server listens on the host's loopback
                "-e", "APP_ENV=dev",
                "-e", f"APP_MLFLOW__TRACKING_URI={tracking}",
                "-e", "APP_SERVING__HOST=127.0.0.1",
                "-e", f"APP_SERVING__PORT={port}",
                built.image,
            )  # fmt: skip
            try:
                check_serving(engine, name, f"http://127.0.0.1:{port}")
            finally:
                engine.run("stop", "-t", "10", name, check=False)
    finally:
        shutil.rmtree(store, ignore_errors=True)


def check_serving(engine: Engine, name: str, base: str) -> None:
    deadline = time.monotonic() + 120
    status, text = 0, "not listening"
    while time.monotonic() < deadline:
        try:
            status, text = http("GET", base + "/ready")
        except OSError:
            status, text = 0, "not listening"
        if status == 200:
            break
        time.sleep(0.5)
    logs = engine.run("logs", name, check=False)
    assert status == 200, f"not ready: {status} {text}\n{logs.stdout}{logs.stderr}"
    assert http("GET", base + "/health") == (200, '{"status":"ok"}')
    _, spec = http("GET", base + "/openapi.json")
    example = json.loads(spec)["components"]["schemas"]["Features"]["examples"][0]
    status, text = http("POST", base + "/predict", example)
    assert status == 200, text
    assert json.loads(text)["predictions"]
    assert engine.run("exec", name, "id", "-u").stdout.strip() == "10001"
    # The image's own HEALTHCHECK passes.
    if engine.podman:
        assert engine.run("healthcheck", "run", name, check=False).returncode == 0
    else:
        engine.run("exec", name, "python", "-c",
                   "import os, urllib.request as u; u.urlopen('http://127.0.0.1:' + "
                   "os.environ['APP_SERVING__PORT'] + '/health', timeout=4)")  # fmt: skip
    # The root filesystem is read-only; only the volume is writable.
    denied = engine.run("exec", name, "touch", "/app/config/x", check=False)
    assert denied.returncode != 0


@pytest.mark.generated
@pytest.mark.slow
def test_image_refuses_to_serve_prod_with_unsafe_settings(built: Built) -> None:
    # The image defaults to prod: with no secrets and no tracking server it must not start.
    proc = built.engine.run("run", "--rm", built.image, check=False, timeout=120)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert any(line.startswith("prod: APP_DATA__URL:") for line in lines), proc.stderr
    assert "Traceback" not in proc.stderr
    check = built.engine.run(
        "run", "--rm", built.image, "config", "check", "--env", "prod", check=False, timeout=120
    )
    assert check.returncode == 1 and "prod: " in check.stderr


def test_ci_installs_the_container_tools() -> None:
    script = Path(__file__).resolve().parents[1] / ".ci" / "setup.d" / "20-podman.sh"
    text = script.read_text()
    for package in ("podman", "runc", "debootstrap"):
        assert package in text
    if IN_CI:
        require_binary("podman", "installed by .ci/setup.d/20-podman.sh")
