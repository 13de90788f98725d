# SPDX-License-Identifier: Apache-2.0
"""The movenet-ros command never loses the good inputs because of a bad one (issue 10, 6-9).

Every test runs the installed command on real frames of the demo footage.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import signal
import subprocess
import time

from cli_helpers import frames_at, movenet_ros, read_jsonl, split_jsonl
import cv2
import numpy as np
import pytest

FRAMES = (90, 100, 110, 120)  # the walking woman, one person in each


@pytest.fixture(scope='module')
def frames(demo_video) -> dict[int, np.ndarray]:
    return frames_at(demo_video, FRAMES)


def frame_count(path: pathlib.Path) -> int:
    """Frames OpenCV decodes from ``path`` (read to the end, not the container's claim)."""
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def no_traceback_one_line(run: subprocess.CompletedProcess) -> str:
    """The one error line of a refused run (exit code 2), checked."""
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert 'Traceback' not in run.stderr
    lines = [line for line in run.stderr.splitlines() if not line.startswith('INFO:')]
    assert len(lines) == 1 and lines[0].startswith('movenet-ros: error: '), run.stderr
    return lines[0]


# --- 6: one unreadable file does not cost the folder ---------------------------------------

@pytest.fixture
def mixed_folder(tmp_path, frames) -> pathlib.Path:
    """Good images in six formats, an empty .jpg, an animated GIF, a text file, a sub-folder."""
    folder = tmp_path / 'mixed'
    (folder / 'sub').mkdir(parents=True)
    cv2.imwrite(str(folder / '01_good.png'), frames[90])
    (folder / '02_empty.jpg').write_bytes(b'')
    cv2.imwrite(str(folder / '03_good.png'), frames[100])
    cv2.imwrite(str(folder / '04_good.jpg'), frames[110])
    cv2.imwrite(str(folder / '05_UPPER.JPG'), frames[120])
    cv2.imwrite(str(folder / '06_good.webp'), frames[90])
    cv2.imwrite(str(folder / '07_good.tiff'), frames[100])
    animation = cv2.Animation()
    animation.frames = [cv2.resize(frames[i], (884, 497)) for i in (90, 100, 110)]
    animation.durations = [100, 100, 100]
    assert cv2.imwriteanimation(str(folder / '08_walk.gif'), animation)
    (folder / 'notes.txt').write_text('shot on the demo day\n')
    cv2.imwrite(str(folder / 'sub' / '09_deeper.png'), frames[110])
    return folder


def test_an_unreadable_file_does_not_stop_the_folder(mixed_folder, tmp_path):
    log, out = tmp_path / 'poses.jsonl', tmp_path / 'annotated'
    run = movenet_ros('infer', str(mixed_folder), '--json', str(log), '--output', str(out))
    assert run.returncode == 1, run.stderr
    records = read_jsonl(log)
    names = [pathlib.Path(r['source']).name for r in records]
    good = ['01_good.png', '03_good.png', '04_good.jpg', '05_UPPER.JPG', '06_good.webp',
            '07_good.tiff']
    assert names == [*good, '08_walk.gif', '08_walk.gif', '08_walk.gif']
    assert all(len(r['persons']) == 1 for r in records)
    assert [r['frame'] for r in records[-3:]] == [0, 1, 2]  # the GIF is read as a video
    assert records[-1]['image_width'] == 884
    # The failure names the file and the reason, when it happens and in the summary.
    empty = str(mixed_folder / '02_empty.jpg')
    assert f'movenet-ros: error: image {empty} is an empty file (0 bytes)' in run.stderr
    assert re.search(rf'^  failed +image {re.escape(empty)} is an empty file', run.stderr,
                     re.MULTILINE)
    assert re.search(rf'^  skipped +{re.escape(str(mixed_folder / "notes.txt"))}: not an '
                     'image or video', run.stderr, re.MULTILINE)
    assert f'{mixed_folder / "sub"}: a sub-folder (--recursive walks' in run.stderr
    assert 'movenet-ros: 1 failed, 2 skipped (exit code 1):' in run.stderr
    assert '9 frame(s)' in run.stderr
    summary = split_jsonl(log.read_text())[1]
    assert summary['failed'] == [{'source': empty,
                                  'error': f'image {empty} is an empty file (0 bytes)'}]
    assert [pathlib.Path(s['source']).name for s in summary['skipped']] == ['notes.txt', 'sub']
    assert (summary['inputs'], summary['frames'], summary['exit_code']) == (8, 9, 1)
    assert sorted(p.name for p in out.iterdir()) == \
        sorted([f'{pathlib.Path(n).stem}_pose.png' for n in good] + ['08_walk_pose.mp4'])
    assert frame_count(out / '08_walk_pose.mp4') == 3

    # --recursive walks the sub-folder; without bad inputs the exit code is 0.
    (mixed_folder / '02_empty.jpg').unlink()
    run = movenet_ros('infer', str(mixed_folder), '--recursive', '--json', '-', '--no-progress')
    assert run.returncode == 0, run.stderr
    records, summary = split_jsonl(run.stdout)
    assert [pathlib.Path(r['source']).relative_to(mixed_folder).as_posix()
            for r in records if r['source'].endswith('png')] == \
        ['01_good.png', '03_good.png', 'sub/09_deeper.png']
    assert summary['skipped'] == [{'source': str(mixed_folder / 'notes.txt'),
                                   'reason': 'not an image or video (by its suffix)'}]


# --- 7: the same file name in two folders --------------------------------------------------

def test_same_names_in_two_folders_get_their_own_outputs(tmp_path, frames):
    for folder, index in (('a', 90), ('b', 120)):
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / 'x.png'), frames[index])
    cv2.imwrite(str(tmp_path / 'a' / 'x.jpg'), frames[110])  # the same stem, another suffix
    run = movenet_ros('infer', 'a', 'b', '--output', 'out', '--json', 'poses.jsonl',
                      cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    written = sorted(p.relative_to(tmp_path / 'out').as_posix()
                     for p in (tmp_path / 'out').rglob('*.png'))
    assert written == ['a/x_jpg_pose.png', 'a/x_png_pose.png', 'b/x_pose.png']
    # Each output is its own input, annotated (the skeleton changes a few pixels).
    for output, source in (('a/x_png_pose.png', 'a/x.png'), ('a/x_jpg_pose.png', 'a/x.jpg'),
                           ('b/x_pose.png', 'b/x.png')):
        annotated = cv2.imread(str(tmp_path / 'out' / output)).astype(int)
        changed = (np.abs(annotated - cv2.imread(str(tmp_path / source))).sum(axis=2) > 60)
        assert 500 < changed.sum() < 0.02 * changed.size, output
    assert sorted(r['source'] for r in read_jsonl(tmp_path / 'poses.jsonl')) == \
        ['a/x.jpg', 'a/x.png', 'b/x.png']

    # An input given twice would overwrite itself: refused before any work.
    run = movenet_ros('infer', 'a', 'a/x.png', '--output', 'again', cwd=tmp_path)
    line = no_traceback_one_line(run)
    assert 'a/x.png and a/x.png would both be written to' in line
    assert not (tmp_path / 'again').exists()


# --- 8: every output path and value checked before the first frame ------------------------

def test_bad_output_paths_are_refused_before_any_work(tmp_path, frames):
    photos = tmp_path / 'photos'
    photos.mkdir()
    for index in (90, 120):
        cv2.imwrite(str(photos / f'{index}.png'), frames[index])
    (tmp_path / 'a_file').write_text('')
    cases = [
        (['--json', 'missing/poses.jsonl'], 'folder missing does not exist'),
        (['--json', 'photos'], 'is a folder; give a file name'),
        (['--json', 'a_file/poses.jsonl'], 'a_file is not a folder'),
        (['--output', 'result.png', '--json', 'poses.jsonl'], 'names one file, but a folder'),
        (['--output', 'a_file'], 'exists and is not a folder'),
        (['--output', '/proc/movenet-ros-out', '--json', 'poses.jsonl'], 'cannot write in'),
        (['--json', '/proc/poses.jsonl'], 'cannot write in'),
    ]
    for extra, expected in cases:
        line = no_traceback_one_line(movenet_ros('infer', 'photos', *extra, cwd=tmp_path))
        assert expected in line, (extra, line)
        assert sorted(p.name for p in tmp_path.iterdir()) == ['a_file', 'photos'], extra

    run = movenet_ros('infer', 'photos/90.png', 'photos/120.png', '-o', 'r.png', cwd=tmp_path)
    assert '2 inputs' in no_traceback_one_line(run)
    run = movenet_ros('infer', 'photos/90.png', '-o', 'r.mp4', cwd=tmp_path)
    assert 'needs an image file or a folder' in no_traceback_one_line(run)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a_file', 'photos']

    # A dot in a folder name is fine: --output results.v2 is a folder.
    run = movenet_ros('infer', 'photos', '--output', 'results.v2', cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (tmp_path / 'results.v2').iterdir()) == \
        ['120_pose.png', '90_pose.png']


def test_bad_values_are_refused_before_any_work(tmp_path, frames):
    cv2.imwrite(str(tmp_path / 'one.png'), frames[90])
    cases = [
        (['--threads', '0'], '--threads: expected an integer from 1 to 64'),
        (['--threshold', '2'], '--threshold: expected a number from 0 to 1'),
        (['--min-pose-score', 'nan'], '--min-pose-score: expected a number from 0 to 1'),
        (['--max-people', '0'], '--max-people: expected an integer from 1 to 6'),
        (['--multipose-max-side', '100'], '--multipose-max-side: expected a multiple of 32'),
        (['--multipose-max-side', '100000'], '--multipose-max-side: expected a multiple of 32'),
        (['--min-cutoff', '0'], '--min-cutoff: expected a number from 0.001 to 30'),
        (['--beta', '-1'], '--beta: expected a number from 0 to 100'),
        (['--d-cutoff', 'inf'], '--d-cutoff: expected a number from 0.001 to 30'),
        (['--max-age-s', '0'], '--max-age-s: expected a number from 0.01 to 60'),
        (['--max-tracks', '2.5'], '--max-tracks: expected an integer from 1 to 100'),
        (['--min-similarity', '1.5'], '--min-similarity: expected a number from 0 to 1'),
        (['--similarity', 'nearest'], "--similarity: invalid choice: 'nearest'"),
    ]
    for extra, expected in cases:
        run = movenet_ros('infer', 'one.png', '--json', 'poses.jsonl', *extra, cwd=tmp_path)
        assert expected in no_traceback_one_line(run), (extra, run.stderr)
        assert not (tmp_path / 'poses.jsonl').exists()


# --- 9: a video that ends early, or is stopped, keeps what was read ------------------------

def test_truncated_video_reports_the_shortfall_and_keeps_its_frames(demo_video, tmp_path):
    half = tmp_path / 'half.mp4'
    data = demo_video.read_bytes()
    half.write_bytes(data[:len(data) // 2])  # what `head -c` of half the file gives
    readable = frame_count(half)
    assert 100 < readable < 230
    out, log = tmp_path / 'half_pose.mp4', tmp_path / 'half.jsonl'
    run = movenet_ros('infer', str(half), '--output', str(out), '--json', str(log))
    assert run.returncode == 1, run.stderr
    message = f'{half}: read {readable} of 230 declared frames (a truncated or damaged file)'
    assert f'movenet-ros: warning: {message}' in run.stderr
    assert re.search(rf'^  incomplete +{re.escape(message)}', run.stderr, re.MULTILINE)
    records, summary = split_jsonl(log.read_text())
    assert [r['frame'] for r in records] == list(range(readable))
    assert summary['videos'] == [{'source': str(half), 'frames_read': readable,
                                  'frames_declared': 230}]
    assert [f['source'] for f in summary['failed']] == [str(half)]
    assert (summary['frames'], summary['exit_code'], summary['stopped']) == (readable, 1, None)
    assert frame_count(out) == readable  # every frame read was written and is playable

    # The whole file is complete: exit code 0, the same record shape.
    run = movenet_ros('infer', str(demo_video), '--json', '-', '--no-progress')
    assert run.returncode == 0, run.stderr
    records, summary = split_jsonl(run.stdout)
    assert len(records) == 230 and summary['failed'] == []
    assert summary['videos'] == [{'source': str(demo_video), 'frames_read': 230,
                                  'frames_declared': 230}]


@pytest.mark.parametrize(('signum', 'reason', 'code'), [
    (signal.SIGINT, 'interrupted (SIGINT)', 130),
    (signal.SIGTERM, 'interrupted (SIGTERM)', 143),
])
def test_stopped_video_keeps_what_was_written(demo_video, tmp_path, signum, reason, code):
    out, log = tmp_path / 'demo_pose.mp4', tmp_path / 'demo.jsonl'
    process = subprocess.Popen(
        [shutil.which('movenet-ros'), 'infer', str(demo_video), '--model', 'thunder',
         '--output', str(out), '--json', str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (log.exists() and log.read_text().count('\n') >= 10):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signum)
    stderr = process.communicate(timeout=60)[1]
    assert process.returncode == code, stderr
    assert 'Traceback' not in stderr
    assert f'run stopped: {reason}; the outputs so far are closed and kept' in stderr
    records, summary = split_jsonl(log.read_text())
    assert summary['stopped'] == reason and summary['exit_code'] == code
    assert 10 <= len(records) < 230
    assert [r['frame'] for r in records] == list(range(len(records)))
    # The run ends between two frames: the summary, the JSON lines and the finalised
    # (playable) annotated video agree on the frames done.
    assert summary['videos'][0]['frames_read'] == summary['frames'] == len(records)
    assert frame_count(out) == len(records)


# --- the README says what --help says ------------------------------------------------------

def test_readme_cli_section_agrees_with_help(repo):
    from movenet_ros.core.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES

    run = movenet_ros('infer', '--help')
    assert run.returncode == 0
    readme = (repo / 'README.md').read_text()
    section = readme[readme.index('## The ROS-free core and the `movenet-ros` CLI'):]
    section = section[:section.index('\n## ', 3)]
    options = set(re.findall(r'(?<![\w-])--[a-z][a-z-]+', run.stdout)) - {'--help'}
    assert options and not {o for o in options if f'`{o}' not in section}
    for suffix in (*IMAGE_SUFFIXES, *VIDEO_SUFFIXES):
        assert suffix in run.stdout and f'`{suffix}`' in section, suffix
    for text in ('130', '{"summary"', 'frames_declared', 'x_jpg_pose.png'):
        assert text in run.stdout and text in section, text


def test_image_bombs_in_a_folder_are_refused_before_decoding(tmp_path, frames):
    """Files declaring far more pixels than they hold are refused from their headers (the
    13000 x 13000 PNG would take 500 MB and seconds to decode); the good image still runs."""
    from image_bombs import png_bomb, webp_bomb

    folder = tmp_path / 'bombs'
    folder.mkdir()
    cv2.imwrite(str(folder / '01_good.jpg'), frames[90])
    (folder / '02_bomb.png').write_bytes(png_bomb())
    (folder / '03_bomb.webp').write_bytes(webp_bomb())
    run = movenet_ros('infer', str(folder), '--json', '-', '--no-progress')
    assert run.returncode == 1, run.stderr
    records, summary = split_jsonl(run.stdout)
    assert [pathlib.Path(r['source']).name for r in records] == ['01_good.jpg']
    assert len(records[0]['persons']) == 1
    failed = {pathlib.Path(f['source']).name: f['error'] for f in summary['failed']}
    assert sorted(failed) == ['02_bomb.png', '03_bomb.webp'], summary
    assert 'PNG 13000x13000 has 169000000 pixels, over the budget of 67108864' \
        in failed['02_bomb.png']
    assert 'WebP 16000x16000' in failed['03_bomb.webp']
    # The budget is an option: lowered below a real photo, that photo is refused too.
    small = movenet_ros('infer', str(folder / '01_good.jpg'), '--max-image-pixels', '1000',
                        '--json', '-', '--no-progress')
    assert small.returncode == 1 and 'over the budget of 1000' in small.stderr
