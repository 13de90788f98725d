# SPDX-License-Identifier: Apache-2.0
"""Running the installed movenet-ros command and reading its JSON lines, for the CLI tests."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess

import cv2
import numpy as np


def movenet_ros(*args: str, cwd: pathlib.Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed ``movenet-ros`` with ``args``; output captured as text."""
    exe = shutil.which('movenet-ros')
    assert exe, 'movenet-ros is not on PATH (source tools/env.sh)'
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def split_jsonl(text: str) -> tuple[list[dict], dict]:
    """The per-frame records and the summary of a --json output.

    Checks the documented shape: frame records first, then exactly one ``{"summary": ...}``
    line, the last one.
    """
    records = [json.loads(line) for line in text.splitlines()]
    assert records and set(records[-1]) == {'summary'}, records[-1:]
    frames = records[:-1]
    assert all('frame' in r and 'summary' not in r for r in frames)
    return frames, records[-1]['summary']


def read_jsonl(path: pathlib.Path) -> list[dict]:
    """The per-frame records of a --json file (its summary line checked and dropped)."""
    return split_jsonl(path.read_text())[0]


def frames_at(video: pathlib.Path, indices: tuple[int, ...]) -> dict[int, np.ndarray]:
    """The frames of ``video`` at ``indices`` (decoded in order, as a user's player would)."""
    capture = cv2.VideoCapture(str(video))
    found = {}
    for index in range(max(indices) + 1):
        ok, frame = capture.read()
        assert ok, f'cannot decode frame {index} of {video}'
        if index in indices:
            found[index] = frame
    capture.release()
    return found
