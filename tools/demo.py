# SPDX-License-Identifier: Apache-2.0
"""``make demo``: the node on real footage over real DDS, recorded to files.

Three processes talk over Fast DDS, as on a robot: ``video_publisher`` plays the demo video
on ``image`` and, as JPEG, on ``image/compressed`` (with the large-image Fast DDS profile),
``movenet_node`` estimates poses, and this recorder subscribes to its outputs. It writes

    out/demo/annotated.mp4   the node's annotated images
    out/demo/poses.jsonl     one line per PersonPoseArray received
    out/demo/session/        a rosbag2 (MCAP) of the session, as ``ros2 bag record`` saves it:
                             /image/compressed, /poses, /pose_markers, /image_markers/bones,
                             /image_markers/keypoints and /diagnostics, each message as
                             received (serialised bytes, receive time, the publisher's QoS);
                             open it in Foxglove with config/foxglove_layout.json
    out/demo/summary.json    frames in/out, persons per frame, latency, the bag's counts

and prints the summary. Usage: python tools/demo.py [--mode multipose] [--max-frames N]

With ``--rgbd FOLDER`` (an RGB-D folder: camera.json, color/, depth/; ``make demo
RGBD=FOLDER``) the publisher plays it as an aligned RGB-D camera, the node runs with depth
on, the poses carry 3D keypoints and this recorder also counts ``people`` and renders the
frame with the most measured keypoints to out/demo/people_3d.png (tools/plot_people_3d.py).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

from ament_index_python.packages import PackageNotFoundError, get_package_prefix
import cv2
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseArray
import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from visualization_msgs.msg import ImageMarker, MarkerArray

from movenet_ros.conversions.images import array_to_image_msg, image_to_array
from movenet_ros.conversions.poses import pose_array_to_dict
from movenet_ros.core.bag_writer import PoseBagWriter, offered_qos
from movenet_ros.core.rgbd_folder import RgbdFolderSource, is_rgbd_folder
from movenet_ros.msg import PersonPoseArray

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODES = ('singlepose_lightning', 'singlepose_thunder', 'multipose')
WARM_UP_FRAME = 'demo_warm_up'  # frame_id of the black image that checks the node's outputs


def executable(name: str) -> str:
    """An installed node executable, found as `ros2 run` finds it (in the ament index): the
    colcon install of `make setup`, or of the ROS workspace that `colcon test` runs in."""
    try:
        prefix = pathlib.Path(get_package_prefix('movenet_ros'))
    except PackageNotFoundError:
        sys.exit('demo: movenet_ros is not installed; run `make setup` first')
    path = prefix / 'lib' / 'movenet_ros' / name
    if not path.exists():
        sys.exit(f'demo: {path} is missing; run `make setup` first')
    return str(path)


class SessionBag:
    """The session's bag, recorded as ``ros2 bag record`` does: every message of its topics
    as it arrives (serialised, never decoded), at its receive time, with the QoS its
    publisher offers. Only from :meth:`start` on, so the warm-up is not in it."""

    TOPICS = ((CompressedImage, 'image/compressed'), (PersonPoseArray, 'poses'),
              (MarkerArray, 'pose_markers'), (ImageMarker, 'image_markers/bones'),
              (ImageMarker, 'image_markers/keypoints'), (DiagnosticArray, '/diagnostics'))

    def __init__(self, node, path: pathlib.Path) -> None:
        if path.exists():  # the previous demo's
            shutil.rmtree(path)
        self.writer = PoseBagWriter(path)
        self.node = node
        self.recording = False
        qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        for msg_type, topic in self.TOPICS:
            channel = _Channel(self, msg_type.__module__.split('.')[0] + '/msg/' +
                               msg_type.__name__)
            channel.topic = node.create_subscription(msg_type, topic, channel.on_message, qos,
                                                     raw=True).topic_name

    def offered(self, topic: str):
        """The QoS the topic's publishers offer, as ``ros2 bag record`` stores it."""
        offered = [i.qos_profile for i in self.node.get_publishers_info_by_topic(topic)]
        return offered_qos(
            reliable=all(q.reliability == ReliabilityPolicy.RELIABLE for q in offered),
            transient_local=bool(offered) and all(
                q.durability == DurabilityPolicy.TRANSIENT_LOCAL for q in offered))

    def start(self) -> None:
        self.recording = True

    def close(self) -> dict[str, int]:
        """Finish the bag; the messages per topic."""
        self.recording = False
        self.writer.close()
        return dict(self.writer.counts)


class _Channel:
    """One recorded topic: its type, and its publishers' QoS once a message came."""

    def __init__(self, bag: SessionBag, msgtype: str) -> None:
        self.bag, self.msgtype = bag, msgtype
        self.topic = ''
        self.qos = None

    def on_message(self, data: bytes) -> None:
        bag = self.bag
        if not bag.recording:
            return
        if self.qos is None:
            self.qos = bag.offered(self.topic)
        bag.writer.write_serialized(self.topic, self.msgtype, data,
                                    bag.node.get_clock().now().nanoseconds, self.qos)


class Recorder:
    """Collects what the node publishes."""

    def __init__(self, node, out_dir: pathlib.Path, fps: float) -> None:
        self.poses: list[dict] = []
        self.latency_ms: list[float] = []
        self.last_message = time.monotonic()
        self.node_stats: dict[str, str] = {}
        self.warm_up_answers: set[str] = set()
        self.first_stamp: float | None = None
        self.last_stamp = 0.0
        self.video_frames = 0
        self.video_path = out_dir / 'annotated.mp4'
        self.jsonl = open(out_dir / 'poses.jsonl', 'w')  # noqa: SIM115 (closed in close())
        self.writer: cv2.VideoWriter | None = None
        self.fps = fps
        self.people: list[int] = []  # poses per `people` message
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.subscriptions = [
            node.create_subscription(PersonPoseArray, 'poses', self.on_poses, reliable),
            node.create_subscription(Image, 'image_annotated', self.on_image, reliable),
            node.create_subscription(PoseArray, 'people', self.on_people, reliable)]
        node.create_subscription(DiagnosticArray, '/diagnostics', self.on_diagnostics, 10)
        self.clock = node.get_clock()

    def on_poses(self, msg: PersonPoseArray) -> None:
        if msg.header.frame_id == WARM_UP_FRAME:
            self.warm_up_answers.add('poses')
            return
        now = self.clock.now().nanoseconds
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        self.latency_ms.append((now - stamp) / 1e6)
        record = pose_array_to_dict(msg)
        self.poses.append(record)
        self.jsonl.write(json.dumps(record) + '\n')
        self.last_message = time.monotonic()

    def on_people(self, msg: PoseArray) -> None:
        if msg.header.frame_id != WARM_UP_FRAME:
            self.people.append(len(msg.poses))

    def on_image(self, msg: Image) -> None:
        if msg.header.frame_id == WARM_UP_FRAME:
            self.warm_up_answers.add('image_annotated')
            return
        image, order = image_to_array(msg)
        bgr = image[..., ::-1] if order == 'rgb' else image
        if self.writer is None:
            self.writer = cv2.VideoWriter(str(self.video_path), cv2.VideoWriter_fourcc(*'mp4v'),
                                          self.fps, (msg.width, msg.height))
        self.writer.write(np.ascontiguousarray(bgr))
        self.video_frames += 1
        self.last_message = time.monotonic()

    def on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            if 'frames received' in values:
                self.node_stats = values

    def close(self) -> None:
        self.jsonl.close()
        if self.writer is not None:
            self.writer.release()


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float('nan')


def people_summary(recorder: Recorder, out: pathlib.Path) -> dict:
    """What depth added: people located, keypoints measured, the 3D picture."""
    from plot_people_3d import measured_points, render

    measured = [measured_points(p) for p in recorder.poses]
    summary = {
        'people_messages_received': len(recorder.people),
        'people_located_per_frame_mean': (round(float(np.mean(recorder.people)), 3)
                                          if recorder.people else 0.0),
        'frames_with_3d_keypoints': sum(1 for n in measured if n),
    }
    if any(measured):
        best = int(np.argmax(measured))
        picture = out / 'people_3d.png'
        render(recorder.poses[best], picture, f'movenet_node, depth on: record {best}')
        summary['people_3d_png'] = str(picture)
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--mode', choices=MODES, default='singlepose_lightning')
    parser.add_argument('--video', type=pathlib.Path, default=ROOT / '.cache/media/demo.mp4')
    parser.add_argument('--rgbd', type=pathlib.Path, default=None,
                        help='an RGB-D folder (camera.json, color/, depth/) to play instead '
                             'of the video, with depth on')
    parser.add_argument('--out', type=pathlib.Path, default=ROOT / 'out' / 'demo')
    parser.add_argument('--max-frames', type=int, default=0, help='0: the whole video')
    parser.add_argument('--rate', type=float, default=15.0,
                        help='playback rate in Hz (default 15: half the video rate, so a '
                             '2-core machine runs camera, node and recorder without drops); '
                             "0: the video's own 30 fps")
    args = parser.parse_args()
    if args.rgbd is not None:
        if not is_rgbd_folder(args.rgbd):
            sys.exit(f'demo: {args.rgbd} is not an RGB-D folder (camera.json, color/, depth/)')
        try:
            folder = RgbdFolderSource(args.rgbd)
        except ValueError as exc:
            sys.exit(f'demo: {exc}')
        fps, total, args.video = folder.fps, folder.frame_count, args.rgbd
    elif not args.video.is_file():
        sys.exit(f'demo: {args.video} not found; run `make setup` (it fetches the footage)')
    else:
        capture = cv2.VideoCapture(str(args.video))
        fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        capture.release()
    args.out.mkdir(parents=True, exist_ok=True)
    frames = min(total, args.max_frames) if args.max_frames else total
    rate = args.rate or fps

    rclpy.init()
    node = rclpy.create_node('movenet_demo_recorder')
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    recorder = Recorder(node, args.out, rate)
    bag = SessionBag(node, args.out / 'session')
    bag_counts: dict[str, int] = {}
    env = dict(os.environ,
               FASTRTPS_DEFAULT_PROFILES_FILE=str(ROOT / 'config' / 'fastdds_large_images.xml'))
    movenet = subprocess.Popen([
        executable('movenet_node'), '--ros-args',
        '--params-file', str(ROOT / 'config' / f'{args.mode}.yaml'),
        '-p', 'diagnostics_period:=0.5',
        '-p', f'depth.enabled:={"true" if args.rgbd else "false"}'])
    publisher = None
    baseline: dict[str, str] = {}
    started = time.monotonic()
    try:
        # Play only once the node's outputs reach this recorder, or the first seconds of
        # the video would be processed with nobody recording them. Discovery is not
        # symmetric, so a black image is sent until the node's answers come back.
        warm_up_pub = node.create_publisher(Image, 'image', 1)
        warm_up = array_to_image_msg(np.zeros((64, 64, 3), np.uint8), 'bgr8',
                                     Header(frame_id=WARM_UP_FRAME))
        while recorder.warm_up_answers != {'poses', 'image_annotated'}:
            warm_up_pub.publish(warm_up)
            deadline = time.monotonic() + 0.3
            while time.monotonic() < deadline:
                executor.spin_once(timeout_sec=0.05)
            if movenet.poll() is not None or time.monotonic() - started > 60:
                print('demo: movenet_node did not come up', file=sys.stderr)
                return 1
        node.destroy_publisher(warm_up_pub)
        # The node's counters after the warm-up, subtracted from the final ones.
        deadline = time.monotonic() + 1.2  # more than two diagnostics periods
        while time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        baseline = dict(recorder.node_stats)
        bag.start()
        # The publisher waits until the node (on image) and this recorder (on image/compressed)
        # subscribe, so nothing is lost to start-up, then plays the video once at its own
        # frame rate.
        publisher = subprocess.Popen([
            executable('video_publisher'), '--ros-args',
            '-p', f'source:={args.video}', '-p', f'rate:={rate}',
            '-p', f'max_frames:={frames}', '-p', 'loop:=false',
            '-p', 'wait_for_subscribers:=2', '-p', 'publish_compressed:=true'], env=env)
        print(f'demo: {args.mode}, {frames} frames of {args.video.name} at {rate:g} Hz ...',
              flush=True)
        while publisher.poll() is None or time.monotonic() - recorder.last_message < 2.0:
            executor.spin_once(timeout_sec=0.05)
            if movenet.poll() is not None:
                print('demo: movenet_node exited early', file=sys.stderr)
                return 1
            if time.monotonic() - started > 240:
                print('demo: timed out after 240 s', file=sys.stderr)
                return 1
        # One more diagnostics period for the node's final counters.
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
    finally:
        for proc in (publisher, movenet):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        recorder.close()
        bag_counts = bag.close()
        node.destroy_node()
        rclpy.try_shutdown()

    persons = [len(p['persons']) for p in recorder.poses]
    node = recorder.node_stats

    def stat(key: str) -> float | int | None:
        value = node.get(key, '')
        if value == '':
            return None
        if '.' in value:
            return float(value)
        return int(value) - int(baseline.get(key) or 0)  # counters: without the warm-up

    summary = {
        'mode': args.mode,
        'rate_hz': rate,
        'frames_published': frames,
        'frames_received_by_node': stat('frames received'),
        'frames_dropped_by_node': stat('frames dropped'),
        'frames_lost_before_node': stat('frames lost upstream'),
        'pose_messages_received': len(recorder.poses),
        'frames_with_people': sum(1 for n in persons if n),
        'persons_per_frame_mean': round(float(np.mean(persons)), 3) if persons else 0.0,
        'node_inference_ms_p50': stat('inference ms p50'),
        'node_latency_ms_p50': stat('latency ms p50'),
        'node_latency_ms_p95': stat('latency ms p95'),
        'recorder_latency_ms_p50': round(percentile(recorder.latency_ms, 50), 1),
        'recorder_latency_ms_p95': round(percentile(recorder.latency_ms, 95), 1),
        'annotated_video': str(recorder.video_path),
        'annotated_video_frames': recorder.video_frames,
        'poses_jsonl': str(args.out / 'poses.jsonl'),
        'session_bag': str(bag.writer.path),
        'session_bag_messages': bag_counts,
    }
    if args.rgbd is not None:
        summary |= people_summary(recorder, args.out)
    (args.out / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
    print(json.dumps(summary, indent=2))
    ok = publisher is not None and publisher.returncode == 0 and recorder.poses
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
