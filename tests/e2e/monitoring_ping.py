"""A tiny HTTP server that records the pings of --ping-url (test_monitoring).

``PingRecorder()`` listens on 127.0.0.1 (a free port) in a thread and
answers every GET with 200 "OK", keeping the paths in ``.paths`` (in the
order received); ``.url(path)`` is a ping URL under it.  Use it as a
context manager: the server stops on exit.  ``status`` (default 200) is
the status every ping gets.
"""
import http.server
import threading


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.recorder.paths.append(self.path)
        body = b"OK"
        self.send_response(self.server.recorder.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


class PingRecorder:
    def __init__(self, status=200):
        self.paths = []
        self.status = status
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      _Handler)
        self.server.recorder = self
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)

    def url(self, path="/ping/0d6f1a2b-secret-uuid"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
