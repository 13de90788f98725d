#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Fetch the demo footage (real people) that the demo and the tests use into .cache/media/.

The footage is ``Sports2D/Demo/demo.mp4`` from the PyPI wheel of ``sports2d`` (BSD-3-Clause):
1768x994, 30 fps, 230 frames. ``make setup`` runs this, and so does ``colcon test`` (as a
fixture test) for users who build the package in a ROS workspace without ``make setup``.
Nothing is downloaded when the file is already there with the expected content.
"""

from __future__ import annotations

import argparse
import hashlib
import pathlib
import subprocess
import sys
import tempfile
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPORTS2D_VERSION = '0.8.34'
MEMBER = 'Sports2D/Demo/demo.mp4'
SHA256 = 'd9a66417185647b112304b57093f0c180f37a768e6a14daca75ca541f3b78039'


def sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(target: pathlib.Path) -> None:
    """Download the sports2d wheel with pip and extract the video, verified, to ``target``."""
    with tempfile.TemporaryDirectory() as tmp:
        run = subprocess.run(
            [sys.executable, '-m', 'pip', 'download', '--quiet', '--disable-pip-version-check',
             '--no-deps', f'sports2d=={SPORTS2D_VERSION}', '-d', tmp],
            capture_output=True, text=True)
        if run.returncode != 0:
            raise SystemExit(f'fetch_media: pip download sports2d=={SPORTS2D_VERSION} failed '
                             f'(is PyPI reachable? is pip installed for {sys.executable}?):\n'
                             f'{run.stderr.strip()}')
        wheel = next(pathlib.Path(tmp).glob('sports2d-*.whl'))
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(MEMBER)
    if hashlib.sha256(data).hexdigest() != SHA256:
        raise SystemExit(f'fetch_media: {MEMBER} of sports2d {SPORTS2D_VERSION} does not have '
                         f'the expected sha256 {SHA256}')
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix('.partial')
    partial.write_bytes(data)
    partial.replace(target)  # never leave a truncated video where the tests look


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--output', type=pathlib.Path, default=ROOT / '.cache/media/demo.mp4')
    args = parser.parse_args()
    if args.output.is_file() and sha256(args.output) == SHA256:
        print(f'fetch_media: {args.output} is present')
        return 0
    print(f'fetch_media: fetching the demo footage (PyPI sports2d=={SPORTS2D_VERSION})')
    fetch(args.output)
    print(f'fetch_media: wrote {args.output}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
