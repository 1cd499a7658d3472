"""A small hostile Meisa for the retry-policy tests (issue 13 item 6).

`HostileMeisa(script)` serves, on 127.0.0.1 and a free port, in a thread:
GET /api/v1/ping/ (a test key with every scope), GET the unsubscribed list
(empty), and POST /api/v1/contacts/upsert/ answered by ``script``: a list
of (status, headers) tuples used in order, one per upsert, the last one
repeated forever (201 answers carry an id).  Everything received is
recorded in ``requests`` as (method, path) tuples.

    with HostileMeisa([(408, {}), (201, {})]) as srv:
        bulk(["push", ...], base_url=srv.url)
"""
import http.server
import json
import threading

PREFIX = "/api/v1"


class HostileMeisa:
    def __init__(self, script):
        self.script = list(script)
        self.requests = []
        self.lock = threading.Lock()
        self.upserts = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self, status, body, headers=None):
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                with outer.lock:
                    outer.requests.append(("GET", self.path))
                if self.path == PREFIX + "/ping/":
                    self.answer(200, {"status": "ok", "environment": "test",
                                      "scopes": ["contacts:read",
                                                 "contacts:write",
                                                 "sequences:read",
                                                 "sequences:enroll"]})
                elif self.path.startswith(PREFIX + "/contacts/api/unsub"):
                    self.answer(200, {"as_of": "2026-01-01T00:00:00Z",
                                      "count": 0, "emails": []})
                else:
                    self.answer(404, {"detail": "Not found."})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                with outer.lock:
                    outer.requests.append(("POST", self.path))
                    i = min(outer.upserts, len(outer.script) - 1)
                    outer.upserts += 1
                status, headers = outer.script[i]
                if status // 100 == 2:
                    self.answer(status, {"id": outer.upserts}, headers)
                else:
                    self.answer(status, {"detail": "hostile %d" % status},
                                headers)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d%s" % (self.port, PREFIX)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
