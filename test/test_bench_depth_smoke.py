# SPDX-License-Identifier: Apache-2.0
"""bench/depth.py in its quick version, so the script never rots (timings are not asserted)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

BENCH = pathlib.Path(__file__).resolve().parent.parent / 'bench'


def test_depth_bench_quick(tmp_path):
    command = [sys.executable, str(BENCH / 'depth.py'), '--quick', '--out', str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f'{done.stdout}\n{done.stderr}'
    report = json.loads((tmp_path / 'depth-quick.json').read_text())
    assert report['frame_size'] == [1280, 720] and report['people'] == 6
    assert len(report['steps_ms']) == 6 and report['total_ms']['p50'] > 0
    assert report['depth_deserialisation_ms']['bytes'] > 1280 * 720 * 2
    assert '| **total** |' in done.stdout
