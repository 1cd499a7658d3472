"""A small, configurable stand-in for Meisa that answers what a test needs.

meisa-sandbox answers as Meisa documents; some tests need answers it never
gives (an unsubscribed list of another shape, a portal page from /ping/,
unknown bulk-enroll statuses).  HostileAPI is a threaded http.server on
127.0.0.1, port 0, that answers /ping/, the sequence list, the
unsubscribed list, upserts and bulk-enroll like Meisa by default, and as
configured otherwise.

    with HostileAPI(unsubscribed=(200, "application/json", "[]")) as api:
        run_bulk([...], base_url=api.url)
        api.count("POST", UPSERT)

Configuration (keyword arguments, or attributes set later):
    ping, sequences, unsubscribed
        (status, content_type, body_text) answered to every GET of it.
    enroll
        a function(emails) -> list of per-address result objects (the
        "results" of the answer), or (status, content_type, body_text).
    upsert
        a function(body_dict) -> (status, body_dict) for each upsert.
Every request is recorded in ``requests`` as (method, path, body_text).
"""
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PING = "/api/v1/ping/"
SEQUENCES = "/api/v1/sequences/api/list/"
UNSUBSCRIBED = "/api/v1/contacts/api/unsubscribed-emails/"
UPSERT = "/api/v1/contacts/upsert/"
ENROLL = "/api/v1/sequences/api/bulk-enroll/"

SCOPES = ["contacts:read", "contacts:write", "sequences:read",
          "sequences:enroll"]


def as_json(obj, status=200):
    return (status, "application/json", json.dumps(obj))


def all_enrolled(emails):
    return [{"email": e, "status": "enrolled"} for e in emails]


def created(body):
    return 201, {"id": str(uuid.uuid4()), "email": body.get("email")}


class HostileAPI:
    def __init__(self, **config):
        self.ping = as_json({"status": "ok", "environment": "test",
                             "scopes": SCOPES})
        self.sequences = as_json({"count": 1, "results": [
            {"slug": "onboarding", "name": "Onboarding", "status": "active"}]})
        self.unsubscribed = as_json({"as_of": "2026-01-01T00:00:00Z",
                                     "count": 0, "emails": []})
        self.enroll = all_enrolled
        self.upsert = created
        for name, value in config.items():
            if not hasattr(self, name):
                raise TypeError("unknown setting %r" % name)
            setattr(self, name, value)
        self.requests = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/api/v1" % self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def count(self, method, path):
        with self.lock:
            return sum(1 for m, p, _ in self.requests
                       if m == method and p.split("?")[0] == path)

    def bodies(self, method, path):
        with self.lock:
            return [json.loads(b) for m, p, b in self.requests
                    if m == method and p.split("?")[0] == path]

    def answer(self, method, path, body):
        """(status, content_type, text) for one request."""
        path = path.split("?")[0]
        if method == "GET" and path == PING:
            return self.ping
        if method == "GET" and path == SEQUENCES:
            return self.sequences
        if method == "GET" and path == UNSUBSCRIBED:
            return self.unsubscribed
        if method == "POST" and path == UPSERT:
            status, obj = self.upsert(json.loads(body))
            return as_json(obj, status)
        if method == "POST" and path == ENROLL:
            if not callable(self.enroll):
                return self.enroll
            req = json.loads(body)
            results = self.enroll(req["emails"])
            return as_json({"sequence_slug": req["sequence_slug"],
                            "results": results})
        return as_json({"detail": "Not found."}, 404)

    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode("utf-8") if n else ""
                with api.lock:
                    api.requests.append((self.command, self.path, body))
                status, ctype, text = api.answer(self.command, self.path,
                                                 body)
                data = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _serve
            do_POST = _serve

        return Handler
