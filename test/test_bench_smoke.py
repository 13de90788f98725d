# SPDX-License-Identifier: Apache-2.0
"""The node benchmarks, in versions of a few seconds, so the scripts never rot.

Each script runs as its own process against the real node over real DDS, in this test
session's private ROS domain, writing into a temporary folder. Only behaviour is asserted
(frames answered, no crash, the report's shape), never timings: CI machines are too noisy.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parent.parent / 'bench'


def run_bench(script: str, tmp_path: pathlib.Path, *args: str, timeout: float = 180) -> str:
    command = [sys.executable, str(BENCH / script), *args, '--out', str(tmp_path),
               '--doc', str(tmp_path), '--domain', os.environ['ROS_DOMAIN_ID']]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f'{" ".join(command)}\n{done.stdout}\n{done.stderr}'
    assert 'Traceback' not in done.stderr, done.stderr
    return done.stdout


def test_node_bench_quick(tmp_path):
    out = run_bench('node.py', tmp_path, '--quick', '--sizes', '640x480', '--models',
                    'lightning')
    report = json.loads((tmp_path / 'node.json').read_text())
    assert {'machine', 'targets', 'raw_invoke', 'runs', 'inprocess'} <= set(report)
    assert [run['transport'] for run in report['runs']] == ['raw', 'jpeg']
    for run in report['runs']:
        assert run['exit_code'] == 0 and not run['traceback'], run
        assert run['peak_rss_mb'] > 0
        assert run['phases'], run
        for phase in run['phases']:
            assert phase['outputs'] > 0, phase  # the node answered frames in every phase
            assert phase['people_mean'] > 0  # people in the demo video were found
            assert {'processed_fps', 'raw_fps', 'throughput_ratio', 'latency_ms',
                    'node_cpu_cores', 'rss_mb', 'counters'} <= set(phase)
            assert {'p50', 'p95', 'p99'} <= set(phase['latency_ms'])
            counts = phase['counters']
            assert counts['frames processed'] + counts['frames dropped'] == \
                counts['frames received']
    [profile] = report['inprocess']
    assert profile['overhead_ms']['p50'] > 0 and profile['take_ms_median'] > 0
    for plot in ('node_latency.png', 'node_throughput.png'):
        assert (tmp_path / plot).stat().st_size > 10_000
    assert '| lightning | 2 | raw | 640x480 |' in out  # the Markdown table
    assert '| lightning | 2 | raw | 640x480 |' in (tmp_path / 'node.md').read_text()


def test_faults_quick(tmp_path):
    run_bench('load.py', tmp_path, 'faults', '--count', '200')
    report = json.loads((tmp_path / 'load_faults.json').read_text())
    assert report['checks'] and all(report['checks'].values()), report['checks']
    for run in report['runs']:
        assert run['bad_sent'] == 200
        assert run['good_sent'] > 0 and run['good_answered'] == run['good_sent']
        # Most bad messages reach the node's checks (the rest are replaced by newer ones).
        assert run['bad_rejected_by_node'] > 0
        assert not run['node_died'] and run['clean']


def test_burst_quick(tmp_path):
    run_bench('load.py', tmp_path, 'burst', '--duration', '3', '--model', 'lightning')
    report = json.loads((tmp_path / 'load_burst.json').read_text())
    assert report['checks'] and all(report['checks'].values()), report['checks']
    assert report['outputs'] > 0 and report['published'] > 0
    assert report['peak_rss_mb'] > 0 and report['in_stamp_order']
    assert (tmp_path / 'node_burst.png').stat().st_size > 10_000


def test_multicam_quick(tmp_path):
    """Two cameras in each layout (one node, with one and two interpreters; a node per
    camera): every camera answered in each."""
    command = [sys.executable, str(BENCH / 'multicam.py'), '--cameras', '2', '--repeats', '1',
               '--model', 'lightning', '--size', '640x480', '--warmup', '0.5',
               '--duration', '1.5', '--out', str(tmp_path),
               '--domain', os.environ['ROS_DOMAIN_ID']]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f'{done.stdout}\n{done.stderr}'
    report = json.loads((tmp_path / 'multicam.json').read_text())
    assert sorted((c['cameras'], c['layout'], c['processes']) for c in report['cases']) == [
        (2, 'one process', 1), (2, 'one process, 2 interpreters', 1),
        (2, 'process per camera', 2)]
    for case in report['cases']:
        assert case['exit_codes'] == [0] * case['processes'], case
        assert case['min_fps'] > 0 and case['peak_rss_mb'] > 0, case
        assert set(case['per_camera_fps']) == {'cam0', 'cam1'}
    assert '| 2 | one process |' in (tmp_path / 'multicam.md').read_text()


def test_int8_bench_quick(tmp_path):
    command = [sys.executable, str(BENCH / 'int8.py'), '--quick', '--models', 'lightning',
               '--threads', '2', '--out', str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0 and 'Traceback' not in done.stderr, done.stderr
    report = json.loads((tmp_path / 'int8-quick.json').read_text())
    [speed] = report['speed']
    assert (speed['model'], speed['threads']) == ('lightning', 2)
    for key in ('fp16_hot', 'int8_hot', 'fp16_paced', 'int8_paced'):
        assert speed[key]['n'] == 6 and speed[key]['p50'] > 0, speed
    [agreement] = report['agreement']
    assert agreement['people']['fp16'] > 0 and agreement['people']['int8'] > 0
    assert agreement['keypoint_pct']['n'] > 0
    assert '| lightning | 2 | 192x192 |' in done.stdout


def namespaces() -> str:
    return subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True).stdout


def can_make_namespaces() -> bool:
    """Root alone is not enough: a container without CAP_SYS_ADMIN refuses `ip netns add`."""
    if os.geteuid() != 0 or shutil.which('ip') is None:
        return False
    probe = f'movenet-probe-{os.getpid()}'
    if subprocess.run(['ip', 'netns', 'add', probe], capture_output=True).returncode != 0:
        return False
    subprocess.run(['ip', 'netns', 'delete', probe], capture_output=True, check=True)
    return True


def test_two_hosts_quick(tmp_path):
    """Frames cross the veth between the two namespaces and are answered, and the
    namespaces are gone afterwards."""
    if not can_make_namespaces():
        pytest.skip('needs root, iproute2 and the right to create network namespaces '
                    '(ip netns add failed or is missing)')
    before = namespaces()
    command = [sys.executable, str(BENCH / 'two_hosts.py'), '--quick', '--models', 'echo',
               '--sizes', '640x480', '--transports', 'raw', '--out', str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0 and 'Traceback' not in done.stderr, done.stderr
    assert namespaces() == before
    report = json.loads((tmp_path / 'two_hosts-quick.json').read_text())
    assert {r['profile'] for r in report['rows']} == {'udp_default', 'udp_large'}
    for row in report['rows']:
        assert row['exit_code'] == 0 and row['answered'] > 0, row
    [check] = report['video_publisher']
    assert check['camera_exit'] == 0 and check['answered'] > 0, check


def test_accuracy_quick(tmp_path):
    """bench/accuracy.py on 10 photos of the development set (skipped where it is absent)."""
    sys.path.insert(0, str(BENCH))
    import keypoint_eval

    if keypoint_eval.find_dev_set(BENCH.parent) is None:
        pytest.skip(f'labelled development set not found: {keypoint_eval.dev_set_absence()}; '
                    'this smoke test runs where it exists, as on CI')
    command = [sys.executable, str(BENCH / 'accuracy.py'), '--quick', '--modes', 'lightning',
               'multipose', 'multipose+lightning', '--out', str(tmp_path), '--doc',
               str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f'{done.stdout}\n{done.stderr}'
    assert 'Traceback' not in done.stderr, done.stderr
    report = json.loads((tmp_path / 'accuracy.json').read_text())
    assert report['dataset']['images'] == 10 and report['dataset']['people'] > 0
    assert set(report['modes']) == {'lightning', 'multipose', 'multipose+lightning'}
    for row in report['modes'].values():
        assert 0.0 <= row['images']['ap'] <= 1.0
        low, high = row['images']['ap_ci']
        assert 0.0 <= low <= high <= 1.0
        assert len(row['images']['sweep']) == 13
    assert report['crops']['lightning']['people'] == report['dataset']['people']
    assert set(report['fps']['modes']) == set(report['modes'])
    assert report['refinement_vs_multipose']['multipose+lightning']['ap_gain_ci']
    assert (tmp_path / 'accuracy.png').stat().st_size > 10_000
    assert '| multipose+lightning |' in (tmp_path / 'accuracy.md').read_text()
    assert '| multipose+lightning |' in done.stdout
    # What it prints is the table of the README's Accuracy section (same columns).
    header = (tmp_path / 'accuracy.md').read_text().splitlines()[0]
    assert header in done.stdout and header in accuracy_section()


def accuracy_section() -> str:
    readme = (BENCH.parent / 'README.md').read_text()
    section = readme[readme.index('\n## Accuracy\n'):]
    return section[:section.index('\n## ', 5)]


def test_readme_accuracy_table_is_the_committed_result():
    """The README shows bench/results/accuracy.md, the table of the last full run."""
    table = (BENCH / 'results' / 'accuracy.md').read_text().strip()
    assert table.count('\n') >= 6 and table in accuracy_section()
