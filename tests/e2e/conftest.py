"""Shared fixtures for the end-to-end tests: real binaries, real sandbox.

Binaries come from the directory in the environment variable MB_BUILD (the
Makefile sets it to build/asan for `make check`); the default is <repo>/build.

Fixtures and helpers:

sandbox_factory
    A callable ``start(*args, db=None)`` that starts ``meisa-sandbox`` with
    ``--port 0 --port-file F --db DB`` plus ``args`` and returns a `Sandbox`
    once it listens.  DB is a fresh file in the test's tmp_path unless ``db``
    names one (pass an earlier sandbox's ``db_path`` to restart on its
    state).  Every sandbox still running at teardown is stopped with SIGTERM
    and must exit 0: under ASan a leak or any sanitizer report fails the test.

sandbox
    One default sandbox: ``--rate none --key meisa_test_sandbox --sequence
    onboarding=active``.

run_bulk / bulk
    ``run_bulk(args, env=None, input=None, timeout=120,
    key="meisa_test_sandbox", base_url=None)`` runs ``<MB_BUILD>/meisa-bulk``
    and returns the CompletedProcess (text mode, stdout and stderr captured).
    MEISA_API_KEY is set to ``key`` (removed when key is None); MEISA_BASE_URL
    is ``base_url``, or else, so that no test can ever reach the real API by
    mistake, a closed local port (http://127.0.0.1:9/api/v1).  ``env``
    entries are added last (a value of None removes the variable).  The
    ``bulk`` fixture is the same function.

staging_query / staging_rows
    ``staging_query(db, sql, params=())``: the rows of SQL on a staging file,
    read directly with Python's sqlite3, as tuples; ``staging_rows`` gives
    them as dicts.

ASan: ASAN_OPTIONS defaults to detect_leaks=1 (an existing value is kept).
"""
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import time
import urllib.request

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MB_BUILD = os.environ.get("MB_BUILD") or os.path.join(REPO, "build")
DEFAULT_KEY = "meisa_test_sandbox"
CLOSED_URL = "http://127.0.0.1:9/api/v1"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 30.0


def staging_query(db, sql, params=()):
    """The rows of sql on the staging file db, as tuples."""
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def staging_rows(db, sql, params=()):
    """The rows of sql on the staging file db, as dicts."""
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql, params)]
    finally:
        con.close()


def tool_env(extra=None):
    """os.environ plus ASAN_OPTIONS (unless set) plus extra (None removes)."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    for name, value in (extra or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


class Response:
    """What `Sandbox.http` got back: status, headers (lower-case names),
    body text; ``json()`` parses the body."""

    def __init__(self, status, headers, text):
        self.status = status
        self.headers = headers
        self.text = text

    def json(self):
        return json.loads(self.text)

    def __repr__(self):
        return "<Response %d %s>" % (self.status, self.text[:200])


class Sandbox:
    """A running meisa-sandbox.

    Attributes: ``url`` (base URL including /api/v1), ``port``, ``db_path``,
    ``proc`` (the Popen), ``args`` (the extra arguments it was started with),
    ``stderr_path``.
    """

    def __init__(self, proc, port, db_path, args, stderr_path):
        self.proc = proc
        self.port = port
        self.db_path = db_path
        self.args = args
        self.stderr_path = stderr_path
        self.url = "http://127.0.0.1:%d/api/v1" % port
        self.returncode = None

    @property
    def running(self):
        return self.returncode is None and self.proc.poll() is None

    @property
    def stderr(self):
        """Everything the sandbox wrote on stderr so far."""
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def flush(self):
        """Commit the sandbox's open transaction (GET /_sandbox/flush).

        A no-op once the sandbox has stopped: everything is committed then.
        """
        if not self.running:
            return
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(self.url + "/_sandbox/flush", timeout=10) as r:
            assert r.status == 200, r.read()

    def query(self, sql, params=()):
        """Rows of any SQL on the sandbox db, as dicts, after a flush."""
        self.flush()
        con = sqlite3.connect(self.db_path, timeout=10)
        con.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in con.execute(sql, params)]
        finally:
            con.close()

    def requests(self, where=None, params=()):
        """Rows of the requests table (dicts, ordered by id), after a flush.

        ``where`` is an SQL condition with ``?`` placeholders for ``params``,
        e.g. ``sb.requests("path = ? AND status = 429", (UPSERT,))``.
        """
        sql = "SELECT * FROM requests"
        if where:
            sql += " WHERE " + where
        return self.query(sql + " ORDER BY id", params)

    def http(self, method, path, body=None, key=DEFAULT_KEY, headers=None,
             content_type="application/json", timeout=10):
        """Send one request and return a `Response`.

        ``path`` is relative to /api/v1 ("/ping/") unless it starts with
        "/api/".  ``body`` may be a dict or list (sent as
        JSON), str or bytes (sent as they are), or None.  ``key`` goes in
        X-API-Key (None: no header).  A connection closed without an answer
        raises http.client's or the socket's exception.
        """
        target = path if path.startswith("/api/") else "/api/v1" + path
        hdrs = dict(headers or {})
        if key is not None:
            hdrs.setdefault("X-API-Key", key)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8")
        if body is not None and content_type is not None:
            hdrs.setdefault("Content-Type", content_type)
        con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            con.request(method, target, body=body, headers=hdrs)
            r = con.getresponse()
            text = r.read().decode("utf-8", errors="replace")
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()},
                            text)
        finally:
            con.close()

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait, and assert a clean exit (0).  Idempotent."""
        if self.returncode is None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.returncode = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.returncode = self.proc.wait()
                raise AssertionError("meisa-sandbox did not stop within %ss:\n%s"
                                     % (timeout, self.stderr))
        assert self.returncode == 0, (
            "meisa-sandbox exited %d:\n%s" % (self.returncode, self.stderr))

    def kill(self):
        """SIGKILL (a crash): no exit status is asserted."""
        if self.returncode is None:
            self.proc.kill()
            self.proc.wait()
            self.returncode = 0


def start_sandbox(tmp_path, started, args, db=None):
    """Start one meisa-sandbox; see `sandbox_factory`."""
    n = len(started) + 1
    db_path = str(db) if db is not None else str(tmp_path / ("sandbox-%d.db" % n))
    port_file = tmp_path / ("sandbox-%d.port" % n)
    stderr_path = str(tmp_path / ("sandbox-%d.stderr" % n))
    if port_file.exists():
        port_file.unlink()
    binary = os.path.join(MB_BUILD, "meisa-sandbox")
    cmd = [binary, "--port", "0", "--port-file", str(port_file),
           "--db", db_path] + [str(a) for a in args]
    with open(stderr_path, "ab") as err:
        proc = subprocess.Popen(cmd, env=tool_env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if port_file.exists():
            text = port_file.read_text()
            if text.endswith("\n"):
                break
        if proc.poll() is not None:
            with open(stderr_path, encoding="utf-8", errors="replace") as f:
                raise RuntimeError("meisa-sandbox exited %d before listening:\n%s"
                                   % (proc.returncode, f.read()))
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise RuntimeError("meisa-sandbox did not listen within %ss"
                               % START_TIMEOUT)
        time.sleep(0.01)
    sb = Sandbox(proc, int(text), db_path, list(args), stderr_path)
    started.append(sb)
    return sb


@pytest.fixture
def sandbox_factory(tmp_path):
    """``start(*args, db=None)`` -> a running `Sandbox` (see the module doc)."""
    started = []

    def start(*args, db=None):
        return start_sandbox(tmp_path, started, args, db)

    yield start
    failures = []
    for sb in started:
        try:
            sb.stop()
        except AssertionError as e:
            failures.append(str(e))
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)


@pytest.fixture
def sandbox(sandbox_factory):
    """A default sandbox: --rate none, key meisa_test_sandbox, sequence
    onboarding (active)."""
    return sandbox_factory("--rate", "none", "--key", DEFAULT_KEY,
                           "--sequence", "onboarding=active")


def run_bulk(args, env=None, input=None, timeout=120, key=DEFAULT_KEY,
             base_url=None):
    """Run meisa-bulk; see the module doc.  Returns the CompletedProcess."""
    extra = {"MEISA_API_KEY": key, "MEISA_BASE_URL": base_url or CLOSED_URL}
    extra.update(env or {})
    return subprocess.run([os.path.join(MB_BUILD, "meisa-bulk")] + list(args),
                          env=tool_env(extra), input=input, timeout=timeout,
                          capture_output=True, text=True)


@pytest.fixture
def bulk():
    """The `run_bulk` function."""
    return run_bulk
