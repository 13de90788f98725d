# SPDX-License-Identifier: Apache-2.0
"""The colour/depth stamp matcher on simulated camera timelines: the right pair or the right
reason, whether depth comes late, drops frames, stops or restarts."""

from __future__ import annotations

import math
import threading

import pytest

from movenet_ros.core.sync import MatchFailure, StampMatcher, stamp_ns

MS = 1_000_000
PERIOD = 33_333_333  # 30 fps, in ns
START = 1_732_500_000 * 1_000_000_000


def run(timeline: list[tuple[int, str, int]], matcher: StampMatcher) -> dict[int, object]:
    """Play (time, 'depth' | 'query', stamp) events in time order; return each queried
    colour stamp's Match (the depth item is its own stamp)."""
    results = {}
    for _, kind, stamp in sorted(timeline):
        if kind == 'depth':
            matcher.add(stamp, stamp)
        else:
            results[stamp] = matcher.match(stamp)
    return results


def camera(frames: int, depth_offset_ns: int, depth_arrival_ns: int,
           query_after_ns: int = 20 * MS, dropped=()) -> list[tuple[int, str, int]]:
    """Colour stamped every PERIOD, queried ``query_after_ns`` after its stamp (after
    inference); depth stamped ``depth_offset_ns`` from the colour stamp (an unsynchronised
    sensor), arriving ``depth_arrival_ns`` after the colour stamp; ``dropped`` frames have no
    depth."""
    events = []
    for i in range(frames):
        stamp = START + i * PERIOD
        events.append((stamp + query_after_ns, 'query', stamp))
        if i not in dropped:
            events.append((stamp + depth_arrival_ns, 'depth', stamp + depth_offset_ns))
    return events


def test_depth_with_the_same_stamp_pairs_exactly():
    results = run(camera(30, 0, 5 * MS), StampMatcher())
    for stamp, match in results.items():
        assert match.ok and match.item == stamp and match.offset_ns == 0


def test_unsynchronised_depth_pairs_with_its_own_frame():
    results = run(camera(30, 12 * MS, 15 * MS), StampMatcher(tolerance_s=0.015))
    for stamp, match in results.items():
        assert match.item == stamp + 12 * MS and match.offset_ns == 12 * MS


def test_depth_arriving_after_the_colour_but_before_the_query_pairs():
    """Depth 15 ms behind the colour image: the node asks after inference (20 ms)."""
    results = run(camera(30, 0, 15 * MS, query_after_ns=20 * MS), StampMatcher())
    assert all(m.ok and m.item == s for s, m in results.items())


def test_depth_later_than_the_query_is_reported_late_never_mispaired():
    """Depth 60 ms behind: at each query only older depth frames have arrived."""
    results = run(camera(30, 0, 60 * MS, query_after_ns=20 * MS), StampMatcher())
    stamps = sorted(results)
    # Frame 0's depth arrives at 60 ms, after the queries of frames 0 (20 ms) and 1 (53 ms).
    assert [results[s].failure for s in stamps[:2]] == [MatchFailure.NO_DEPTH] * 2
    for stamp in stamps[2:]:
        match = results[stamp]
        assert match.failure is MatchFailure.DEPTH_LATE and match.item is None
        assert match.offset_ns == -2 * PERIOD  # the newest depth: two frames behind


@pytest.mark.parametrize(('query_after_ms', 'failures'), [
    # Queried before the next depth frame arrives: not yet known to be dropped.
    (20, {3: MatchFailure.DEPTH_LATE, 4: MatchFailure.DEPTH_LATE,
          10: MatchFailure.DEPTH_LATE, 17: MatchFailure.DEPTH_LATE}),
    # Queried after it (frame 3's next depth frame, 5, arrives 71 ms after frame 3).
    (45, {3: MatchFailure.DEPTH_LATE, 4: MatchFailure.DEPTH_MISSING,
          10: MatchFailure.DEPTH_MISSING, 17: MatchFailure.DEPTH_MISSING}),
])
def test_dropped_depth_frames_fail_alone(query_after_ms, failures):
    results = run(camera(30, 0, 5 * MS, query_after_ns=query_after_ms * MS,
                         dropped=set(failures)), StampMatcher())
    for i, stamp in enumerate(sorted(results)):
        match = results[stamp]
        if i in failures:
            assert match.failure is failures[i] and match.item is None, i
        else:
            assert match.ok and match.item == stamp, i


def test_stopped_depth_is_late_and_a_late_colour_frame_finds_its_depth_gone():
    matcher = StampMatcher(capacity=3)
    run(camera(10, 0, 5 * MS), matcher)
    assert len(matcher) == 3
    late = matcher.match(START + 20 * PERIOD)
    assert late.failure is MatchFailure.DEPTH_LATE and late.offset_ns == -11 * PERIOD
    ahead = matcher.match(START + 2 * PERIOD)  # depth of frame 2 left the buffer
    assert ahead.failure is MatchFailure.DEPTH_AHEAD and ahead.offset_ns == 5 * PERIOD
    assert matcher.match(START + 8 * PERIOD).item == START + 8 * PERIOD
    matcher.clear()
    assert matcher.match(START + 8 * PERIOD).failure is MatchFailure.NO_DEPTH


def test_a_clock_that_jumps_back_heals_after_the_buffer_turns_over():
    """A bag played again: stamps restart from its beginning."""
    matcher = StampMatcher(capacity=3)
    run(camera(10, 0, 5 * MS), matcher)
    assert matcher.match(START).failure is MatchFailure.DEPTH_AHEAD
    matcher.add(START, 'replayed frame 0')
    assert matcher.match(START).item == 'replayed frame 0'
    for i in (1, 2):
        matcher.add(START + i * PERIOD, i)
    assert len(matcher) == 3 and matcher.match(START + 9 * PERIOD).failure is \
        MatchFailure.DEPTH_LATE  # the old run is gone entirely


def test_tolerance_bounds_ties_and_duplicates():
    matcher = StampMatcher(tolerance_s=0.01)
    matcher.add(START, 'a')
    matcher.add(START + 20 * MS, 'b')
    assert matcher.match(START + 10 * MS).item == 'a'          # a tie goes to the earlier
    assert matcher.match(START - 10 * MS).item == 'a'          # the bound is inclusive
    assert matcher.match(START + 31 * MS).failure is MatchFailure.DEPTH_LATE
    assert matcher.match(START - 11 * MS).failure is MatchFailure.DEPTH_AHEAD
    matcher.add(START, 'a again')
    assert len(matcher) == 2 and matcher.match(START).item == 'a again'
    exact = StampMatcher(tolerance_s=0.0)
    exact.add(START, 'x')
    assert exact.match(START).ok and not exact.match(START + 1).ok
    exact.set_tolerance(1e-9)
    assert exact.match(START + 1).item == 'x' and not exact.match(START + 2).ok
    with pytest.raises(ValueError, match='tolerance_s must be a number from 0 to 1, got 2'):
        exact.set_tolerance(2)


def test_add_and_match_from_two_threads():
    matcher = StampMatcher(capacity=4)
    errors = []

    def produce():
        try:
            for i in range(20_000):
                matcher.add(START + i, i)
        except Exception as exc:  # reported below, from the main thread
            errors.append(exc)

    thread = threading.Thread(target=produce)
    thread.start()
    while thread.is_alive():
        match = matcher.match(START + 10_000)
        assert match.ok or match.failure in MatchFailure
    thread.join()
    assert not errors and len(matcher) == 4
    assert matcher.match(START + 19_999).item == 19_999


@pytest.mark.parametrize(('kwargs', 'message'), [
    ({'tolerance_s': -0.001}, r'^tolerance_s must be a number from 0 to 1, got -0\.001$'),
    ({'tolerance_s': math.nan}, r'got nan'),
    ({'capacity': 0}, r'^capacity must be an integer from 1 to 100, got 0$'),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StampMatcher(**kwargs)


def test_ros_stamps_become_exact_nanoseconds():
    assert stamp_ns(1_732_500_000, 123_456_789) == 1_732_500_000_123_456_789
