# SPDX-License-Identifier: Apache-2.0
"""Open a bag in Foxglove Studio with the project's layout: in your browser, or headless for a
screenshot.

    python tools/foxglove_view.py out/demo/session          # prints a URL to open, Ctrl-C ends
    python tools/foxglove_view.py out/demo/session --screenshot doc/foxglove_demo.png --at 4

For machines without the Foxglove app (with it, open the .mcap and import
config/foxglove_layout.json instead). Foxglove Studio 1.48 (npm ``@foxglove/studio-base``,
MPL-2.0) and React 17 are fetched with npm into ``.cache/foxglove/`` on first use (~36 MB;
never into the repository). A loopback-only web server serves them, tools/foxglove_viewer.html
and the bag (with the byte ranges Foxglove reads it by). ``--screenshot`` drives Debian's
``chromium`` headless over the DevTools protocol (``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import http.server
import json
import os
import pathlib
import shutil
import socket
import struct
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
CACHE = ROOT / '.cache' / 'foxglove'
PACKAGES = {'@foxglove/studio-base@1.48.0': 'studio', 'react@17.0.2': 'react',
            'react-dom@17.0.2': 'react-dom'}
LAYOUT_ID = 'movenet_ros'


def ensure_site(cache: pathlib.Path = CACHE) -> pathlib.Path:
    """The viewer's web root (Studio's assets, React, the page), fetched with npm once."""
    site = cache / 'site'
    if not (site / 'assets' / 'index.js').is_file():
        if shutil.which('npm') is None:
            sys.exit('foxglove_view: npm is needed to fetch Foxglove Studio once: '
                     'sudo apt-get install npm')
        with tempfile.TemporaryDirectory() as tmp:
            print('foxglove_view: fetching Foxglove Studio 1.48 and React 17 from npm ...',
                  file=sys.stderr)
            subprocess.run(['npm', 'pack', '--silent', '--pack-destination', tmp, *PACKAGES],
                           check=True, stdout=subprocess.DEVNULL)
            unpacked = pathlib.Path(tmp) / 'unpacked'
            for archive in pathlib.Path(tmp).glob('*.tgz'):
                name = 'studio' if 'studio' in archive.name else (
                    'react-dom' if 'react-dom' in archive.name else 'react')
                with tarfile.open(archive) as tar:
                    tar.extractall(unpacked / name, filter='data')
            staging = cache / 'site.partial'
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(unpacked / 'studio' / 'package' / 'assets', staging / 'assets')
            shutil.copy(unpacked / 'react' / 'package' / 'umd' / 'react.production.min.js',
                        staging / 'react.js')
            shutil.copy(unpacked / 'react-dom' / 'package' / 'umd' /
                        'react-dom.production.min.js', staging / 'react-dom.js')
            shutil.rmtree(site, ignore_errors=True)
            staging.rename(site)
    shutil.copy(ROOT / 'tools' / 'foxglove_viewer.html', site / 'index.html')
    return site


def find_mcap(bag: pathlib.Path) -> pathlib.Path:
    """The .mcap file of a bag (a folder holding one, or the file itself)."""
    if bag.is_file() and bag.suffix == '.mcap':
        return bag
    files = sorted(bag.glob('*.mcap')) if bag.is_dir() else []
    if len(files) != 1:
        sys.exit(f'foxglove_view: {bag}: expected an .mcap file or a bag folder holding one '
                 '(this viewer opens MCAP; write bags with --bag-storage mcap)')
    return files[0]


class _Handler(http.server.SimpleHTTPRequestHandler):
    """The site, the layout and the bag; the bag with HTTP byte ranges."""

    def __init__(self, *args, bag: pathlib.Path, layout: pathlib.Path, **kwargs) -> None:
        self.bag, self.layout = bag, layout
        super().__init__(*args, **kwargs)

    def log_message(self, *args) -> None:  # quiet: the page fetches hundreds of assets
        pass

    def end_headers(self) -> None:
        self.send_header('Cache-Control', 'no-store')
        super().end_headers()

    def do_GET(self) -> None:
        path = urllib.parse.urlparse(self.path).path
        if path == '/layout.json':
            self._file(self.layout, 'application/json')
        elif path == f'/bag/{self.bag.name}':
            self._file(self.bag, 'application/octet-stream')
        else:
            super().do_GET()

    def do_HEAD(self) -> None:
        if urllib.parse.urlparse(self.path).path == f'/bag/{self.bag.name}':
            self._file(self.bag, 'application/octet-stream', head=True)
        else:
            super().do_HEAD()

    def _file(self, path: pathlib.Path, kind: str, head: bool = False) -> None:
        size = path.stat().st_size
        start, end = 0, size - 1
        ranged = self.headers.get('Range', '')
        if ranged.startswith('bytes='):
            first, _, last = ranged[6:].split(',')[0].partition('-')
            if first:
                start, end = int(first), min(int(last), size - 1) if last else size - 1
            else:  # the last N bytes
                start = max(0, size - int(last))
            if start > end:
                self.send_response(416)
                self.send_header('Content-Range', f'bytes */{size}')
                self.end_headers()
                return
        self.send_response(206 if ranged else 200)
        self.send_header('Content-Type', kind)
        self.send_header('Accept-Ranges', 'bytes')
        self.send_header('Content-Length', str(end - start + 1))
        if ranged:
            self.send_header('Content-Range', f'bytes {start}-{end}/{size}')
        self.end_headers()
        if head:
            return
        with path.open('rb') as f:
            f.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = f.read(min(left, 1 << 20))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)  # a browser closing is no error


def serve(site: pathlib.Path, bag: pathlib.Path, layout: pathlib.Path,
          port: int = 0) -> http.server.ThreadingHTTPServer:
    """Start the loopback web server in a thread; its port is ``server.server_port``."""
    handler = functools.partial(_Handler, directory=str(site), bag=bag, layout=layout)
    server = _Server(('127.0.0.1', port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def bag_start_ns(mcap: pathlib.Path) -> int:
    from mcap.reader import make_reader

    with mcap.open('rb') as f:
        statistics = make_reader(f).get_summary().statistics
    return statistics.message_start_time


def viewer_url(port: int, mcap: pathlib.Path, at_s: float | None) -> str:
    params = {'ds': 'remote-file', 'ds.url': f'http://127.0.0.1:{port}/bag/{mcap.name}',
              'layoutId': LAYOUT_ID}
    if at_s is not None:
        ns = bag_start_ns(mcap) + round(at_s * 1e9)
        seconds, nanos = divmod(ns, 10**9)
        params['time'] = time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds)) + \
            f'.{nanos:09d}Z'
    return f'http://127.0.0.1:{port}/index.html?{urllib.parse.urlencode(params)}'


class DevTools:
    """The DevTools protocol over one WebSocket, with the standard library only."""

    def __init__(self, ws_url: str) -> None:
        url = urllib.parse.urlparse(ws_url)
        self.sock = socket.create_connection((url.hostname, url.port), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f'GET {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n'
                           'Upgrade: websocket\r\nConnection: Upgrade\r\n'
                           f'Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n'
                           ).encode())
        response = b''
        while b'\r\n\r\n' not in response:
            response += self.sock.recv(4096)
        if b' 101 ' not in response.split(b'\r\n')[0]:
            raise RuntimeError(f'DevTools refused the connection: {response[:200]!r}')
        self._buffer = response.split(b'\r\n\r\n', 1)[1]
        self._id = 0

    def _read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            data = self.sock.recv(1 << 16)
            if not data:
                raise RuntimeError('DevTools closed the connection')
            self._buffer += data
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def _frame(self) -> bytes:
        message = b''
        while True:
            head, length = self._read(2)
            length &= 0x7F
            if length == 126:
                (length,) = struct.unpack('>H', self._read(2))
            elif length == 127:
                (length,) = struct.unpack('>Q', self._read(8))
            message += self._read(length)
            if head & 0x80:
                return message

    def call(self, method: str, **params) -> dict:
        """Send a command and wait for its result (events meanwhile are dropped)."""
        self._id += 1
        payload = json.dumps({'id': self._id, 'method': method, 'params': params}).encode()
        mask = os.urandom(4)
        size = len(payload)
        header = bytes([0x81]) + (bytes([0x80 | size]) if size < 126 else
                                  bytes([0x80 | 126]) + struct.pack('>H', size) if size < 65536
                                  else bytes([0x80 | 127]) + struct.pack('>Q', size))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        while True:
            reply = json.loads(self._frame())
            if reply.get('id') == self._id:
                if 'error' in reply:
                    raise RuntimeError(f'{method}: {reply["error"]}')
                return reply['result']

    def evaluate(self, expression: str):
        return self.call('Runtime.evaluate', expression=expression,
                         returnByValue=True)['result'].get('value')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


# Ready: the image panel and the 3D panel have their canvases, and nothing is loading.
_READY = """(() => {
  const canvases = [...document.querySelectorAll('canvas')].filter(
      (c) => c.width > 50 && c.height > 50);
  return canvases.length >= 2 && !/Loading/.test(document.body.innerText);
})()"""


def screenshot(url: str, out: pathlib.Path, size: tuple[int, int], settle_s: float,
               timeout_s: float) -> None:
    chromium = shutil.which('chromium') or shutil.which('chromium-browser')
    if chromium is None:
        sys.exit('foxglove_view: --screenshot needs chromium: sudo apt-get install chromium')
    port = _free_port()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        browser = subprocess.Popen([
            chromium, '--headless=new', '--no-sandbox', '--disable-gpu', '--use-gl=swiftshader',
            '--enable-unsafe-swiftshader', '--hide-scrollbars', '--mute-audio', '--no-first-run',
            '--no-default-browser-check', f'--window-size={size[0]},{size[1]}',
            f'--remote-debugging-port={port}', '--remote-debugging-address=127.0.0.1',
            f'--user-data-dir={profile}', url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + timeout_s
            page = None
            while page is None:
                if time.monotonic() > deadline:
                    sys.exit('foxglove_view: chromium did not open its DevTools port')
                with contextlib.suppress(OSError, ValueError):
                    with urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list',
                                                timeout=2) as reply:
                        targets = json.load(reply)
                    page = next((t for t in targets if t.get('type') == 'page'), None)
                time.sleep(0.5)
            tools = DevTools(page['webSocketDebuggerUrl'])
            tools.call('Emulation.setDeviceMetricsOverride', width=size[0], height=size[1],
                       deviceScaleFactor=1, mobile=False)
            while not tools.evaluate(_READY):
                if time.monotonic() > deadline:
                    print('foxglove_view: the panels did not report ready in time; taking the '
                          'screenshot anyway', file=sys.stderr)
                    break
                time.sleep(1.0)
            time.sleep(settle_s)  # let the panels draw the messages at the seek time
            png = base64.b64decode(tools.call('Page.captureScreenshot', format='png')['data'])
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(png)
            print(f'foxglove_view: wrote {out} ({len(png) // 1024} KB)', file=sys.stderr)
        finally:
            browser.terminate()
            try:
                browser.wait(timeout=10)
            except subprocess.TimeoutExpired:
                browser.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('bag', type=pathlib.Path, help='a bag folder holding an .mcap, or one')
    parser.add_argument('--layout', type=pathlib.Path,
                        default=ROOT / 'config' / 'foxglove_layout.json')
    parser.add_argument('--port', type=int, default=0, help='web server port (default: free)')
    parser.add_argument('--at', type=float, default=None, metavar='SECONDS',
                        help='open the bag at this time after its start')
    parser.add_argument('--screenshot', type=pathlib.Path, metavar='PNG',
                        help='take a headless screenshot instead of serving')
    parser.add_argument('--size', default='1600x900', help='screenshot size (1600x900)')
    parser.add_argument('--settle', type=float, default=8.0,
                        help='seconds to wait after the panels are up (8)')
    parser.add_argument('--timeout', type=float, default=180.0)
    args = parser.parse_args()
    mcap = find_mcap(args.bag)
    site = ensure_site()
    server = serve(site, mcap.resolve(), args.layout.resolve(), args.port)
    url = viewer_url(server.server_port, mcap, args.at)
    try:
        if args.screenshot:
            width, height = (int(v) for v in args.size.lower().split('x'))
            screenshot(url, args.screenshot, (width, height), args.settle, args.timeout)
            return 0
        print(f'Foxglove Studio with {mcap.name}: {url}\n(Ctrl-C ends)', flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        server.shutdown()


if __name__ == '__main__':
    sys.exit(main())
