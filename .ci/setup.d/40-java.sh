#!/usr/bin/env bash
# Java 17 for the generated pilots' Spark batch test (`pytest -m spark`, local[2]); PySpark
# itself comes from the pilot's optional `spark` dependency group.
set -euo pipefail
if ! command -v java >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get -y -qq install openjdk-17-jre-headless >/dev/null
fi
java -version 2>&1 | head -1
