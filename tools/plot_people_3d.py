# SPDX-License-Identifier: Apache-2.0
"""Render the 3D keypoints movenet_node published, from a poses.jsonl (``make demo`` with an
RGB-D folder writes one), with matplotlib: a perspective view and a top view, in metres.

Only what was measured is drawn: keypoints with a position (``position_valid``), bones
between two of them, each person's position (the torso centre) and, when known, the direction
they face. The camera's optical frame (x right, y down, z forward) is drawn with z up as
"forward" on the ground plane and -y as "up", so people stand upright.

    python tools/plot_people_3d.py out/demo/poses.jsonl --out doc/people_3d.png [--frame N]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import numpy as np

from movenet_ros.core.keypoints import SKELETON, keypoint_side
from movenet_ros.core.overlay import SIDE_COLOURS_RGB

# Length of the facing arrow, metres.
ARROW_M = 0.4


def read_frames(path: pathlib.Path) -> list[dict]:
    """The PersonPoseArray records of a poses.jsonl, in order."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def measured_points(frame: dict) -> int:
    return sum('position' in kp for person in frame['persons'] for kp in person['keypoints'])


def plotted(xyz) -> np.ndarray:
    """Optical (x right, y down, z forward) -> plot axes (right, forward, up)."""
    xyz = np.asarray(xyz, dtype=float)
    return np.stack([xyz[..., 0], xyz[..., 2], -xyz[..., 1]], axis=-1)


def render(frame: dict, out: pathlib.Path, title: str = '') -> None:
    """One frame's people as a PNG at ``out``; ValueError when nothing was measured."""
    import matplotlib

    matplotlib.use('Agg')
    from matplotlib.lines import Line2D
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if not measured_points(frame):
        raise ValueError('no keypoint of this frame has a 3D position (was depth on?)')
    figure = plt.figure(figsize=(11, 5.2))
    view = figure.add_subplot(1, 2, 1, projection='3d')
    top = figure.add_subplot(1, 2, 2)
    everything = []
    for person in frame['persons']:
        points = {k: plotted(kp['position']) for k, kp in enumerate(person['keypoints'])
                  if 'position' in kp}
        everything += list(points.values())
        for a, b, side in SKELETON:
            if a in points and b in points:
                colour = np.array(SIDE_COLOURS_RGB[side]) / 255.0
                line = np.stack([points[a], points[b]])
                view.plot(line[:, 0], line[:, 1], line[:, 2], color=colour, linewidth=2.5)
                top.plot(line[:, 0], line[:, 1], color=colour, linewidth=2)
        for k, p in points.items():
            colour = np.array(SIDE_COLOURS_RGB[keypoint_side(k)]) / 255.0
            view.scatter(*p, color=colour, s=18)
            top.scatter(p[0], p[1], color=colour, s=10)
        if 'position' in person:
            centre = plotted(person['position'])
            label = f'id {person["id"]}: {person["position"][2]:.2f} m'
            view.scatter(*centre, color='black', marker='x', s=60)
            head = max(p[2] for p in points.values())
            view.text(centre[0], centre[1], head + 0.12, label, fontsize=9,
                      horizontalalignment='center')
            top.scatter(centre[0], centre[1], color='black', marker='x', s=60)
            top.annotate(label, (centre[0], centre[1]), textcoords='offset points',
                         xytext=(8, -14), fontsize=9)
            if 'facing' in person:
                direction = plotted(person['facing']) * ARROW_M
                top.annotate('', xy=(centre[0] + direction[0], centre[1] + direction[1]),
                             xytext=(centre[0], centre[1]),
                             arrowprops=dict(arrowstyle='->', color='black'))
    points = np.array(everything)
    low, high = points.min(axis=0), points.max(axis=0)
    middle, half = (low + high) / 2, max(float((high - low).max()) / 2, 0.5) + 0.1
    view.set_xlim(middle[0] - half, middle[0] + half)
    view.set_ylim(middle[1] - half, middle[1] + half)
    view.set_zlim(middle[2] - half, middle[2] + half)
    view.set_box_aspect((1, 1, 1))
    for axis in (view.xaxis, view.yaxis, view.zaxis):
        axis.set_major_locator(MaxNLocator(4))
    view.view_init(elev=12, azim=-62)
    view.set_xlabel('x right (m)')
    view.set_ylabel('z forward (m)')
    view.set_zlabel('-y up (m)')
    view.set_title('3D keypoints (camera optical frame)')
    top.scatter(0, 0, color='grey', marker='^', s=80)
    top.annotate('camera', (0, 0), textcoords='offset points', xytext=(8, 0), fontsize=9)
    top.set_xlim(middle[0] - half - 0.3, middle[0] + half + 0.3)
    top.set_ylim(-0.1, high[1] + 0.4)
    top.set_aspect('equal')
    top.grid(alpha=0.3)
    top.set_xlabel('x right (m)')
    top.set_ylabel('z forward (m)')
    top.set_title('Seen from above: positions and facing')
    sides = [Line2D([], [], color=np.array(rgb) / 255.0, linewidth=2.5,
                    label=f"person's {side.value}") for side, rgb in SIDE_COLOURS_RGB.items()]
    sides.append(Line2D([], [], color='black', marker='x', linestyle='', label='position'))
    top.legend(handles=sides, loc='upper right', fontsize=8)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('poses', type=pathlib.Path, help='a poses.jsonl (make demo writes one)')
    parser.add_argument('--out', type=pathlib.Path, default=pathlib.Path('people_3d.png'))
    parser.add_argument('--frame', type=int, default=None,
                        help='index of the record to draw (default: the one with the most '
                             'measured keypoints)')
    parser.add_argument('--title', default='')
    args = parser.parse_args()
    try:
        frames = read_frames(args.poses)
    except (OSError, ValueError) as exc:
        sys.exit(f'plot_people_3d: cannot read {args.poses}: {exc}')
    if not frames:
        sys.exit(f'plot_people_3d: {args.poses} holds no records')
    if args.frame is None:
        index = max(range(len(frames)), key=lambda i: measured_points(frames[i]))
    elif 0 <= args.frame < len(frames):
        index = args.frame
    else:
        sys.exit(f'plot_people_3d: --frame must be 0..{len(frames) - 1}')
    try:
        render(frames[index], args.out, args.title)
    except ValueError as exc:
        sys.exit(f'plot_people_3d: record {index}: {exc}')
    print(f'plot_people_3d: record {index} -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
