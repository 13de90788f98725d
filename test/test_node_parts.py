# SPDX-License-Identifier: Apache-2.0
"""The plain classes beside movenet_node, without DDS: parameter rules, the frame slot, frame
accounting, statistics and the health report."""

from __future__ import annotations

import threading
import time

import pytest

from movenet_ros.core.depth import DepthSettings
from movenet_ros.core.options import Range
from movenet_ros.core.sync import DEFAULT_CAPACITY, DEFAULT_TOLERANCE_S, TOLERANCE_S_RANGE
from movenet_ros.core.temporal import TemporalSettings
from movenet_ros.nodes.diagnostics import Level, View, assess
from movenet_ros.nodes.intake import FrameAccounting, FrameSlot, Pending, SequenceStreams
from movenet_ros.nodes.movenet_config import (
    DEPTH_FIELDS,
    PARAMETERS,
    SPECS,
    TEMPORAL_FIELDS,
    ConfigurationError,
    NodeConfig,
    RuntimeSettings,
)
from movenet_ros.nodes.parameters import Applies, ParameterSpec, change_problem
from movenet_ros.nodes.statistics import FrameStats

DEFAULTS = {spec.name: spec.default for spec in PARAMETERS}


# ---- parameters ------------------------------------------------------------------------------

def test_descriptors_say_when_a_change_applies():
    spec = ParameterSpec('x', 1, 'An x.', Applies.CONFIGURE, range=Range(128, 1024, 32))
    descriptor = spec.descriptor()
    assert descriptor.description == 'An x.' and not descriptor.read_only
    assert 'Applied on configure' in descriptor.additional_constraints
    [r] = descriptor.integer_range
    assert (r.from_value, r.to_value, r.step) == (128, 1024, 32)
    start = ParameterSpec('y', 'a', 'A y.', Applies.START, choices=('a', 'b')).descriptor()
    assert start.read_only and start.description == 'A y. One of: a, b.'
    assert 'restart' in start.additional_constraints
    [r] = ParameterSpec('z', 0.5, 'A z.', range=Range(0.0, 1.0)).descriptor().floating_point_range
    assert (r.from_value, r.to_value, r.step) == (0.0, 1.0, 0.0)


def test_changes_are_refused_with_what_to_do():
    # Not ours (rclpy's, a user's): accepted.
    assert change_problem(SPECS, [('use_sim_time', True), ('qos_overrides./x', 1)],
                          configured=True) is None
    assert change_problem(SPECS, [('keypoint_threshold', 0.5)], configured=True) is None
    reason = change_problem(SPECS, [('keypoint_threshold', 0.5), ('model', 'thunder')],
                            configured=True)
    assert reason.startswith('model is applied on configure: deactivate and clean up')
    assert change_problem(SPECS, [('model', 'thunder')], configured=False) is None
    assert change_problem(SPECS, [('autostart', False)], configured=False) == \
        'autostart is read at start-up only: restart the node to change it'
    assert change_problem(SPECS, [('tracking.similarity', 'nearest')], configured=True) == \
        "parameter tracking.similarity: 'nearest' is not one of oks, iou"


def test_node_config_names_the_parameter_to_fix():
    config = NodeConfig.from_values(DEFAULTS)
    assert (config.model, config.model_parameter, config.input_topic) == \
        ('lightning', 'model', 'image')
    path = NodeConfig.from_values(DEFAULTS | {'model_path': '/m.tflite',
                                              'image_transport': 'compressed'})
    assert (path.model, path.model_parameter, path.input_topic) == \
        ('/m.tflite', 'model_path', 'image/compressed')
    for values, message in (
            ({'model': 'giant'}, "parameter model: 'giant' is not one of"),
            ({'image_qos_reliability': 'maybe'}, "image_qos_reliability: 'maybe' is not")):
        with pytest.raises(ConfigurationError, match=message):
            NodeConfig.from_values(DEFAULTS | values)
    # A start-up override rclpy refused is reported as it was.
    with pytest.raises(ConfigurationError, match=r'^parameter num_threads: out of range$'):
        NodeConfig.from_values(DEFAULTS, {'num_threads': 'parameter num_threads: out of range'})


def test_runtime_settings_hold_every_run_time_parameter():
    settings = RuntimeSettings.from_values(DEFAULTS)
    assert settings.temporal == TemporalSettings()  # the node's defaults are the core's
    for spec in PARAMETERS:
        if spec.applies is Applies.RUN:
            assert (spec.name in TEMPORAL_FIELDS or spec.name in DEPTH_FIELDS
                    or spec.name == 'depth.sync_tolerance'
                    or hasattr(settings, spec.name)), spec.name
    changed = RuntimeSettings.from_values(DEFAULTS | {'smoothing.beta': 3.0,
                                                      'keypoint_threshold': 0.4})
    assert (changed.temporal.beta, changed.keypoint_threshold) == (3.0, 0.4)
    with pytest.raises(ValueError, match=r'^parameter tracking\.max_tracks: max_tracks must be'):
        RuntimeSettings.from_values(DEFAULTS | {'tracking.max_tracks': 0})


def test_depth_parameters_take_the_core_s_defaults_ranges_and_checks():
    settings = RuntimeSettings.from_values(DEFAULTS)
    assert settings.depth == DepthSettings() and settings.depth_tolerance == DEFAULT_TOLERANCE_S
    config = NodeConfig.from_values(DEFAULTS)
    assert (config.depth_enabled, config.depth_queue_size) == (False, DEFAULT_CAPACITY)
    for name, field in DEPTH_FIELDS.items():
        assert SPECS[name].range is DepthSettings.RANGES[field], name
    assert SPECS['depth.sync_tolerance'].range is TOLERANCE_S_RANGE
    assert SPECS['depth.enabled'].applies is Applies.CONFIGURE
    changed = RuntimeSettings.from_values(DEFAULTS | {'depth.patch_size': 9,
                                                      'depth.sync_tolerance': 0.005})
    assert (changed.depth.patch_size, changed.depth_tolerance) == (9, 0.005)
    # What a descriptor cannot say, in the parameter's name.
    with pytest.raises(ValueError, match=r'^parameter depth\.patch_size: patch_size must be odd'):
        RuntimeSettings.from_values(DEFAULTS | {'depth.patch_size': 8})
    with pytest.raises(ValueError, match=r'^parameter depth\.max_range: max_range \(1 m\) must '
                                         r'be larger than min_range \(2 m\)'):
        RuntimeSettings.from_values(DEFAULTS | {'depth.min_range': 2.0, 'depth.max_range': 1.0})


def test_tracking_parameters_take_the_core_s_ranges():
    for name, field in TEMPORAL_FIELDS.items():
        spec = SPECS[name]
        assert spec.default == getattr(TemporalSettings(), field)
        assert spec.range is TemporalSettings.RANGES.get(field), name
    assert SPECS['tracking.similarity'].choices == ('oks', 'iou')


# ---- intake ----------------------------------------------------------------------------------

def test_one_publisher_is_one_sequence_whatever_its_frame_ids():
    streams = SequenceStreams()
    assert streams.describe() == 'no images yet'
    assert [streams.lost_before(frame_id, seq, 1) for frame_id, seq in
            (('warm_up', 1), ('cam', 2), ('cam', 5), ('cam', 6))] == [0, 0, 2, 0]
    assert streams.describe() == 'counted: one publisher'
    # A restarted publisher starts again from 1: nothing lost.
    assert streams.lost_before('cam', 1, 1) == 0 and streams.lost_before('cam', 3, 1) == 1


def test_two_cameras_on_one_topic_are_counted_apart():
    streams = SequenceStreams()
    lost = [streams.lost_before(frame_id, seq, 2) for frame_id, seq in
            (('left', 1), ('right', 1), ('left', 2), ('right', 2), ('left', 4), ('right', 3),
             ('left', 5))]
    # With several publishers a gap counts once the stream's next frame came in order.
    assert lost == [0, 0, 0, 0, 0, 0, 1]
    assert streams.describe() == '2 publishers; counted per frame_id: left, right'


def test_publishers_sharing_a_frame_id_make_its_losses_unknown():
    streams = SequenceStreams()
    assert streams.lost_before('cam', 40, 1) == 0
    # A second publisher with the same frame_id appears: the count changed, so the stream
    # starts again at 3; 41 (the first publisher's) looks like 37 lost, until 4 steps back.
    assert [streams.lost_before('cam', seq, 2) for seq in (3, 41, 4, 42, 5)] == [0] * 5
    assert 'unknown for frame_id cam' in streams.describe()
    # One publisher left: counted again, from its next frame.
    assert streams.lost_before('cam', 43, 1) == 0 and streams.lost_before('cam', 45, 1) == 1
    assert streams.describe() == 'counted: one publisher'


def test_without_sequence_numbers_losses_are_unknown():
    streams = SequenceStreams()
    assert streams.lost_before('cam', 0, 1) == 0
    assert streams.describe().startswith('unknown: the middleware gives no sequence numbers')


def test_streams_are_bounded():
    streams = SequenceStreams(max_streams=3)
    for i in range(100):
        streams.lost_before(f'camera_{i}', 1, 2)
    assert streams.describe().count('camera_') == 3


def test_gaps_before_a_frame_that_waited_are_the_node_s_own():
    accounting = FrameAccounting()
    info = {'publication_sequence_number': 1, 'received_timestamp': 100}
    assert accounting.arrived('cam', info, 1) == (0, 0)
    accounting.model_free(200)
    # Received (at 150) before the model became free (200): it waited in the queue, where
    # the three frames before it were replaced.
    assert accounting.arrived('cam', {'publication_sequence_number': 5,
                                      'received_timestamp': 150}, 1) == (3, 0)
    accounting.model_free(300)
    # Received after: the model was free, the missing frame never came.
    assert accounting.arrived('cam', {'publication_sequence_number': 7,
                                      'received_timestamp': 400}, 1) == (0, 1)


def test_the_slot_keeps_the_newest_frame_and_says_what_it_replaced():
    finished = []
    slot = FrameSlot()
    first = Pending(b'1', 1.0, lambda: finished.append(1))
    assert slot.put(first) is None
    assert slot.put(Pending(b'2', 2.0)) is first  # replaced: dropped
    assert slot.take().msg == b'2'
    taken = []
    thread = threading.Thread(target=lambda: taken.append(slot.take()))
    thread.start()
    time.sleep(0.05)
    assert thread.is_alive()  # waits for a frame
    slot.put(Pending(b'3', 3.0))
    thread.join(5)
    assert taken[0].msg == b'3'
    waiting = Pending(b'4', 4.0)
    slot.put(waiting)
    assert slot.close() is waiting  # still waiting when closed: the node finishes it
    assert slot.take() is None
    late = Pending(b'5', 5.0)
    assert slot.put(late) is late  # closed: refused at once


# ---- statistics and the health report ---------------------------------------------------------

def view(**fields) -> View:
    base = dict(state='active', configure_error='', input_topic='/image',
                model_name='singlepose_lightning', model_file='/m/lightning.tflite',
                camera_info='calibrated', upstream_loss='counted: one publisher')
    return View(**(base | fields))


def test_the_report_counts_periods_and_totals():
    stats = FrameStats()
    stats.arrived('cam_a', received=3, dropped=1)
    stats.processed(inference_ms=10.0, overhead_ms=1.0, latency_ms=20.0,
                    image_size=(640, 480))
    stats.failed('bad', 'bad image on /image: truncated')
    health = assess(view(), stats.take(2.0))
    assert (health.level, health.message, health.hardware_id) == \
        (Level.WARN, '1 bad image(s)', 'cam_a')
    values = health.values
    assert values['input rate (Hz)'] == '1.50' and values['frames received'] == '3'
    assert values['inference ms p50'] == '10.0' and values['latency ms p95'] == '20.0'
    assert values['last error'] == 'bad image on /image: truncated'
    stats.arrived('cam_a', received=1)
    health = assess(view(), stats.take(1.0))
    assert (health.level, health.message) == (Level.OK, 'running')
    assert health.values['frames received'] == '4' and health.values['bad messages'] == '1'


def test_the_report_in_each_state():
    empty = FrameStats().take(1.0)
    assert assess(view(), empty).message == 'no images on /image'
    assert assess(view(), empty).hardware_id == 'none'
    assert (assess(view(state='inactive'), empty).level,
            assess(view(state='inactive'), empty).message) == \
        (Level.OK, 'inactive: not taking images')
    failed = assess(view(state='unconfigured', configure_error='parameter model: bad'), empty)
    assert (failed.level, failed.message, failed.values['last error']) == \
        (Level.ERROR, 'configuration failed: parameter model: bad', 'parameter model: bad')
    stats = FrameStats()
    stats.failed('model_errors', 'model: NaN')
    assert assess(view(), stats.take(1.0)).message == 'model lightning.tflite failed on 1 frame(s)'
