"""Kubernetes overlays and compose file of a generated pilot, rendered and validated offline.

Every overlay is rendered with kustomize (`kubectl kustomize`, or the standalone `kustomize`
that .ci/setup.d/20-podman.sh installs when kubectl is missing) and validated against the
Kubernetes 1.30 schemas with `kubernetes-validate --strict` (pinned in requirements-dev.txt).
"""

from __future__ import annotations

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
    return str(beside) if beside.exists() else require_binary(name, "pip install -r requirements-dev.txt")


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
    proc = subprocess.run([*kustomize_command(), str(path)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def validate(manifest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("kubernetes-validate"), "--strict", "-k", K8S_VERSION, "--quiet", str(manifest)],
        capture_output=True, text=True, check=False,
    )


def by_kind(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in docs}


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
    assert set(docs) == {"ConfigMap", "Service", "Deployment", "HorizontalPodAutoscaler",
                         "PodDisruptionBudget"}
    assert {d["metadata"]["namespace"] for d in docs.values()} == {f"{slug}-{env}"}
    dns_label = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    for doc in docs.values():
        assert dns_label.match(doc["metadata"]["namespace"])
        assert all(len(v) <= 63 for v in doc["metadata"]["labels"].values())
    assert docs["ConfigMap"]["data"]["APP_ENV"] == env

    deployment = docs["Deployment"]
    pod = deployment["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    for selector in (deployment["spec"]["selector"]["matchLabels"],
                     docs["Service"]["spec"]["selector"],
                     docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"]):
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
    # Writable only where needed, and never from the image.
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/app/var", "/tmp"}
    assert all("emptyDir" in v for v in pod["spec"]["volumes"])
    # Configuration from the ConfigMap, secrets by reference to a Secret never committed.
    assert container["envFrom"][0]["configMapRef"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]}
    assert refs == {f"{slug}-secrets"}
    assert "kind: Secret" not in rendered


def test_environments_differ_where_they_should(project: Path) -> None:
    hpa = {}
    for env in ENVIRONMENTS:
        docs = by_kind(list(yaml.safe_load_all(kustomize(project / "deploy/k8s/overlays" / env))))
        hpa[env] = docs["HorizontalPodAutoscaler"]["spec"]["minReplicas"]
        pdb = docs["PodDisruptionBudget"]["spec"]
        # a single dev replica must not block node drains
        assert ("maxUnavailable" in pdb) == (env == "dev")
    assert hpa["dev"] < hpa["staging"] < hpa["prod"]


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
    proc = subprocess.run(["bash", str(script), "--render", "prod", ref],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    deployment = by_kind(list(yaml.safe_load_all(proc.stdout)))["Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == ref
    tagged = subprocess.run(["bash", str(script), "--render", "prod", f"{slug}:latest"],
                            capture_output=True, text=True, check=False)
    assert tagged.returncode == 2
    assert "deploy by digest" in tagged.stderr
    assert not list((project / "deploy" / "k8s").glob(".release-*"))


# ------------------------------------------------------------------ compose

REQUIRED = re.compile(r"\$\{(\w+):\?[^}]+\}")


def test_compose_dev_and_staging_profiles(project: Path) -> None:
    text = (project / "compose.yaml").read_text()
    compose = yaml.safe_load(text)
    services = compose["services"]
    profile = {name: s["profiles"] for name, s in services.items()}
    dev = {n for n, p in profile.items() if p == ["dev"]}
    staging = {n for n, p in profile.items() if p == ["staging"]}
    assert dev == {"api", "mlflow"}
    assert {"api-staging", "mlflow-staging", "postgres", "objectstore"} <= staging
    for name, service in services.items():
        if name != "objectstore-bucket":  # one-shot bucket creation
            assert "test" in service["healthcheck"], name

    api = services["api-staging"]
    assert api["environment"]["APP_ENV"] == "staging"
    assert api["environment"]["APP_MLFLOW__TRACKING_URI"] == "http://mlflow-staging:5000"
    assert api["depends_on"]["mlflow-staging"]["condition"] == "service_healthy"
    command = " ".join(services["mlflow-staging"]["command"])
    assert "--backend-store-uri=postgresql+psycopg2://" in command  # tracking on PostgreSQL
    assert "--artifacts-destination=s3://" in command  # artifacts in the object store
    for name in api, services["mlflow"]:
        assert name["read_only"] is True

    # Every secret of staging is required from the environment, with a message; none written.
    assert set(REQUIRED.findall(text)) == {"POSTGRES_PASSWORD", "OBJECTSTORE_PASSWORD", "API_KEYS"}
    for service in services.values():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|KEYS?$", key):
                assert str(value).startswith("${") and ":?" in str(value), key
