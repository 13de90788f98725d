# SPDX-License-Identifier: Apache-2.0
"""The Foxglove layout shows what the node and the bags publish, and the viewer's web server
serves a bag by byte ranges, as Foxglove's remote-file source reads it (no browser needed)."""

from __future__ import annotations

import importlib.util
import json
import urllib.request

import pytest

from movenet_ros.core.bag_writer import OutputTopics


@pytest.fixture(scope='module')
def layout(repo) -> dict:
    return json.loads((repo / 'config' / 'foxglove_layout.json').read_text())


def _panels(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    return _panels(node['first']) + _panels(node['second'])


def test_layout_panels_show_the_output_topics(layout):
    topics = OutputTopics()
    assert sorted(_panels(layout['layout'])) == sorted(layout['configById'])
    (image,) = [v for k, v in layout['configById'].items() if k.startswith('ImageViewPanel!')]
    assert image['enabledMarkerTopics'] == [topics.image_bones, topics.image_keypoints]
    assert image['cameraTopic'] == '/image/compressed'
    (three_d,) = [v for k, v in layout['configById'].items() if k.startswith('3D!')]
    assert list(three_d['topics']) == [topics.markers]
    assert three_d['followTf'] == 'camera_optical_frame'  # video_publisher's frame_id
    (diagnostics,) = [v for k, v in layout['configById'].items()
                      if k.startswith('DiagnosticSummary!')]
    assert diagnostics['topicToRender'] == '/diagnostics'


@pytest.fixture(scope='module')
def viewer(repo):
    spec = importlib.util.spec_from_file_location('foxglove_view',
                                                  repo / 'tools' / 'foxglove_view.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_viewer_serves_the_bag_by_byte_ranges(viewer, tmp_path, repo):
    site = tmp_path / 'site'
    site.mkdir()
    (site / 'index.html').write_text('page')
    bag = tmp_path / 'x.mcap'
    data = bytes(range(256)) * 40
    bag.write_bytes(data)
    server = viewer.serve(site, bag, repo / 'config' / 'foxglove_layout.json')
    base = f'http://127.0.0.1:{server.server_port}'
    try:
        def get(path, ranged=None):
            request = urllib.request.Request(base + path,
                                             headers={'Range': ranged} if ranged else {})
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, dict(reply.headers), reply.read()

        status, headers, body = get('/bag/x.mcap', 'bytes=100-199')
        assert (status, body, headers['Content-Range']) == (206, data[100:200],
                                                            f'bytes 100-199/{len(data)}')
        assert get('/bag/x.mcap', 'bytes=-16')[2] == data[-16:]
        assert get('/bag/x.mcap', 'bytes=10000-')[2] == data[10000:]
        status, headers, body = get('/bag/x.mcap')
        assert (status, body, headers['Accept-Ranges']) == (200, data, 'bytes')
        assert json.loads(get('/layout.json')[2])['configById']
        assert get('/index.html')[2] == b'page'
    finally:
        server.shutdown()
    url = viewer.viewer_url(1234, bag, None)
    assert url.startswith('http://127.0.0.1:1234/index.html?ds=remote-file&ds.url=')
    assert 'layoutId=movenet_ros' in url
