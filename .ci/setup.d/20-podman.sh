#!/usr/bin/env bash
# Container tooling for tests/test_container.py: podman (+ runc) builds and runs the generated
# image without a Docker engine; debootstrap makes the local base image (no registry pulls).
set -euo pipefail
need=()
for bin in podman runc debootstrap; do
  command -v "$bin" >/dev/null || need+=("$bin")
done
if [ "${#need[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get -y -qq install --no-install-recommends \
    podman runc debootstrap ca-certificates uidmap >/dev/null
fi
podman --version
runc --version | head -1
command -v debootstrap
