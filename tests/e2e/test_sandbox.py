"""End-to-end tests of meisa-sandbox itself: every endpoint, every error
status, rate limits, faults, the request log, restarts, the command line.

The sandbox is what every other end-to-end test trusts to behave like
Meisa (shared/meisa-api.md), so these tests pin its behaviour down.
"""
import concurrent.futures
import http.client
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import DEFAULT_KEY, MB_BUILD, tool_env

SANDBOX = os.path.join(MB_BUILD, "meisa-sandbox")
UPSERT = "/contacts/upsert/"
BULK = "/sequences/api/bulk-enroll/"
ENROLL = "/sequences/enroll/"
UNSUB = "/contacts/api/unsubscribed-emails/"
LIST = "/sequences/api/list/"
ENROLLMENTS = "/sequences/api/contact-enrollments/"
TRACK = "/events/track/"
TRIGGER = "/emails/trigger/"
CONTACT_KEYS = {"id", "email", "external_id", "first_name", "last_name",
                "display_name", "custom_fields", "tags", "source", "status",
                "created_at", "updated_at"}


def upsert(sb, body, key=DEFAULT_KEY):
    return sb.http("POST", UPSERT, body, key=key)


def dropped(sb, method, path, body=None):
    """True when the sandbox closed the connection without any answer."""
    try:
        sb.http(method, path, body)
    except (http.client.HTTPException, ConnectionError):
        return True
    return False


# ---- command line -----------------------------------------------------------

HELP_OPTIONS = ["--port", "--port-file", "--db", "--threads", "--commit-ms",
                "--key", "--sequence", "--unsubscribed", "--trigger", "--rate",
                "--rate-storm", "--no-retry-after", "--fail-rate",
                "--drop-rate", "--lost-ack-rate", "--seed", "--fault-paths",
                "--latency-ms", "--verbose", "--help", "--version",
                DEFAULT_KEY, "/api/v1/_sandbox/flush"]


def test_help_documents_every_option():
    r = subprocess.run([SANDBOX, "--help"], capture_output=True, text=True,
                       env=tool_env(), timeout=30)
    assert r.returncode == 0
    for opt in HELP_OPTIONS:
        assert opt in r.stdout, opt
    assert max(len(line) for line in r.stdout.splitlines()) <= 80


@pytest.mark.parametrize("args,status,words", [
    (["--rate", "5/x"], 64, "--rate"),
    (["--rate", "0/s"], 64, "between 1 and"),
    (["--key", "k=contacts:write,bogus"], 64, "'bogus'"),
    (["--key", "=contacts:read"], 64, "empty key"),
    (["--key", "a", "--key", "a"], 64, "repeats key 1"),
    (["--sequence", "x=stopped"], 64, "'active' or 'paused'"),
    (["--sequence", "bad slug"], 64, "--sequence"),
    (["--fail-rate", "2"], 64, "--fail-rate"),
    (["--fail-rate", "0.6", "--drop-rate", "0.6"], 64, "at most 1"),
    (["--rate-storm", "5"], 64, "--rate-storm"),
    (["--port", "70000"], 64, "--port"),
    (["--latency-ms", "-1"], 64, "--latency-ms"),
    (["--fault-paths", "contacts/"], 64, "starts with '/'"),
    (["--frobnicate"], 64, "--help"),
    (["extra"], 64, "unexpected argument 'extra'"),
    (["--unsubscribed", "/nonexistent/unsub.txt"], 66, "/nonexistent/unsub.txt"),
])
def test_bad_options(args, status, words):
    r = subprocess.run([SANDBOX, "--port", "0"] + args, capture_output=True,
                       text=True, env=tool_env(), timeout=30)
    assert r.returncode == status, r.stderr
    assert words in r.stderr
    assert "listening" not in r.stderr


def test_version_is_meisa_bulks():
    """The sandbox said 0.1 while meisa-bulk said 0.1.0: one version.h."""
    r = subprocess.run([SANDBOX, "--version"], capture_output=True,
                       text=True, env=tool_env(), timeout=30)
    bulk = subprocess.run([os.path.join(MB_BUILD, "meisa-bulk"), "--version"],
                          capture_output=True, text=True, env=tool_env(),
                          timeout=30)
    assert r.returncode == 0 and bulk.returncode == 0
    version = bulk.stdout.splitlines()[0].split()[1]
    assert r.stdout == "meisa-sandbox %s\n" % version


def test_bad_unsubscribed_line_names_file_and_line(tmp_path):
    f = tmp_path / "unsub.txt"
    f.write_text("# list\nok@example.com\n\nnot-an-address\n")
    r = subprocess.run([SANDBOX, "--port", "0", "--unsubscribed", str(f)],
                       capture_output=True, text=True, env=tool_env(),
                       timeout=30)
    assert r.returncode == 64
    assert "unsub.txt':4: 'not-an-address' is not an email address" in r.stderr


def test_starts_fast_and_says_where(tmp_path, sandbox_factory):
    t0 = time.monotonic()
    sb = sandbox_factory()
    assert time.monotonic() - t0 < 2.0  # 200 ms release, ASan is slower
    assert ("meisa-sandbox: listening on http://127.0.0.1:%d/api/v1" % sb.port
            in sb.stderr)
    assert open(tmp_path / "sandbox-1.port").read() == "%d\n" % sb.port


def test_default_key_has_every_scope(sandbox_factory):
    sb = sandbox_factory()  # no --key
    r = sb.http("GET", "/ping/")
    assert r.status == 200
    assert r.json() == {"status": "ok", "environment": "test", "scopes": [
        "contacts:read", "contacts:write", "events:track", "sequences:read",
        "sequences:enroll", "emails:trigger", "tags:write"]}


def test_port_in_use(sandbox_factory):
    sb = sandbox_factory()
    r = subprocess.run([SANDBOX, "--port", str(sb.port)], capture_output=True,
                       text=True, env=tool_env(), timeout=30)
    assert r.returncode == 74
    assert "cannot listen on 127.0.0.1:%d" % sb.port in r.stderr


def test_sigint_commits_and_exits_0(sandbox_factory):
    sb = sandbox_factory("--commit-ms", "60000")  # only the stop commits
    assert upsert(sb, {"email": "late@example.com"}).status == 201
    sb.proc.send_signal(signal.SIGINT)
    assert sb.proc.wait(timeout=30) == 0
    sb.returncode = 0
    assert [r["email"] for r in sb.query("SELECT email FROM contacts")] == [
        "late@example.com"]


def test_answered_writes_visible_without_flush(sandbox):
    import sqlite3
    assert upsert(sandbox, {"email": "soon@example.com"}).status == 201
    deadline = time.monotonic() + 0.5
    while True:
        con = sqlite3.connect(sandbox.db_path)
        n = con.execute("SELECT count(*) FROM contacts").fetchone()[0]
        con.close()
        if n == 1:
            break
        assert time.monotonic() < deadline, "not committed within 500 ms"
        time.sleep(0.01)


def test_restart_keeps_state(sandbox_factory, tmp_path):
    unsub = tmp_path / "u.txt"
    unsub.write_text("gone@example.com\n")
    sb = sandbox_factory("--sequence", "onboarding", "--unsubscribed", str(unsub))
    first = upsert(sb, {"email": "a@example.com", "tag_names": ["t"]}).json()
    assert sb.http("POST", BULK, {"sequence_slug": "onboarding",
                                  "emails": ["a@example.com"]}).status == 200
    sb.stop()
    sb2 = sandbox_factory("--sequence", "onboarding=paused", db=sb.db_path)
    r = upsert(sb2, {"email": "a@example.com"})
    assert r.status == 200 and r.json()["id"] == first["id"]
    assert r.json()["tags"] == first["tags"]
    assert sb2.http("GET", UNSUB).json()["emails"] == ["gone@example.com"]
    seqs = sb2.http("GET", LIST + "?status=all").json()["results"]
    assert seqs == [{"slug": "onboarding", "name": "Onboarding",
                     "status": "paused"}]
    enr = sb2.http("GET", ENROLLMENTS + "?email=a@example.com").json()
    assert enr["enrollments"] == [{"sequence_slug": "onboarding",
                                   "status": "active"}]
    ids = [r["id"] for r in sb2.requests()]
    assert ids == list(range(1, len(ids) + 1)) and len(ids) == 6


# ---- authentication, scopes, routing ----------------------------------------

def test_ping_reports_environment_and_scopes(sandbox_factory):
    sb = sandbox_factory("--key", "meisa_live_abc=contacts:read,contacts:write",
                         "--key", "meisa_test_x=")
    assert sb.http("GET", "/ping/", key="meisa_live_abc").json() == {
        "status": "ok", "environment": "live",
        "scopes": ["contacts:read", "contacts:write"]}
    assert sb.http("GET", "/ping/", key="meisa_test_x").json() == {
        "status": "ok", "environment": "test", "scopes": []}
    labels = [r["key_label"] for r in sb.requests()]
    assert labels == ["key1", "key2"]
    with open(sb.db_path, "rb") as f:
        assert b"meisa_live_abc" not in f.read()


def test_401_missing_or_unknown_key(sandbox):
    r = sandbox.http("GET", "/ping/", key=None)
    assert r.status == 401
    assert r.json() == {"detail": "Authentication credentials were not provided."}
    r = sandbox.http("POST", UPSERT, {"email": "x@example.com"}, key="nope")
    assert r.status == 401 and r.json() == {"detail": "Invalid API key."}
    rows = sandbox.requests()
    assert [(x["status"], x["key_label"]) for x in rows] == [(401, None),
                                                            (401, None)]
    assert sandbox.query("SELECT count(*) AS n FROM contacts")[0]["n"] == 0


ROUTES = [
    ("POST", UPSERT, "contacts:write"),
    ("GET", UNSUB, "contacts:read"),
    ("POST", "/contacts/0190a6f0-0000-7000-8000-000000000000/add_tag/",
     "contacts:write"),
    ("POST", "/contacts/0190a6f0-0000-7000-8000-000000000000/remove_tag/",
     "contacts:write"),
    ("POST", TRACK, "events:track"),
    ("POST", ENROLL, "sequences:enroll"),
    ("POST", BULK, "sequences:enroll"),
    ("GET", LIST, "sequences:read"),
    ("GET", ENROLLMENTS, "sequences:read"),
    ("POST", TRIGGER, "emails:trigger"),
]


def test_403_names_the_missing_scope(sandbox_factory):
    sb = sandbox_factory("--key", "k=tags:write")
    for method, path, scope in ROUTES:
        r = sb.http(method, path, {} if method == "POST" else None, key="k")
        assert r.status == 403, path
        assert r.json() == {"detail": "This key lacks the scope %s." % scope}
    assert sb.http("GET", "/ping/", key="k").status == 200
    assert sb.query("SELECT count(*) AS n FROM contacts")[0]["n"] == 0


def test_each_scope_opens_its_endpoints(sandbox_factory):
    keys = ["k%d=%s" % (i, scope) for i, (_, _, scope) in enumerate(ROUTES)]
    sb = sandbox_factory(*[a for k in keys for a in ("--key", k)])
    for i, (method, path, scope) in enumerate(ROUTES):
        r = sb.http(method, path, {} if method == "POST" else None,
                    key="k%d" % i)
        assert r.status != 403, (path, r)


def test_404_405_and_trailing_slash(sandbox):
    r = sandbox.http("GET", "/nope/")
    assert r.status == 404 and r.json() == {"detail": "Not found."}
    r = sandbox.http("GET", "/ping")
    assert r.status == 404
    assert "try '/api/v1/ping/'" in r.json()["detail"]
    r = sandbox.http("GET", "/other/ping/")
    assert r.status == 404 and r.json()["detail"] == "Not found."
    r = sandbox.http("GET", "/api/v2/ping/")
    assert r.status == 404
    r = sandbox.http("GET", UPSERT)
    assert r.status == 405
    assert r.json() == {"detail": 'Method "GET" not allowed.'}
    assert r.headers["allow"] == "POST"
    r = sandbox.http("DELETE", "/ping/")
    assert r.status == 405 and r.headers["allow"] == "GET, HEAD"
    r = sandbox.http("HEAD", "/ping/")
    assert r.status == 200 and r.text == ""
    assert r.headers["content-type"] == "application/json"
    # 404 comes before authentication, 405 after it (as DRF does it).
    assert sandbox.http("GET", "/nope/", key=None).status == 404
    assert sandbox.http("GET", UPSERT, key=None).status == 401


def test_body_errors_are_json(sandbox):
    r = sandbox.http("POST", UPSERT, '{"email": ', )
    assert r.status == 400 and r.json()["detail"].startswith("JSON parse error")
    r = sandbox.http("POST", UPSERT, "[1, 2]")
    assert r.status == 400
    assert r.json() == {"non_field_errors": [
        "Invalid data. Expected a dictionary, but got list."]}
    r = sandbox.http("POST", UPSERT, '{"email": "a@example.com"}',
                     content_type="text/plain")
    assert r.status == 415
    assert r.json() == {"detail": 'Unsupported media type "text/plain" in request.'}
    r = sandbox.http("POST", UPSERT, '{"email": "a@example.com"}',
                     content_type=None)
    assert r.status == 415
    r = sandbox.http("POST", UPSERT, '{"email": "a@example.com"}',
                     content_type="application/json; charset=utf-8")
    assert r.status == 201
    r = sandbox.http("POST", UPSERT, b'{"email": "\xff@example.com"}')
    assert r.status == 400 and "UTF-8" in r.json()["detail"]
    r = sandbox.http("POST", UPSERT, '{"email": "a@example.com", '
                                     '"first_name": "\\ud800"}')
    assert r.status == 400 and "surrogate" in r.json()["detail"]
    r = sandbox.http("POST", BULK, '{"sequence_slug": "onboarding", '
                                   '"emails": ["a@\\udfff.com", "\\ud83d@x.com"]}')
    assert [x["status"] for x in r.json()["results"]] == ["invalid_email"] * 2
    r = sandbox.http("POST", UPSERT, '{"email": "b@example.com", '
                                     '"first_name": "\\ud83d\\ude00"}')
    assert r.status == 201 and r.json()["first_name"] == "\U0001F600"
    r = sandbox.http("POST", UPSERT, "")
    assert r.status == 400
    assert r.json() == {"email": ["This field is required."]}
    rows = sandbox.requests()
    assert rows[-5]["body"] == b'{"email": "\xff@example.com"}'
    assert rows[-1]["body"] is None and rows[-1]["body_size"] == 0


def test_413_over_one_mebibyte(sandbox):
    big = '{"email": "a@example.com", "first_name": "%s"}' % ("x" * (1 << 20))
    r = sandbox.http("POST", UPSERT, big)
    assert r.status == 413 and "1048576" in r.json()["detail"]
    # Without Content-Length (chunked), the body is read then refused.
    con = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=30)
    con.putrequest("POST", "/api/v1" + UPSERT)
    con.putheader("X-API-Key", DEFAULT_KEY)
    con.putheader("Content-Type", "application/json")
    con.putheader("Transfer-Encoding", "chunked")
    con.endheaders()
    chunk = b"x" * 65536
    for _ in range(20):
        con.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    con.send(b"0\r\n\r\n")
    r = con.getresponse()
    assert r.status == 413
    con.close()
    # A client that waits for "100 Continue" is refused before it sends.
    s = socket.create_connection(("127.0.0.1", sandbox.port), timeout=10)
    s.sendall(b"POST /api/v1/contacts/upsert/ HTTP/1.1\r\nHost: x\r\n"
              b"X-API-Key: " + DEFAULT_KEY.encode() + b"\r\n"
              b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
              b"Content-Length: 5000000\r\n\r\n")
    answer = s.recv(4096)
    s.close()
    assert answer.startswith(b"HTTP/1.1 413 ")
    rows = sandbox.requests()
    assert [x["status"] for x in rows] == [413, 413, 413]
    assert rows[0]["body"] is None and rows[0]["body_size"] == len(big)
    assert rows[1]["body_size"] == 20 * 65536
    assert rows[2]["body_size"] == 5000000
    # Exactly 1 MiB is accepted.
    body = '{"email": "b@example.com", "x": "%s"}' % "y"
    body = body.replace('"y"', '"' + "y" * ((1 << 20) - len(body) + 1) + '"')
    assert len(body.encode()) == 1 << 20
    assert sandbox.http("POST", UPSERT, body).status == 201


def test_garbage_never_kills_it(sandbox):
    for junk in (b"\x00\x01\x02 garbage\r\n\r\n", b"GET\r\n\r\n",
                 b"POST /api/v1/contacts/upsert/ HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Length: 100\r\n\r\n{\"ema",
                 b"GET /api/v1/ping/ HTTP/1.1\r\nno colon\r\n\r\n",
                 b"GET /api/v1/ping/?a=1 HTTP/1.1\r\n",
                 b"GET /api/v1/ping/ HTTP/9.9\r\nHost: x\r\n\r\n",
                 b"GET /api/v1/ping/ HTTP/1.1\r\nHost: x\r\nX-Big: "
                 + b"a" * 70000 + b"\r\n\r\n"):
        s = socket.create_connection(("127.0.0.1", sandbox.port))
        s.settimeout(10)
        try:
            # The server may answer and close before it has read all of
            # the junk (the 70 kB header): then sendall meets a reset.
            s.sendall(junk)
            s.shutdown(socket.SHUT_WR)
            s.recv(4096)
        except OSError:
            pass
        s.close()
    assert sandbox.http("GET", "/ping/").status == 200
    # Bytes that are not UTF-8 in the path or query are logged readable.
    s = socket.create_connection(("127.0.0.1", sandbox.port), timeout=10)
    s.sendall(b"GET /api/v1/p%FFing/?q=\xff%FE HTTP/1.1\r\nHost: x\r\n\r\n")
    assert s.recv(4096).startswith(b"HTTP/1.1 404 ")
    s.close()
    r = sandbox.http("GET", LIST + "?status=%FF")
    assert r.status == 400
    assert r.json() == {"status": ['"\ufffd" is not a valid choice.']}
    r = sandbox.http("POST", UPSERT, "{}", content_type="text/\xe9")
    assert r.status == 415 and "\ufffd" in r.json()["detail"]
    row = sandbox.requests("status = 404")[-1]
    assert row["path"] == "/api/v1/p\ufffding/"
    assert row["query"] == "q=\ufffd%FE"


# ---- upsert -----------------------------------------------------------------

def test_upsert_create_then_update(sandbox):
    r = upsert(sandbox, {"email": " Ann@Example.COM ", "external_id": "u1",
                         "first_name": "Ann", "source": "import",
                         "custom_fields": {"plan": "pro", "seats": 3},
                         "tag_names": ["vip", "beta"]})
    assert r.status == 201
    c = r.json()
    assert set(c) == CONTACT_KEYS
    assert c["email"] == "ann@example.com" and c["external_id"] == "u1"
    assert c["source"] == "import" and c["status"] == "active"
    assert c["custom_fields"] == {"plan": "pro", "seats": 3}
    assert sorted(t["name"] for t in c["tags"]) == ["beta", "vip"]
    assert all(len(t["id"]) == 36 for t in c["tags"])
    assert len(c["id"]) == 36 and c["id"][14] in "47"
    assert c["created_at"].endswith("Z") and c["last_name"] is None

    time.sleep(0.01)
    r = upsert(sandbox, {"email": "ann@example.com", "last_name": "Lee",
                         "source": "api", "custom_fields": {"seats": 5,
                                                            "trial": True},
                         "tag_names": ["new"]})
    assert r.status == 200
    u = r.json()
    assert u["id"] == c["id"]
    assert u["first_name"] == "Ann" and u["last_name"] == "Lee"
    assert u["source"] == "import"  # kept from creation
    assert u["custom_fields"] == {"plan": "pro", "seats": 5, "trial": True}
    assert sorted(t["name"] for t in u["tags"]) == ["beta", "new", "vip"]
    assert u["created_at"] == c["created_at"]
    assert u["updated_at"] > c["updated_at"]

    # Tags are only ever added; an upsert without them removes none.
    r = upsert(sandbox, {"email": "ann@example.com", "tag_names": []})
    assert len(r.json()["tags"]) == 3
    # A status field is ignored: upsert cannot unsubscribe anyone.
    r = upsert(sandbox, {"email": "ann@example.com", "status": "unsubscribed"})
    assert r.json()["status"] == "active"
    # null removes a custom field (JSON merge patch).
    r = upsert(sandbox, {"email": "ann@example.com",
                         "custom_fields": {"trial": None}})
    assert r.json()["custom_fields"] == {"plan": "pro", "seats": 5}


def test_upsert_matches_external_id_first_and_rekeys(sandbox):
    a = upsert(sandbox, {"email": "old@example.com", "external_id": "42"}).json()
    r = upsert(sandbox, {"email": "new@example.com", "external_id": "42"})
    assert r.status == 200
    assert r.json()["id"] == a["id"] and r.json()["email"] == "new@example.com"
    emails = [x["email"] for x in sandbox.query("SELECT email FROM contacts")]
    assert emails == ["new@example.com"]
    # Re-keying onto an address another contact holds is refused.
    upsert(sandbox, {"email": "other@example.com"})
    r = upsert(sandbox, {"email": "other@example.com", "external_id": "42"})
    assert r.status == 400
    assert r.json() == {"email": ["A contact with this email already exists."]}
    # Matched by email, an upsert with an unknown external_id sets it.
    r = upsert(sandbox, {"email": "other@example.com", "external_id": "43"})
    assert r.status == 200 and r.json()["external_id"] == "43"
    # Numbers are accepted as strings, as DRF's CharField does.
    r = upsert(sandbox, {"email": "num@example.com", "external_id": 77})
    assert r.status == 201 and r.json()["external_id"] == "77"


def test_unchanged_resend_fires_nothing(sandbox):
    body = {"email": "same@example.com", "first_name": "S",
            "custom_fields": {"a": 1}, "tag_names": ["t"]}
    c = upsert(sandbox, body).json()
    r = upsert(sandbox, body)
    assert r.status == 200 and r.json()["updated_at"] == c["updated_at"]
    kinds = [x["kind"] for x in sandbox.query(
        "SELECT kind FROM automations ORDER BY id")]
    assert kinds == ["contact_created", "tag_added"]
    upsert(sandbox, {"email": "same@example.com", "first_name": "T",
                     "tag_names": ["t", "u"]})
    kinds = [(x["kind"], x["detail"]) for x in sandbox.query(
        "SELECT kind, detail FROM automations ORDER BY id")]
    assert kinds[2:] == [("contact_updated", None), ("tag_added", "u")]


@pytest.mark.parametrize("body,errors", [
    ({}, {"email": ["This field is required."]}),
    ({"email": None}, {"email": ["This field may not be null."]}),
    ({"email": ""}, {"email": ["This field may not be blank."]}),
    ({"email": "no-at-sign"}, {"email": ["Enter a valid email address."]}),
    ({"email": "a@b"}, {"email": ["Enter a valid email address."]}),
    ({"email": "a b@example.com"}, {"email": ["Enter a valid email address."]}),
    ({"email": ["a@example.com"]}, {"email": ["Not a valid string."]}),
    ({"email": "a" * 250 + "@x.com"},
     {"email": ["Ensure this field has no more than 254 characters."]}),
    ({"email": "a@example.com", "external_id": " "},
     {"external_id": ["This field may not be blank."]}),
    ({"email": "a@example.com", "first_name": {"x": 1}},
     {"first_name": ["Not a valid string."]}),
    ({"email": "a@example.com", "last_name": "x" * 256},
     {"last_name": ["Ensure this field has no more than 255 characters."]}),
    ({"email": "a@example.com", "display_name": "a\u0000b"},
     {"non_field_errors": ["Null characters are not allowed."]}),
    ({"email": "a@example.com", "source": "csv"},
     {"source": ['"csv" is not a valid choice.']}),
    ({"email": "a@example.com", "custom_fields": [1]},
     {"custom_fields": ['Expected a dictionary of items but got type "list".']}),
    ({"email": "a@example.com", "custom_fields": {"a": {"b": 1}}},
     {"custom_fields": ["Values must be strings, numbers, booleans or null."]}),
    ({"email": "a@example.com", "tag_names": "vip"},
     {"tag_names": ['Expected a list of items but got type "str".']}),
    ({"email": "a@example.com", "tag_names": ["ok", 3]},
     {"tag_names": ["Each tag name must be a non-empty string of at most 100 "
                    "characters."]}),
    ({"email": "bad", "source": "x"},
     {"email": ["Enter a valid email address."],
      "source": ['"x" is not a valid choice.']}),
])
def test_upsert_validation(sandbox, body, errors):
    r = upsert(sandbox, body)
    assert r.status == 400
    assert r.json() == errors
    assert sandbox.query("SELECT count(*) AS n FROM contacts")[0]["n"] == 0


@pytest.mark.parametrize("email", [
    "simple@example.com", "a.b+tag@sub.example.co.uk", "x@localhost",
    "o'hara@example.ie", "u@[192.168.0.1]", '"quoted name"@example.com',
    "user@xn--bcher-kva.example", "jörg@bücher.de"[0:0] + "j@bücher.de",
    "a@b.c-d",
])
def test_upsert_accepts_what_django_accepts(sandbox, email):
    assert upsert(sandbox, {"email": email}).status == 201


def test_upsert_of_unsubscribed_address(sandbox_factory, tmp_path):
    f = tmp_path / "u.txt"
    f.write_text("Gone@Example.com\n")
    sb = sandbox_factory("--unsubscribed", str(f))
    r = upsert(sb, {"email": "gone@example.com"})
    assert r.status == 201 and r.json()["status"] == "unsubscribed"
    body = sb.http("GET", UNSUB).json()
    assert set(body) == {"as_of", "count", "emails"}
    assert body["count"] == 1 and body["emails"] == ["gone@example.com"]
    assert body["as_of"].endswith("Z")


# ---- tags, events -----------------------------------------------------------

def test_add_and_remove_tag(sandbox):
    c = upsert(sandbox, {"email": "t@example.com", "tag_names": ["a"]}).json()
    base = "/contacts/%s/" % c["id"]
    r = sandbox.http("POST", base + "add_tag/", {"tag_name": "b"})
    assert r.status == 200 and set(r.json()) == CONTACT_KEYS
    tags = {t["name"]: t["id"] for t in r.json()["tags"]}
    assert set(tags) == {"a", "b"}
    r = sandbox.http("POST", base + "remove_tag/", {"tag_id": tags["a"]})
    assert r.status == 200 and [t["name"] for t in r.json()["tags"]] == ["b"]
    r = sandbox.http("POST", base + "remove_tag/", {"tag_name": "zzz"})
    assert r.status == 200
    r = sandbox.http("POST", base + "add_tag/", {})
    assert r.status == 400
    assert r.json() == {"non_field_errors": ["Provide tag_name or tag_id."]}
    r = sandbox.http("POST", base + "add_tag/", {"tag_id": "nope"})
    assert r.status == 404 and r.json() == {"detail": "Tag not found."}
    r = sandbox.http("POST", "/contacts/nope/add_tag/", {"tag_name": "b"})
    assert r.status == 404 and r.json() == {"detail": "Not found."}
    rows = sandbox.requests("path LIKE '%_tag/'")
    assert json.loads(rows[0]["emails"]) == ["t@example.com"]


def test_track_event(sandbox):
    c = upsert(sandbox, {"email": "e@example.com", "external_id": "x1"}).json()
    r = sandbox.http("POST", TRACK, {"event_name": "login", "external_id": "x1",
                                     "properties": {"ip": "1.2.3.4"}})
    assert r.status == 200
    body = r.json()
    assert set(body) == {"status", "contact_id", "event_name", "timestamp"}
    assert body["status"] == "tracked" and body["contact_id"] == c["id"]
    assert body["event_name"] == "login"
    r = sandbox.http("POST", TRACK, {"event_name": "x", "email": "E@example.com"})
    assert r.status == 200 and r.json()["contact_id"] == c["id"]
    r = sandbox.http("POST", TRACK, {"event_name": "x",
                                     "email": "nobody@example.com"})
    assert r.status == 404 and "Upsert the contact first" in r.json()["detail"]
    r = sandbox.http("POST", TRACK, {"event_name": "x"})
    assert r.status == 400
    assert r.json() == {"non_field_errors": ["Provide email or external_id."]}
    r = sandbox.http("POST", TRACK, {"email": "e@example.com", "properties": 1})
    assert r.json() == {"event_name": ["This field is required."],
                        "properties": ['Expected a dictionary of items but got '
                                       'type "int".']}
    r = sandbox.http("POST", TRACK, {"event_name": "x", "external_id": "x1",
                                     "email": "nobody@example.com"})
    assert r.status == 200 and r.json()["contact_id"] == c["id"]
    logged = [x["emails"] for x in sandbox.requests("path LIKE '%track/'")]
    assert logged[:3] == ['["e@example.com"]', '["E@example.com"]',
                          '["nobody@example.com"]']
    events = sandbox.query("SELECT event_name, properties FROM events ORDER BY id")
    assert events == [{"event_name": "login", "properties": '{"ip":"1.2.3.4"}'},
                      {"event_name": "x", "properties": "{}"},
                      {"event_name": "x", "properties": "{}"}]


# ---- sequences and enrollment ------------------------------------------------

def test_sequence_list(sandbox_factory):
    sb = sandbox_factory("--sequence", "onboarding", "--sequence",
                         "win-back=paused", "--sequence", "spring_sale=active")
    r = sb.http("GET", LIST)
    assert r.json() == {"count": 2, "results": [
        {"slug": "onboarding", "name": "Onboarding", "status": "active"},
        {"slug": "spring_sale", "name": "Spring sale", "status": "active"}]}
    assert sb.http("GET", LIST + "?status=all").json()["count"] == 3
    assert [s["slug"] for s in sb.http("GET", LIST + "?status=paused").json()[
        "results"]] == ["win-back"]
    r = sb.http("GET", LIST + "?status=all&search=BACK")
    assert [s["slug"] for s in r.json()["results"]] == ["win-back"]
    r = sb.http("GET", LIST + "?search=sale")
    assert [s["slug"] for s in r.json()["results"]] == ["spring_sale"]
    r = sb.http("GET", LIST + "?status=bogus")
    assert r.status == 400 and r.json() == {"status": ['"bogus" is not a valid choice.']}
    assert sb.requests()[1]["query"] == "status=all"
    assert sb.requests()[1]["path"] == "/api/v1" + LIST


def test_single_enroll(sandbox_factory, tmp_path):
    f = tmp_path / "u.txt"
    f.write_text("gone@example.com\n")
    sb = sandbox_factory("--sequence", "onboarding", "--sequence",
                         "later=paused", "--unsubscribed", str(f))
    r = sb.http("POST", ENROLL, {"email": "New@example.com",
                                 "sequence_slug": "onboarding",
                                 "metadata": {"from": "test"}})
    assert r.status == 201
    assert r.json()["status"] == "enrolled"
    assert r.json()["email"] == "new@example.com"
    assert [c["email"] for c in sb.query("SELECT email FROM contacts")] == [
        "new@example.com"]
    r = sb.http("POST", ENROLL, {"email": "new@example.com",
                                 "sequence_slug": "onboarding"})
    assert r.status == 400 and "already enrolled" in r.json()["non_field_errors"][0]
    r = sb.http("POST", ENROLL, {"email": "x@example.com", "sequence_slug": "later"})
    assert r.status == 400
    assert r.json() == {"sequence_slug": ['Sequence "later" is not active.']}
    r = sb.http("POST", ENROLL, {"email": "x@example.com", "sequence_slug": "nope"})
    assert r.status == 404 and r.json() == {"detail": "Sequence not found."}
    r = sb.http("POST", ENROLL, {"email": "gone@example.com",
                                 "sequence_slug": "onboarding"})
    assert r.status == 422 and r.json() == {"detail": "Contact is unsubscribed."}
    r = sb.http("POST", ENROLL, {"email": "gone@example.com",
                                 "sequence_slug": "onboarding",
                                 "override_unsubscribe": True})
    assert r.status == 201
    r = sb.http("POST", ENROLL, {"sequence_slug": "onboarding",
                                 "override_unsubscribe": "maybe"})
    assert r.json() == {"email": ["This field is required."],
                        "override_unsubscribe": ["Must be a valid boolean."]}
    rows = sb.query("SELECT email, trigger_source, metadata FROM enrollments"
                    " ORDER BY email")
    assert rows == [
        {"email": "gone@example.com", "trigger_source": "api", "metadata": None},
        {"email": "new@example.com", "trigger_source": "api",
         "metadata": '{"from":"test"}'}]


def test_bulk_enroll_outcomes(sandbox_factory, tmp_path):
    f = tmp_path / "u.txt"
    f.write_text("gone@example.com\n")
    sb = sandbox_factory("--sequence", "onboarding", "--unsubscribed", str(f))
    upsert(sb, {"email": "known@example.com"})
    emails = ["known@example.com", "fresh@example.com", "gone@example.com",
              "not-an-email", 17, "FRESH@example.com"]
    r = sb.http("POST", BULK, {"sequence_slug": "onboarding", "emails": emails})
    assert r.status == 200
    assert r.json() == {"sequence_slug": "onboarding", "enrolled": 2,
                        "skipped": 4, "results": [
        {"email": "known@example.com", "status": "enrolled"},
        {"email": "fresh@example.com", "status": "enrolled"},
        {"email": "gone@example.com", "status": "suppressed"},
        {"email": "not-an-email", "status": "invalid_email"},
        {"email": "17", "status": "invalid_email"},
        {"email": "FRESH@example.com", "status": "already_enrolled"}]}
    # The contact is created when absent; a re-sent chunk changes nothing.
    made = {c["email"] for c in sb.query("SELECT email FROM contacts")}
    assert made == {"known@example.com", "fresh@example.com"}
    r = sb.http("POST", BULK, {"sequence_slug": "onboarding",
                               "emails": emails[:3]})
    assert [x["status"] for x in r.json()["results"]] == [
        "already_enrolled", "already_enrolled", "suppressed"]
    r = sb.http("POST", BULK, {"sequence_slug": "onboarding",
                               "emails": ["gone@example.com"],
                               "override_unsubscribe": True})
    assert r.json()["results"] == [{"email": "gone@example.com",
                                    "status": "enrolled"}]
    log = sb.requests("path = ?", ("/api/v1" + BULK,))
    assert json.loads(log[0]["emails"]) == emails
    assert len(sb.query("SELECT * FROM enrollments")) == 3


def test_bulk_enroll_refusals(sandbox_factory):
    sb = sandbox_factory("--sequence", "onboarding", "--sequence", "p=paused")
    many = ["u%d@example.com" % i for i in range(501)]
    r = sb.http("POST", BULK, {"sequence_slug": "onboarding", "emails": many})
    assert r.status == 400
    assert r.json() == {"emails": ["Ensure this field has no more than 500 elements."]}
    r = sb.http("POST", BULK, {"sequence_slug": "onboarding", "emails": many[:500]})
    assert r.status == 200 and r.json()["enrolled"] == 500
    r = sb.http("POST", BULK, {"sequence_slug": "nope", "emails": ["a@example.com"]})
    assert r.status == 400
    assert r.json() == {"sequence_slug": ['Sequence "nope" does not exist.']}
    r = sb.http("POST", BULK, {"sequence_slug": "p", "emails": ["a@example.com"]})
    assert r.json() == {"sequence_slug": ['Sequence "p" is not active.']}
    r = sb.http("POST", BULK, {"sequence_slug": "onboarding", "emails": []})
    assert r.json() == {"emails": ["This list may not be empty."]}
    r = sb.http("POST", BULK, {"emails": "a@example.com"})
    assert r.json() == {"sequence_slug": ["This field is required."],
                        "emails": ['Expected a list of items but got type "str".']}


def test_contact_enrollments(sandbox):
    sandbox.http("POST", BULK, {"sequence_slug": "onboarding",
                                "emails": ["a+x@example.com"]})
    r = sandbox.http("GET", ENROLLMENTS + "?email=A%2Bx%40example.com")
    assert r.status == 200
    assert r.json() == {"email": "a+x@example.com", "enrollments": [
        {"sequence_slug": "onboarding", "status": "active"}]}
    r = sandbox.http("GET", ENROLLMENTS + "?email=none@example.com")
    assert r.json() == {"email": "none@example.com", "enrollments": []}
    r = sandbox.http("GET", ENROLLMENTS)
    assert r.status == 400 and r.json() == {"email": ["This field is required."]}
    r = sandbox.http("GET", ENROLLMENTS + "?email=bad")
    assert r.json() == {"email": ["Enter a valid email address."]}


def test_email_trigger(sandbox_factory, tmp_path):
    f = tmp_path / "u.txt"
    f.write_text("gone@example.com\n")
    sb = sandbox_factory("--trigger", "welcome", "--unsubscribed", str(f))
    r = sb.http("POST", TRIGGER, {"trigger_key": "welcome",
                                  "to_email": "a@example.com",
                                  "variables": {"name": "A"},
                                  "idempotency_key": "k1"})
    assert r.status == 200 and r.json()["status"] == "sent"
    first = r.json()["message_id"]
    r = sb.http("POST", TRIGGER, {"trigger_key": "welcome",
                                  "to_email": "a@example.com",
                                  "idempotency_key": "k1"})
    assert r.status == 200 and r.json()["status"] == "skipped"
    assert r.json()["message_id"] == first
    r = sb.http("POST", TRIGGER, {"trigger_key": "welcome",
                                  "to_email": "a@example.com",
                                  "send_at": "2030-01-01T00:00:00Z"})
    assert r.status == 202 and r.json()["status"] == "scheduled"
    r = sb.http("POST", TRIGGER, {"trigger_key": "welcome",
                                  "to_email": "gone@example.com"})
    assert r.status == 422 and r.json() == {"detail": "Recipient is unsubscribed."}
    r = sb.http("POST", TRIGGER, {"trigger_key": "nope",
                                  "to_email": "a@example.com"})
    assert r.status == 400
    assert r.json() == {"trigger_key": ['Unknown trigger "nope".']}
    sent = sb.query("SELECT status FROM sent_emails ORDER BY ts")
    assert [s["status"] for s in sent] == ["sent", "scheduled"]


# ---- the request log ---------------------------------------------------------

def test_request_log_records_every_request(sandbox_factory):
    sb = sandbox_factory("--key", "first", "--key", "second",
                         "--sequence", "onboarding")
    body = {"email": "Log@Example.com", "first_name": "L"}
    upsert(sb, body, key="second")
    sb.http("GET", LIST + "?status=all&search=on%20b", key="first")
    sb.http("POST", BULK, {"sequence_slug": "onboarding",
                           "emails": ["a@example.com", "b@example.com"]},
            key="first")
    sb.http("GET", "/nope/", key=None)
    sb.flush()
    sb.flush()
    t_end = time.time()
    rows = sb.requests()
    assert len(rows) == 4  # the flushes are not logged
    assert set(rows[0]) >= {"id", "ts", "method", "path", "query", "key_label",
                            "status", "body_size", "fault", "emails", "body"}
    r = rows[0]
    assert (r["method"], r["path"], r["key_label"], r["status"]) == (
        "POST", "/api/v1/contacts/upsert/", "key2", 201)
    assert json.loads(r["emails"]) == ["Log@Example.com"]
    assert r["body"] == json.dumps(body) and r["body_size"] == len(json.dumps(body))
    assert r["fault"] is None and r["query"] is None
    assert abs(r["ts"] - t_end) < 30 and r["ts"] == round(r["ts"], 3)
    assert rows[1]["query"] == "status=all&search=on%20b"
    assert rows[1]["emails"] is None and rows[1]["body"] is None
    assert json.loads(rows[2]["emails"]) == ["a@example.com", "b@example.com"]
    assert (rows[3]["status"], rows[3]["key_label"]) == (404, None)
    assert [r["ts"] for r in rows] == sorted(r["ts"] for r in rows)


# ---- rate limits -------------------------------------------------------------

def burst(sb, n, key=DEFAULT_KEY):
    return [sb.http("GET", "/ping/", key=key) for _ in range(n)]


def test_rate_limit_burst_then_window_frees(sandbox_factory):
    sb = sandbox_factory("--rate", "5/s,8/m", "--key", "a", "--key", "b")
    answers = burst(sb, 7, key="a")
    assert [r.status for r in answers] == [200] * 5 + [429] * 2
    r = answers[5]
    assert r.json()["detail"].startswith("Request was throttled.")
    retry = int(r.headers["retry-after"])
    assert 1 <= retry <= 1
    # Another key has its own windows.
    assert sb.http("GET", "/ping/", key="b").status == 200
    time.sleep(retry + 0.05)
    # The second window is free again, and refused requests did not count:
    # 3 more fit under 8/m, then the minute window refuses with a long wait.
    assert [r.status for r in burst(sb, 4, key="a")] == [200, 200, 200, 429]
    r = sb.http("GET", "/ping/", key="a")
    assert r.status == 429 and 50 <= int(r.headers["retry-after"]) <= 60
    log = sb.requests("key_label = 'key1'")
    assert [x["fault"] for x in log].count("rate_limited") == 4
    assert all(x["status"] == 429 for x in log if x["fault"])


def test_rate_limit_without_retry_after(sandbox_factory):
    sb = sandbox_factory("--rate", "2/s", "--no-retry-after")
    answers = burst(sb, 3)
    assert answers[2].status == 429
    assert "retry-after" not in answers[2].headers


def test_default_rate_is_meisas(sandbox_factory):
    sb = sandbox_factory()
    answers = burst(sb, 61)
    assert [r.status for r in answers].count(200) == 60
    assert answers[60].status == 429
    assert 55 <= int(answers[60].headers["retry-after"]) <= 60


def test_rate_storm(sandbox_factory):
    sb = sandbox_factory("--rate", "none", "--rate-storm", "0:1.5")
    r = sb.http("GET", "/ping/")
    assert r.status == 429 and 1 <= int(r.headers["retry-after"]) <= 2
    assert upsert(sb, {"email": "s@example.com"}).status == 429
    time.sleep(1.6)
    assert sb.http("GET", "/ping/").status == 200
    assert upsert(sb, {"email": "s@example.com"}).status == 201
    assert [x["fault"] for x in sb.requests()] == ["rate_limited"] * 2 + [None] * 2


# ---- faults -----------------------------------------------------------------

def test_fail_rate_within_tolerance(sandbox_factory):
    sb = sandbox_factory("--rate", "none", "--fail-rate", "0.2", "--seed", "1")
    statuses = [sb.http("GET", "/ping/").status for _ in range(300)]
    fails = [s for s in statuses if s != 200]
    assert 35 <= len(fails) <= 85  # 60 expected; binomial sd 6.9
    assert set(fails) == {500, 502, 503}
    rows = sb.requests("fault = 'fail'")
    assert len(rows) == len(fails)
    assert "seed 1" in sb.stderr


def test_fail_answers_look_like_a_proxy(sandbox_factory):
    sb = sandbox_factory("--rate", "none", "--fail-rate", "1")
    seen = {}
    for _ in range(30):
        r = upsert(sb, {"email": "f@example.com"})
        seen[r.status] = r
    assert set(seen) == {500, 502, 503}
    assert "<title>502 Bad Gateway</title>" in seen[502].text
    assert seen[502].headers["content-type"] == "text/html"
    assert seen[500].json() == {"detail": "A server error occurred."}
    assert "detail" in seen[503].json()
    # Failed before processing: nothing was written.
    assert sb.query("SELECT count(*) AS n FROM contacts")[0]["n"] == 0


def test_drop_rate_closes_without_applying(sandbox_factory):
    sb = sandbox_factory("--rate", "none", "--drop-rate", "0.3", "--seed", "2")
    results = [dropped(sb, "POST", UPSERT, {"email": "d%d@example.com" % i})
               for i in range(100)]
    assert 15 <= sum(results) <= 45
    rows = sb.requests()
    assert [r["fault"] == "drop" for r in rows] == results
    assert all(r["status"] == 0 for r in rows if r["fault"] == "drop")
    made = {c["email"] for c in sb.query("SELECT email FROM contacts")}
    assert made == {"d%d@example.com" % i for i in range(100) if not results[i]}


def test_lost_ack_applies_then_closes(sandbox_factory):
    sb = sandbox_factory("--rate", "none", "--lost-ack-rate", "0.3", "--seed", "3")
    results = [dropped(sb, "POST", UPSERT, {"email": "l%d@example.com" % i})
               for i in range(100)]
    assert 15 <= sum(results) <= 45
    rows = sb.requests()
    assert [r["fault"] == "lost_ack" for r in rows] == results
    assert all((r["status"], r["app_status"]) == (0, 201)
               for r in rows if r["fault"])
    made = {c["email"] for c in sb.query("SELECT email FROM contacts")}
    assert len(made) == 100  # every write applied, answered or not


def test_seed_makes_faults_reproducible(sandbox_factory):
    runs = []
    for _ in range(2):
        sb = sandbox_factory("--rate", "none", "--fail-rate", "0.2",
                             "--drop-rate", "0.1", "--lost-ack-rate", "0.1",
                             "--seed", "12345")
        for i in range(60):
            dropped(sb, "GET", "/ping/")
        runs.append([(r["fault"], r["status"]) for r in sb.requests()])
        sb.stop()
    assert runs[0] == runs[1]
    assert {f for f, _ in runs[0]} == {None, "fail", "drop", "lost_ack"}


def test_fault_paths_limit_faults(sandbox_factory):
    sb = sandbox_factory("--rate", "none", "--fail-rate", "1",
                         "--fault-paths", "/api/v1/contacts/")
    assert sb.http("GET", "/ping/").status == 200
    assert sb.http("GET", LIST).status == 200
    assert upsert(sb, {"email": "x@example.com"}).status in (500, 502, 503)


def test_latency_delays_without_serialising(sandbox_factory):
    sb = sandbox_factory("--rate", "none", "--latency-ms", "300")
    t0 = time.monotonic()
    assert sb.http("GET", "/ping/").status == 200
    assert time.monotonic() - t0 >= 0.3
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(
            lambda i: upsert(sb, {"email": "p%d@example.com" % i}).status,
            range(8)))
    elapsed = time.monotonic() - t0
    assert statuses == [201] * 8
    assert 0.3 <= elapsed < 1.5, elapsed  # 8 x 300 ms would be 2.4 s


def test_latency_with_drops_and_stop(sandbox_factory):
    sb = sandbox_factory("--rate", "none", "--latency-ms", "100",
                         "--drop-rate", "0.5", "--seed", "9")
    results = [dropped(sb, "GET", "/ping/") for _ in range(10)]
    assert any(results) and not all(results)
    # Stopping with answers still waiting must be clean (no hang, exit 0).
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(dropped, sb, "GET", "/ping/") for _ in range(4)]
        time.sleep(0.03)
        sb.stop()
        for f in futures:
            f.result()


def test_concurrent_clients(sandbox):
    def work(t):
        for i in range(40):
            r = upsert(sandbox, {"email": "c%d-%d@example.com" % (t, i % 20),
                                 "tag_names": ["t%d" % (i % 3)]})
            assert r.status in (200, 201), r
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    assert sandbox.query("SELECT count(*) AS n FROM contacts")[0]["n"] == 160
    assert len(sandbox.requests()) == 320
