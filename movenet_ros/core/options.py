# SPDX-License-Identifier: Apache-2.0
"""The allowed range of a tunable option, defined once for the core, the CLI and the node.

The core's classes check their arguments against a :class:`Range`, the CLI builds its
argparse checks from the same object and the node its parameter descriptors (``low``,
``high`` and ``step`` are what ``FloatingPointRange`` / ``IntegerRange`` take), so a value
that one of them refuses, all refuse, in the same words. Ranges shared by several modules
live here; the others stand next to their defaults (tracking, smoothing, estimator, model).
"""

from __future__ import annotations

from dataclasses import dataclass
import math


@dataclass(frozen=True)
class Range:
    """The inclusive range ``low`` .. ``high``.

    Integer bounds make an integer range; ``step`` > 1 then also requires a multiple of
    ``step`` (both bounds must be multiples too, so this is ROS ``IntegerRange``'s ``low + k *
    step``). Float ranges take any finite number in between (``step`` 0).
    """

    low: float
    high: float
    step: int = 0

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise ValueError(f'empty range {self.low}..{self.high}')
        if self.step and (not self.integer or self.low % self.step or self.high % self.step):
            raise ValueError(f'step {self.step} does not fit {self.low}..{self.high}')

    @property
    def integer(self) -> bool:
        """Whether values must be integers (both bounds are ints)."""
        return isinstance(self.low, int) and isinstance(self.high, int)

    def contains(self, value: object) -> bool:
        """Whether ``value`` is allowed (a bool is never a number here)."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.integer and not isinstance(value, int):
            return False
        if not math.isfinite(value) or not self.low <= value <= self.high:
            return False
        return not self.step or value % self.step == 0

    def describe(self) -> str:
        """The range in words, e.g. 'a number from 0 to 1', 'a multiple of 32 from 128 to
        1024'."""
        if not self.integer:
            return f'a number from {self.low:g} to {self.high:g}'
        if self.step > 1:
            return f'a multiple of {self.step} from {self.low} to {self.high}'
        return f'an integer from {self.low} to {self.high}'

    def check(self, name: str, value: object) -> None:
        """Raise ValueError naming ``name`` and the range unless ``value`` is allowed."""
        if not self.contains(value):
            raise ValueError(f'{name} must be {self.describe()}, got {value!r}')


# Model scores, and so every score threshold (keypoint_threshold, min_pose_score), are in [0, 1].
SCORE_RANGE = Range(0.0, 1.0)
# Image time (from the stamps) an unseen person keeps their id and their smoothing filter.
DEFAULT_MAX_AGE_S = 1.0
MAX_AGE_S_RANGE = Range(0.01, 60.0)
