#!/usr/bin/env bash
# The Python 3.13 test (tests/test_python_versions.py) needs a real 3.13 interpreter: uv cannot
# download one here and Debian bookworm ships none. Use python3.13 from PATH or one that pyenv
# installed; hand its path to the tests through .ci/env, or stop with the reason.
set -euo pipefail
found=""
for candidate in "$(command -v python3.13 || true)" \
  "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13.*/bin/python3.13; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" --version >/dev/null 2>&1; then
    found="$candidate"
    break
  fi
done
if [ -z "$found" ]; then
  echo "no Python 3.13 interpreter (python3.13 on PATH or under \$PYENV_ROOT/versions):" \
    "tests/test_python_versions.py needs one" >&2
  exit 1
fi
"$found" --version
echo "export SHIPSHAPE_PYTHON_3_13='$found'" >>.ci/env
