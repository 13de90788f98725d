# SPDX-License-Identifier: Apache-2.0
# Enter the movenet_ros development environment built by `make setup`:
#   source tools/env.sh
# Activates .venv/ (ROS 2 Jazzy wheels, colcon, LiteRT) and the colcon install/ overlay, so
# `movenet-ros`, `ros2`-less Python nodes and `from movenet_ros.msg import ...` all work.
_movenet_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ ! -f "$_movenet_root/install/setup.bash" ]; then
  echo "movenet_ros: no environment yet; run 'make setup' in $_movenet_root first" >&2
  return 1 2>/dev/null || exit 1
fi
# shellcheck disable=SC1091
source "$_movenet_root/.venv/bin/activate"
export AMENT_PREFIX_PATH="$_movenet_root/.venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$_movenet_root/.venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
# shellcheck disable=SC1091
source "$_movenet_root/install/setup.bash"
unset _movenet_root
