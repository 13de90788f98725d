# SPDX-License-Identifier: Apache-2.0
"""Point the ROS wheels' CMake exports at this machine's Python and NumPy headers.

The ``ros-jazzy-*`` wheels are built in a manylinux container and their exported CMake
targets name include directories that only exist there (``/opt/python/cp3XX-cp3XX/...``).
CMake refuses imported targets with non-existent include paths, so ``colcon build`` of any
message package fails until those two paths are rewritten. Idempotent.

Usage: python tools/fix_wheel_cmake.py VENV_DIR
"""

from __future__ import annotations

import pathlib
import re
import sys
import sysconfig

import numpy

# /opt/python/cp311-cp311/include/python3.11 and
# /opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include
PYTHON_INCLUDE = re.compile(r'/opt/python/cp\d+-cp\d+/include/python3\.\d+')
NUMPY_INCLUDE = re.compile(
    r'/opt/python/cp\d+-cp\d+/lib/python3\.\d+/site-packages/numpy/(?:_core|core)/include')


def fix_file(path: pathlib.Path, python_include: str, numpy_include: str) -> bool:
    """Rewrite one CMake file in place; return whether it changed."""
    text = path.read_text()
    fixed = NUMPY_INCLUDE.sub(numpy_include, text)
    fixed = PYTHON_INCLUDE.sub(python_include, fixed)
    if fixed == text:
        return False
    path.write_text(fixed)
    return True


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    share = pathlib.Path(argv[1]) / 'share'
    python_include = sysconfig.get_paths()['include']
    numpy_include = numpy.get_include()
    changed = [p for p in share.rglob('*.cmake') if fix_file(p, python_include, numpy_include)]
    print(f'fix_wheel_cmake: {len(changed)} file(s) rewritten '
          f'(python include {python_include}, numpy include {numpy_include})')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
