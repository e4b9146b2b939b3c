#!/usr/bin/env bash
# Refresh the package lists once; later setup scripts install with apt-get -y.
set -euo pipefail
if command -v apt-get >/dev/null; then
  apt-get update -qq >/dev/null
fi
