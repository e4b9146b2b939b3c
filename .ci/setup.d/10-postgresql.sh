#!/usr/bin/env bash
# PostgreSQL server binaries for the generated pilots' SQL-source tests (they start their own
# throwaway server on 127.0.0.1; as root they run it as the postgres user through runuser).
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get -y -qq install postgresql-15 >/dev/null
fi
initdb_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/initdb
"$initdb_bin" --version
id postgres >/dev/null
command -v runuser >/dev/null
