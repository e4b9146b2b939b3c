#!/usr/bin/env bash
# promtool for tests/test_alerts.py, tests/test_manifests.py and the generated pilot's
# tests/test_alerts.py: `promtool check rules` / `promtool test rules` on the alert rules.
# Debian's prometheus package ships it. Idempotent.
set -euo pipefail
if ! command -v promtool >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get -y -qq install --no-install-recommends prometheus >/dev/null
fi
promtool --version | head -1
