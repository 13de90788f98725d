# SPDX-License-Identifier: Apache-2.0
"""What runs after each frame's estimate on video: ids (tracking), then smoothing.

The CLI and the node both call :class:`TemporalFilter`, so a video gives the same ids and
smoothed keypoints whichever runs it. Time comes from the frames' stamps, never from frame
counts, so irregular rates and dropped frames behave.
"""

from __future__ import annotations

from dataclasses import replace

from movenet_ros.core.results import PoseResult
from movenet_ros.core.smoothing import PoseSmoother
from movenet_ros.core.tracking import PoseTracker


class TemporalFilter:
    """Tracking (optional) and One-Euro smoothing (optional, needs tracking: it is per id)."""

    def __init__(self, tracker: PoseTracker | None = None,
                 smoother: PoseSmoother | None = None) -> None:
        if smoother is not None and tracker is None:
            raise ValueError('smoothing needs tracking: filters are kept per person id')
        self.tracker = tracker
        self.smoother = smoother

    def update(self, result: PoseResult, stamp_s: float) -> PoseResult:
        """``result`` with its poses given ids and smoothed (a new result; input untouched)."""
        if self.tracker is None:
            return result
        poses = self.tracker.update(result.poses, stamp_s)
        if self.smoother is not None:
            poses = self.smoother.update(poses, stamp_s)
        return replace(result, poses=poses)

    def reset(self) -> None:
        for stage in (self.tracker, self.smoother):
            if stage is not None:
                stage.reset()
