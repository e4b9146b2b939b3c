"""Kubernetes overlays and compose file of a generated pilot, rendered and validated offline.

Every overlay is rendered with kustomize (`kubectl kustomize`, or the standalone `kustomize`
that .ci/setup.d/20-podman.sh installs when kubectl is missing) and validated against the
Kubernetes 1.30 schemas with `kubernetes-validate --strict` (pinned in requirements-dev.txt).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import render, require_binary

ENVIRONMENTS = ("dev", "staging", "prod")
K8S_VERSION = "1.30"
LONG_NAME = "A" + "b" * 57  # 58 characters: names must still be valid Kubernetes names
DIGEST = "sha256:" + "0123456789abcdef" * 4


def tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    return require_binary(name, "pip install -r requirements-dev.txt")


def kustomize_command() -> list[str]:
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return [require_binary("kustomize", "renders the Kustomize overlays"), "build"]


@pytest.fixture(scope="module", params=["default", "long-name"])
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    answers = {} if request.param == "default" else {"project_name": LONG_NAME}
    return render(tmp_path_factory.mktemp(request.param) / "p", **answers)


def slug_of(project: Path) -> str:
    """The Kubernetes name: the slug, cut so that '<name>-staging' fits a 63-character label."""
    slug = re.search(r'^name = "(.+)"', (project / "pyproject.toml").read_text(), re.M)[1]
    return slug[:55].rstrip("-")


def kustomize(path: Path) -> str:
    proc = subprocess.run(
        [*kustomize_command(), str(path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def validate(manifest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("kubernetes-validate"), "--strict", "-k", K8S_VERSION, "--quiet", str(manifest)],
        capture_output=True,
        text=True,
        check=False,
    )


def by_kind(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One document per kind; for CronJobs, the nightly batch and for claims its volume
    (staging also runs drift and monitor CronJobs on a shared volume, checked on their own)."""
    out = {d["kind"]: d for d in docs if d["kind"] not in {"CronJob", "PersistentVolumeClaim"}}
    for d in docs:
        if d["kind"] == "CronJob" and cron_command(d) == "score":
            out["CronJob"] = d
        if d["kind"] == "PersistentVolumeClaim" and d["metadata"]["name"].endswith("-batch"):
            out["PersistentVolumeClaim"] = d
    return out


def cron_command(doc: dict[str, Any]) -> str:
    return str(doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"][0])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_overlay_renders_and_validates_against_kubernetes_schemas(
    project: Path, env: str, tmp_path: Path
) -> None:
    rendered = kustomize(project / "deploy" / "k8s" / "overlays" / env)
    manifest = tmp_path / f"{env}.yaml"
    manifest.write_text(rendered)
    proc = validate(manifest)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    slug = slug_of(project)
    docs = by_kind([d for d in yaml.safe_load_all(rendered) if d])
    core = {
        "ConfigMap",
        "Service",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "CronJob",
        "PersistentVolumeClaim",
    }
    operator = {"ServiceMonitor", "PrometheusRule"} if env != "dev" else set()
    assert set(docs) == core | operator | ({"CronJob"} if env == "staging" else set())
    assert {d["metadata"]["namespace"] for d in docs.values()} == {f"{slug}-{env}"}
    dns_label = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    for doc in docs.values():
        assert dns_label.match(doc["metadata"]["namespace"])
        assert all(len(v) <= 63 for v in doc["metadata"]["labels"].values())
    assert docs["ConfigMap"]["data"]["APP_ENV"] == env

    deployment = docs["Deployment"]
    pod = deployment["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    for selector in (
        deployment["spec"]["selector"]["matchLabels"],
        docs["Service"]["spec"]["selector"],
        docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
        docs["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"],
    ):
        assert selector.items() <= pod_labels.items()
    assert docs["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == slug

    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["automountServiceAccountToken"] is False
    (container,) = pod["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    resources = container["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    # Writable only where needed (scratch volumes; staging's /app/var is the volume its
    # monitors share), secrets mounted read-only.
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    writable = {path for path, m in mounts.items() if not m.get("readOnly")}
    assert writable == {"/app/var", "/tmp"}
    scratch = writable - ({"/app/var"} if env == "staging" else set())
    assert all("emptyDir" in volumes[mounts[path]["name"]] for path in scratch)
    if env == "staging":
        check_shared_var(
            yaml.safe_load_all(rendered), container, volumes[mounts["/app/var"]["name"]]
        )
    # Configuration from the ConfigMap, secrets by reference to a Secret never committed.
    assert container["envFrom"][0]["configMapRef"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    refs = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for e in container["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    refs |= {v["secret"]["secretName"] for v in volumes.values() if "secret" in v}
    assert refs == {f"{slug}-secrets"}
    assert "kind: Secret" not in rendered
    check_batch_cronjob(docs, slug)


def check_shared_var(all_docs: Any, api: dict[str, Any], api_volume: dict[str, Any]) -> None:
    """Staging: every replica and the drift/monitor CronJobs mount one ReadWriteMany claim at
    /app/var; each replica keeps its own window file and the monitors read all of them."""
    docs = [d for d in all_docs if d]
    claim = api_volume["persistentVolumeClaim"]["claimName"]
    (pvc,) = [
        d for d in docs if d["kind"] == "PersistentVolumeClaim" and d["metadata"]["name"] == claim
    ]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    env = {e["name"]: e for e in api["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["APP_MONITORING__WINDOW_PATH"]["value"].endswith("window-$(POD_NAME).jsonl")
    monitors = [d for d in docs if d["kind"] == "CronJob" and cron_command(d) != "score"]
    assert sorted(cron_command(d) for d in monitors) == ["drift", "monitor"]
    for cron in monitors:
        pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/app/var"]
        (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        assert volume["persistentVolumeClaim"]["claimName"] == claim
        window = {e["name"]: e.get("value") for e in container["env"]}[
            "APP_MONITORING__WINDOW_PATH"
        ]
        assert window == "/app/var/monitoring/window-*.jsonl"


def check_batch_cronjob(docs: dict[str, dict[str, Any]], slug: str) -> None:
    """The nightly batch: hardened like the API, resumable (dated batch id), durable volume."""
    cron = docs["CronJob"]["spec"]
    assert cron["concurrencyPolicy"] == "Forbid"
    pod = cron["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["image"].startswith(slug)
    args = container["args"]
    assert args[0] == "score"
    assert any(a.startswith("--batch-id=") and "%Y" in a for a in args)
    assert any(a.startswith("--reason=") for a in args)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    volumes = {v["name"]: v for v in pod["volumes"]}
    claim = volumes["batch"]["persistentVolumeClaim"]["claimName"]
    assert claim == docs["PersistentVolumeClaim"]["metadata"]["name"]
    secrets = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
    assert secrets == {f"{slug}-secrets"}


def test_monitoring_resources_scrape_the_service_and_carry_the_alert_rules(
    project: Path, tmp_path: Path
) -> None:
    """ServiceMonitor and PrometheusRule are CRDs (no schema in kubernetes-validate): checked
    structurally here, and the embedded rules with promtool; staging runs the monitors."""
    promtool = require_binary("promtool", "checks the alert rules (Debian package prometheus)")
    rules_file = yaml.safe_load((project / "deploy/monitoring/alerts.yaml").read_text())
    for env in ("staging", "prod"):
        docs = [
            d for d in yaml.safe_load_all(kustomize(project / "deploy/k8s/overlays" / env)) if d
        ]
        kinds = by_kind(docs)
        service, monitor = kinds["Service"], kinds["ServiceMonitor"]
        assert (
            monitor["apiVersion"]
            == kinds["PrometheusRule"]["apiVersion"]
            == "monitoring.coreos.com/v1"
        )
        assert (
            monitor["spec"]["selector"]["matchLabels"].items()
            <= service["metadata"]["labels"].items()
        )
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics"
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
        spec = kinds["PrometheusRule"]["spec"]
        assert spec == rules_file  # the same groups as deploy/monitoring/alerts.yaml
        path = tmp_path / f"{env}-rules.yaml"
        path.write_text(yaml.safe_dump(spec))
        proc = subprocess.run(
            [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        commands = sorted(cron_command(d) for d in docs if d["kind"] == "CronJob")
        # every environment runs the nightly batch; staging also drift and monitor
        assert commands == (["drift", "monitor", "score"] if env == "staging" else ["score"])


def test_environments_differ_where_they_should(project: Path) -> None:
    hpa = {}
    schedules = {}
    for env in ENVIRONMENTS:
        docs = by_kind(list(yaml.safe_load_all(kustomize(project / "deploy/k8s/overlays" / env))))
        hpa[env] = docs["HorizontalPodAutoscaler"]["spec"]["minReplicas"]
        cron = docs["CronJob"]["spec"]
        schedules[env] = (cron["schedule"], cron.get("suspend", False))
        pdb = docs["PodDisruptionBudget"]["spec"]
        # a single dev replica must not block node drains
        assert ("maxUnavailable" in pdb) == (env == "dev")
    assert hpa["dev"] < hpa["staging"] < hpa["prod"]
    # the batch: nightly in prod, its own schedule in staging, only by hand in dev
    assert schedules["prod"] == ("30 2 * * *", False)
    assert schedules["staging"][0] != schedules["prod"][0] and not schedules["staging"][1]
    assert schedules["dev"][1] is True


def test_strict_validation_catches_mistakes(project: Path, tmp_path: Path) -> None:
    rendered = kustomize(project / "deploy" / "k8s" / "overlays" / "prod")
    broken = tmp_path / "broken.yaml"
    broken.write_text(rendered.replace("readOnlyRootFilesystem:", "readOnlyRootFileSystem:"))
    assert validate(broken).returncode != 0


def test_deploy_script_pins_the_digest_and_refuses_tags(project: Path) -> None:
    kustomize_command()  # same requirement as the overlays
    script = project / "deploy" / "k8s" / "deploy.sh"
    slug = slug_of(project)
    ref = f"registry.example.com/team/{slug}@{DIGEST}"
    proc = subprocess.run(
        ["bash", str(script), "--render", "prod", ref], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    deployment = by_kind(list(yaml.safe_load_all(proc.stdout)))["Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == ref
    tagged = subprocess.run(
        ["bash", str(script), "--render", "prod", f"{slug}:latest"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert tagged.returncode == 2
    assert "deploy by digest" in tagged.stderr
    assert not list((project / "deploy" / "k8s").glob(".release-*"))


# ------------------------------------------------------------------ compose

REQUIRED = re.compile(r"\$\{(\w+):\?[^}]+\}")
STAGING_SECRETS = {
    "POSTGRES_PASSWORD": "pg-pass-1",
    "OBJECTSTORE_PASSWORD": "store-pass-1",
    "API_KEYS": "k1:predict:abc",
}


def compose_config(
    project: Path,
    *files: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`podman-compose config`: resolves and merges the files offline, as compose would."""
    require_binary("podman", "podman-compose asks podman for its version")
    args = [arg for f in files for arg in ("-f", f)]
    clean = {k: v for k, v in os.environ.items() if k not in STAGING_SECRETS}
    return subprocess.run(
        [tool("podman-compose"), *args, "config"],
        cwd=project,
        env=clean | (env or {}),
        capture_output=True,
        text=True,
        check=False,
    )


def test_compose_files_shape(project: Path) -> None:
    dev = yaml.safe_load((project / "compose.yaml").read_text())
    staging_text = (project / "compose.staging.yaml").read_text()
    staging = yaml.safe_load(staging_text)
    assert set(dev["services"]) == {"api", "mlflow"}
    assert {"api", "mlflow", "postgres", "objectstore"} <= set(staging["services"])
    for service in dev["services"].values():
        assert service["read_only"] is True and "test" in service["healthcheck"]
    for name in ("postgres", "objectstore"):
        assert "test" in staging["services"][name]["healthcheck"]
    # dev needs no secret; staging requires each from the environment, with a message.
    assert not REQUIRED.findall((project / "compose.yaml").read_text())
    assert set(REQUIRED.findall(staging_text)) == set(STAGING_SECRETS)
    for service in staging["services"].values():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|KEYS?$", key):
                assert str(value).startswith("${") and ":?" in str(value), key


def test_compose_dev_renders_without_secrets(project: Path) -> None:
    proc = compose_config(project, "compose.yaml")
    assert proc.returncode == 0, proc.stderr[-2000:]
    services = yaml.safe_load(proc.stdout)["services"]
    assert services["api"]["environment"]["APP_ENV"] == "dev"
    assert services["api"]["environment"]["APP_MLFLOW__TRACKING_URI"] == "http://mlflow:5000"


def test_compose_staging_is_structurally_production(project: Path) -> None:
    missing = compose_config(project, "compose.yaml", "compose.staging.yaml")
    assert missing.returncode != 0
    assert "set POSTGRES_PASSWORD (staging database password)" in missing.stderr

    proc = compose_config(project, "compose.yaml", "compose.staging.yaml", env=STAGING_SECRETS)
    assert proc.returncode == 0, proc.stderr[-2000:]
    services = yaml.safe_load(proc.stdout)["services"]
    api = services["api"]
    assert api["environment"]["APP_ENV"] == "staging"
    assert api["environment"]["APP_DATA__URL"].startswith("postgresql+psycopg2://pilot:pg-pass-1@")
    assert api["environment"]["APP_SERVING__API_KEYS"] == STAGING_SECRETS["API_KEYS"]
    assert api["depends_on"]["mlflow"]["condition"] == "service_healthy"
    assert api["read_only"] is True and "test" in api["healthcheck"]
    command = " ".join(services["mlflow"]["command"])
    assert "--backend-store-uri=postgresql+psycopg2://" in command  # tracking on PostgreSQL
    assert "--artifacts-destination=s3://" in command  # artifacts in the object store
    assert "test" in services["mlflow"]["healthcheck"]
