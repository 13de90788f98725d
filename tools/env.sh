# SPDX-License-Identifier: Apache-2.0
# Enter the movenet_ros development environment built by `make setup`:
#   source tools/env.sh
# Activates .venv/ (ROS 2 Jazzy wheels, colcon, LiteRT) and the colcon install/ overlay, so
# `movenet-ros`, `ros2`-less Python nodes and `from movenet_ros.msg import ...` all work, from
# any directory. Sourcing it again (in the same shell, or in a child of a shell that did)
# gives the same environment: the overlay first, then .venv/, then what was there before.
_movenet_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ ! -f "$_movenet_root/install/setup.bash" ]; then
  echo "movenet_ros: no environment yet; run 'make setup' in $_movenet_root first" >&2
  unset _movenet_root
  return 1 2>/dev/null || exit 1
fi

# Remove from the colon-separated variable $1 its empty entries (they mean "the current
# directory") and every entry inside the folders $2...: this checkout's .venv/ and install/
# entries are removed before they are put back in their order.
_movenet_strip() {
  local var=$1 entry folder kept='' parts=()
  shift
  IFS=: read -r -a parts <<< "${!var-}"
  for entry in "${parts[@]}"; do
    [ -n "$entry" ] || continue
    for folder in "$@"; do
      case "$entry" in "$folder" | "$folder/"*) continue 2 ;; esac
    done
    kept="${kept:+$kept:}$entry"
  done
  if [ -n "$kept" ]; then export "$var=$kept"; else unset "$var"; fi
}

for _movenet_var in AMENT_PREFIX_PATH CMAKE_PREFIX_PATH COLCON_PREFIX_PATH PYTHONPATH \
    LD_LIBRARY_PATH PATH; do
  _movenet_strip "$_movenet_var" "$_movenet_root/.venv" "$_movenet_root/install"
done
# shellcheck disable=SC1091
source "$_movenet_root/.venv/bin/activate"
# The venv is the underlay: an ament prefix holding the ROS 2 wheels.
export AMENT_PREFIX_PATH="$_movenet_root/.venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$_movenet_root/.venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
# shellcheck disable=SC1091
source "$_movenet_root/install/setup.bash"
# ament's hooks leave an empty entry in LD_LIBRARY_PATH when it was unset.
_movenet_strip LD_LIBRARY_PATH
unset -f _movenet_strip
unset _movenet_root _movenet_var
