#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The camera on one host, movenet_node on another: two network namespaces joined by a veth.

Robots often run the camera on one computer and perception on another; then the frames
cross a network, over UDP (shared memory cannot help). This benchmark makes two hosts out of
one machine: it creates two network namespaces (``<tag>cam``, ``<tag>node``) joined by a veth
pair, gives each end an address inside its namespace only (10.231.0.1/24, 10.231.0.2/24),
and deletes both namespaces (and with them the veth) when it ends, however it ends. Needs
root (``ip netns``); nothing outside the two namespaces is touched.

In the node's namespace it then runs the usual node benchmark (bench/node.py's cases): the
camera process (bench/common.py's publisher, the conversions and allocator tuning of
``video_publisher``; best effort like sensor drivers, ``--reliable-camera`` for a reliable
one) in the camera's namespace, movenet_node (or the echo node: the floor) and the observer
in the node's. Per Fast DDS profile (UDP only, as between two hosts):

* ``udp_default``: UDPv4 with Fast DDS's default socket buffers (what two hosts get);
* ``udp_large``: ``config/fastdds_udp_large_images.xml`` (the shipped profile: 4 MB socket
  buffers);

and per size (640x480, 1280x720), transport (raw ``bgr8``, JPEG) at 30 Hz: frames delivered
(answered / published), latency p50 / p95 from the camera's stamp to the answer, frames the
node lost upstream, CPU. Finally, ``video_publisher`` itself plays the demo clip across the
link to the node once per transport (1280x720, 30 Hz, 90 frames): how many poses come back.

Run as root from the repository after ``source tools/env.sh``::

    python bench/two_hosts.py            # about 5 minutes
    python bench/two_hosts.py --quick    # a few seconds per case (smoke)

Writes bench/results/two_hosts.json and two_hosts.md (two_hosts-quick.* with --quick).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

from common import REPO, RESULTS, Observer, Variant, load_frames, machine, parse_size
import numpy as np

ADDRESSES = ('10.231.0.1/24', '10.231.0.2/24')  # camera end, node end (inside them only)
PROFILES = {
    'udp_default': None,  # written at run time: UDPv4 only, default buffers
    'udp_large': REPO / 'config' / 'fastdds_udp_large_images.xml',
}
UDP_ONLY = """<?xml version="1.0" encoding="UTF-8"?>
<dds><profiles xmlns="http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles">
  <transport_descriptors><transport_descriptor>
    <transport_id>udp</transport_id><type>UDPv4</type>
  </transport_descriptor></transport_descriptors>
  <participant profile_name="udp_only" is_default_profile="true"><rtps>
    <userTransports><transport_id>udp</transport_id></userTransports>
    <useBuiltinTransports>false</useBuiltinTransports>
  </rtps></participant>
</profiles></dds>
"""


class Namespaces:
    """Two network namespaces joined by a veth pair; deleted on exit (with the veth)."""

    def __init__(self, tag: str) -> None:
        self.camera, self.node = f'{tag}cam', f'{tag}node'
        self._ends = (f'{tag}c', f'{tag}n')
        self._made: list[str] = []

    def _ip(self, *args: str) -> None:
        subprocess.run(['ip', *args], check=True)

    def __enter__(self) -> Namespaces:
        try:
            for ns in (self.camera, self.node):
                self._ip('netns', 'add', ns)
                self._made.append(ns)
            cam_end, node_end = self._ends
            self._ip('-n', self.camera, 'link', 'add', cam_end, 'type', 'veth', 'peer',
                     'name', node_end, 'netns', self.node)
            for ns, end, address in ((self.camera, cam_end, ADDRESSES[0]),
                                     (self.node, node_end, ADDRESSES[1])):
                self._ip('-n', ns, 'addr', 'add', address, 'dev', end)
                self._ip('-n', ns, 'link', 'set', 'lo', 'up')
                self._ip('-n', ns, 'link', 'set', end, 'up')
                # Discovery is multicast: route it (and everything else) over the link.
                self._ip('-n', ns, 'route', 'add', 'default', 'dev', end)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_exc) -> None:
        for ns in reversed(self._made):
            subprocess.run(['ip', 'netns', 'del', ns], check=False)
        self._made.clear()

    def prefix(self, ns: str) -> tuple[str, ...]:
        return ('ip', 'netns', 'exec', ns)


def outside(args) -> int:
    """As root: make the namespaces, run the measurement inside the node's, tear down."""
    if os.geteuid() != 0:
        sys.exit('bench/two_hosts.py needs root (ip netns); nothing was changed')

    def stop(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, stop)
    with Namespaces(f'mnr{os.getpid() % 100000}') as ns:
        print(f'namespaces {ns.camera} / {ns.node}, veth {ADDRESSES[0]} <-> {ADDRESSES[1]}',
              file=sys.stderr, flush=True)
        command = [*ns.prefix(ns.node), sys.executable, str(pathlib.Path(__file__).resolve()),
                   '--inside', ns.camera, *sys.argv[1:]]
        return subprocess.run(command, check=False).returncode


def video_publisher_check(observer: Observer, ns_camera: str, profile: str, transport: str,
                          frames: int) -> dict:
    """The shipped video_publisher across the link, the node answering: poses received."""
    from common import NodeUnderTest, node_executable

    exe = node_executable().parent / 'video_publisher'
    env = os.environ | {'FASTRTPS_DEFAULT_PROFILES_FILE': profile}
    node = NodeUnderTest('lightning', 2, transport,
                         variant=Variant('vp', env=(('FASTRTPS_DEFAULT_PROFILES_FILE',
                                                     profile),)))
    seen, first = len(observer.diagnostics), len(observer.outputs)
    try:
        observer.spin_until(lambda: len(observer.diagnostics) > seen, 20.0)
        camera = subprocess.Popen(
            ['ip', 'netns', 'exec', ns_camera, str(exe), '--ros-args',
             '-p', f'source:={REPO / ".cache" / "media" / "demo.mp4"}', '-p', 'rate:=30.0',
             '-p', 'width:=1280', '-p', 'height:=720', '-p', f'max_frames:={frames}',
             '-p', f'publish_compressed:={str(transport == "jpeg").lower()}',
             '-p', 'wait_for_subscribers:=1'],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while camera.poll() is None and time.monotonic() < deadline:
            observer.spin_for(0.2)
        observer.spin_for(1.0)
        if camera.poll() is None:
            camera.kill()
        camera.wait()
        ages = [o.age_ms for o in observer.outputs[first:]]
        return {'transport': transport, 'published': frames, 'answered': len(ages),
                'latency_p50': round(float(np.percentile(ages, 50)), 2) if ages else None,
                'camera_exit': camera.returncode}
    finally:
        node.stop()


def inside(args) -> int:
    """In the node's namespace: every case, the camera in ``args.inside``'s."""
    import cv2
    from node import RawModel, node_cases

    default_profile = pathlib.Path(tempfile.mkdtemp(prefix='two_hosts_')) / 'udp_only.xml'
    default_profile.write_text(UDP_ONLY)
    profiles = {k: str(v or default_profile) for k, v in PROFILES.items()}
    os.environ['FASTRTPS_DEFAULT_PROFILES_FILE'] = profiles['udp_default']  # the observer
    os.environ['ROS_DOMAIN_ID'] = str(args.domain)
    # Across hosts: discovery must reach the subnet (the tests' LOCALHOST would stop it).
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'SUBNET'
    os.environ.pop('ROS_LOCALHOST_ONLY', None)
    args.publisher_prefix = ('ip', 'netns', 'exec', args.inside)
    sizes = args.sizes.split(',')
    source = load_frames(args.frames)
    frames = {s: [cv2.resize(f, parse_size(s), interpolation=cv2.INTER_AREA) for f in source]
              for s in sizes}
    plan = [(size, args.rate) for size in sizes]
    info = machine()
    started = time.time()
    observer = Observer(name='two_hosts_observer')
    rows = []
    reference = RawModel('lightning', 2)
    try:
        for repeat in range(args.repeat):
            for transport in args.transports.split(','):
                for model in args.models.split(','):
                    for label, path in profiles.items():
                        variant = Variant(label, env=(('FASTRTPS_DEFAULT_PROFILES_FILE', path),),
                                          prefix=())
                        os.environ['FASTRTPS_DEFAULT_PROFILES_FILE'] = path  # the camera
                        print(f'repeat {repeat + 1}: {model} {transport} {label}',
                              file=sys.stderr, flush=True)
                        run, _ = node_cases(observer, None if model == 'echo' else reference,
                                            frames, model, 2, transport, plan, args, variant)
                        rows += [row(c, model, transport, label, repeat, run)
                                 for c in run['phases']]
        checks = [video_publisher_check(observer, args.inside, profiles['udp_large'], t,
                                        args.vp_frames)
                  for t in args.transports.split(',')] if args.vp_frames else []
    finally:
        observer.close()
    elapsed = time.time() - started
    report = {
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'machine': info | {'loadavg_after': [round(v, 2) for v in os.getloadavg()]},
        'addresses': ADDRESSES, 'profiles': profiles, 'rate_hz': args.rate,
        'camera_reliable': args.reliable_camera, 'duration_s': args.duration,
        'elapsed_s': round(elapsed, 1), 'rows': rows, 'video_publisher': checks}
    name = 'two_hosts-quick' if args.quick else 'two_hosts'
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f'{name}.json').write_text(json.dumps(report, indent=2) + '\n')
    text = markdown(report)
    (args.out / f'{name}.md').write_text(text + '\n')
    print(text)
    print(f"\n{info['cpu']}, {info['cpus']} CPUs, load average before {info['loadavg']}, "
          f"after {report['machine']['loadavg_after']}; {elapsed:.0f} s.")
    return 0


def row(c: dict, model: str, transport: str, profile: str, repeat: int, run: dict) -> dict:
    return {'model': model, 'transport': transport, 'profile': profile, 'repeat': repeat,
            'size': c['size'], 'published': c['published'], 'answered': c['answered'],
            'latency_p50': c['latency_ms']['p50'], 'latency_p95': c['latency_ms']['p95'],
            'lost_upstream': c['counters'].get('frames lost upstream'),
            'dropped': c['counters'].get('frames dropped'),
            'node_cpu_cores': c['node_cpu_cores'], 'publisher_cpu_cores':
            c['publisher_cpu_cores'], 'other_cpu_cores': c['other_cpu_cores'],
            'exit_code': run['exit_code']}


def markdown(report: dict) -> str:
    lines = ['| node | transport | size | Fast DDS profile | answered / published | '
             'latency p50 / p95 ms | lost upstream | CPU node / camera |',
             '|---|---|---|---|---:|---:|---:|---:|']
    cases = dict.fromkeys((r['model'], r['transport'], r['size'], r['profile'])
                          for r in report['rows'])
    for case in cases:
        rs = [r for r in report['rows'] if (r['model'], r['transport'], r['size'],
                                            r['profile']) == case]

        def mean(key, digits=1, rs=rs):
            values = [r[key] for r in rs if r[key] is not None]
            return f'{np.mean(values):.{digits}f}' if values else '-'
        lat = f"{mean('latency_p50')} / {mean('latency_p95')}"
        lost = [r['lost_upstream'] for r in rs if r['lost_upstream'] is not None]
        lines.append(f'| {case[0]} | {case[1]} | {case[2]} | {case[3]} | '
                     f"{mean('answered', 3)} | {lat} | {sum(lost) if lost else '-'} | "
                     f"{mean('node_cpu_cores', 2)} / {mean('publisher_cpu_cores', 2)} |")
    for check in report['video_publisher']:
        lines.append(f"\nvideo_publisher ({check['transport']}, 1280x720, 30 Hz, udp_large): "
                     f"{check['answered']} of {check['published']} frames answered, latency "
                     f"p50 {check['latency_p50']} ms, exit {check['camera_exit']}")
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='a few seconds per case')
    parser.add_argument('--models', default='echo,lightning',
                        help='echo (the floor) and/or lightning, thunder, multipose')
    parser.add_argument('--sizes', default='640x480,1280x720')
    parser.add_argument('--transports', default='raw,jpeg')
    parser.add_argument('--rate', type=int, default=30)
    parser.add_argument('--duration', type=float, default=5.0, help='seconds measured/phase')
    parser.add_argument('--warmup', type=float, default=1.0)
    parser.add_argument('--frames', type=int, default=30, help='distinct video frames cycled')
    parser.add_argument('--repeat', type=int, default=1)
    parser.add_argument('--reliable-camera', action='store_true',
                        help='the camera publishes reliable (depth 1), not best effort')
    parser.add_argument('--vp-frames', type=int, default=90,
                        help='frames of the video_publisher check (0: skip it)')
    parser.add_argument('--domain', type=int, default=int(os.environ.get('ROS_DOMAIN_ID', 0)))
    parser.add_argument('--out', type=pathlib.Path, default=RESULTS)
    parser.add_argument('--inside', metavar='CAMERA_NS', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.frames, args.vp_frames = 1.5, 0.5, 5, 15
    return inside(args) if args.inside else outside(args)


if __name__ == '__main__':
    sys.exit(main())
