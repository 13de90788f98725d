#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Regenerate requirements.lock from requirements.in: resolve in a throwaway venv and pin
# every distribution pip installed, under its PyPI name.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"${PYTHON:-python3}" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet --upgrade pip
"$tmp/venv/bin/python" -m pip install --disable-pip-version-check -r "$ROOT/requirements.in" \
  --report "$tmp/report.json" >/dev/null
{
  echo '# Pinned environment for `make setup`, generated from requirements.in by'
  echo '# tools/lock_requirements.sh. Do not edit by hand.'
  "$tmp/venv/bin/python" - "$tmp/report.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
pins = {(i['metadata']['name'], i['metadata']['version']) for i in report['install']}
for name, version in sorted(pins, key=lambda p: p[0].lower()):
    print(f'{name}=={version}')
PY
} > "$ROOT/requirements.lock"
echo "requirements.lock: $(grep -c '==' "$ROOT/requirements.lock") pins"
