"""Headless Chromium for the report's tests (tests/e2e/test_report.py).

chromium_or_skip()
    The path of Debian's ``chromium`` (``make check`` installs it), or a
    one-line pytest skip when it is absent.

Browser(tmp_path)
    Runs chromium with a fresh profile and every request sent to a
    recording proxy on 127.0.0.1 (``--proxy-server``, with loopback not
    bypassed), so a page that fetches anything, from anywhere, leaves a
    line in ``proxy.requests``.  ``dump_dom(path)`` is the DOM after
    rendering (scripts run, CSS applied); ``screenshot(path, png)`` writes
    a PNG.  ``requests`` leaves out Chromium's own calls home
    (CHROMIUM_HOSTS), which it makes for any page.

png_colours(data)
    The distinct pixel colours of a PNG (8-bit RGB or RGBA), decoded with
    zlib and the PNG row filters: a blank screenshot has one.
"""
import http.server
import os
import shutil
import socketserver
import struct
import subprocess
import tempfile
import threading
import zlib

import pytest

TIMEOUT = 60
# Chromium calls these itself whatever the flags (the component updater,
# accounts, the network time), page or no page; a page's own fetch goes
# anywhere else (the tests' pages name no host at all).
CHROMIUM_HOSTS = (".google.com", ".googleapis.com", ".gstatic.com",
                  ".gvt1.com")


def _host(request):
    """The host of a request line ("GET http://h/p", "CONNECT h:443")."""
    target = request.split(" ", 1)[1]
    if "://" in target:
        target = target.split("://", 1)[1]
    return target.split("/", 1)[0].rsplit(":", 1)[0]


def chromium_or_skip():
    path = shutil.which("chromium")
    if not path:
        pytest.skip("chromium is not installed (make check installs it)")
    return path


class _Recorder(http.server.BaseHTTPRequestHandler):
    def _record(self):
        self.server.requests.append("%s %s" % (self.command, self.path))
        self.send_response(502)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_HEAD = do_CONNECT = do_PUT = do_OPTIONS = _record

    def log_message(self, *args):
        pass


class _Proxy(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


class Browser:
    def __init__(self, tmp_path):
        self.binary = chromium_or_skip()
        self.tmp_path = tmp_path
        self.proxy = _Proxy(("127.0.0.1", 0), _Recorder)
        self.proxy.requests = []
        self.thread = threading.Thread(target=self.proxy.serve_forever,
                                       daemon=True)
        self.thread.start()

    @property
    def requests(self):
        """What went through the proxy, but Chromium's own calls home."""
        return [r for r in self.proxy.requests
                if not _host(r).endswith(CHROMIUM_HOSTS)]

    def close(self):
        self.proxy.shutdown()
        self.proxy.server_close()

    def _run(self, extra, url):
        profile = tempfile.mkdtemp(dir=str(self.tmp_path), prefix="chromium-")
        cmd = [self.binary, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-quic", "--no-first-run",
               "--disable-background-networking",
               "--disable-component-update", "--disable-sync",
               "--disable-domain-reliability", "--no-pings",
               "--disable-client-side-phishing-detection",
               "--disable-default-apps", "--safebrowsing-disable-auto-update",
               "--disable-features=NetworkTimeServiceQuerying,"
               "OptimizationHints,Translate,MediaRouter",
               "--user-data-dir=" + profile,
               "--proxy-server=http://127.0.0.1:%d" % self.proxy.server_port,
               "--proxy-bypass-list=<-loopback>"] + extra + [url]
        r = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT,
                           env=dict(os.environ, HOME=profile))
        shutil.rmtree(profile, ignore_errors=True)
        assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
        return r.stdout.decode("utf-8", errors="replace")

    def dump_dom(self, path):
        return self._run(["--dump-dom"], "file://" + os.path.abspath(path))

    def screenshot(self, path, png, size="1000,1400"):
        self._run(["--screenshot=" + str(png), "--window-size=" + size,
                   "--hide-scrollbars"], "file://" + os.path.abspath(path))
        with open(png, "rb") as f:
            return f.read()


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(kind, row, prev, bpp):
    out = bytearray(row)
    if kind == 0:
        return out
    if kind == 2:
        return bytearray((x + y) & 0xff for x, y in zip(row, prev))
    for i in range(len(out)):
        left = out[i - bpp] if i >= bpp else 0
        up = prev[i]
        if kind == 1:
            out[i] = (out[i] + left) & 0xff
        elif kind == 3:
            out[i] = (out[i] + ((left + up) >> 1)) & 0xff
        else:
            corner = prev[i - bpp] if i >= bpp else 0
            out[i] = (out[i] + _paeth(left, up, corner)) & 0xff
    return out


def png_colours(data, limit=64):
    """Distinct colours of an 8-bit RGB(A) PNG, counted up to limit."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    colours = set()
    for y in range(height):
        start = y * (stride + 1)
        prev = _unfilter(raw[start], raw[start + 1:start + 1 + stride],
                         prev, bpp)
        # Every 7th pixel is enough to tell a page from a blank.
        for x in range(0, stride, bpp * 7):
            colours.add(bytes(prev[x:x + bpp]))
        if len(colours) >= limit:
            break
    return colours
