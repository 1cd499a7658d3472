"""--trace FILE and -v's line per request (issue 16 item 3).

A JSON line for every time a request went out, libcurl's own re-sends
included, so the trace agrees with the server's request log; never the
key; bodies only with --trace-bodies.
"""
import json
import os
import re
import stat

from conftest import staging_query

KEY = "meisa_test_trace_k"
FIELDS = {"time", "method", "path", "status", "error", "latency_ms",
          "attempt", "send", "sends", "bytes_sent", "bytes_received"}


def write_export(path, n):
    with open(path, "w", encoding="utf-8") as f:
        f.write("email,first_name\n")
        for i in range(n):
            f.write("user%d@example.com,Name%d\n" % (i, i))
    return str(path)


def read_trace(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    assert text.endswith("\n")
    return text, [json.loads(line) for line in text.splitlines()]


def faulty_import(tmp_path, sandbox_factory, bulk, *extra, n=120):
    sb = sandbox_factory("--rate", "none", "--key", KEY, "--sequence",
                         "onboarding=active", "--fail-rate", "0.1",
                         "--drop-rate", "0.2", "--fault-paths", "/contacts/",
                         "--seed", "11")
    db = str(tmp_path / "stage.db")
    trace = str(tmp_path / "trace.jsonl")
    env = {"MEISA_BULK_BACKOFF_MS": "5", "MEISA_BULK_BACKOFF_CAP_MS": "20"}
    r = bulk(["import", write_export(tmp_path / "in.csv", n), "--db", db,
              "--rate", "none", "--concurrency", "2", "--sequence",
              "onboarding", "--trace", trace] + list(extra),
             key=KEY, base_url=sb.url, env=env)
    assert r.returncode == 0, r.stderr
    return sb, db, trace, r


def test_trace_has_a_line_per_request_the_server_saw(tmp_path,
                                                     sandbox_factory, bulk):
    sb, db, trace, _ = faulty_import(tmp_path, sandbox_factory, bulk)
    text, lines = read_trace(trace)
    seen = sb.requests()
    # libcurl's re-sends of dropped requests are lines too.
    assert len(lines) == len(seen)
    assert any(l["sends"] > 1 for l in lines)
    assert sum(1 for l in lines if l["status"] and l["status"] >= 500) == \
        len(sb.requests("fault = 'fail'"))
    for l in lines:
        assert FIELDS <= set(l), l
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",
                            l["time"])
        assert "?" not in l["path"]
        assert (l["status"] is None) == (l["error"] is not None)
        assert "request_body" not in l and "response_body" not in l
    upserts = [l for l in lines if l["path"] == "/contacts/upsert/"]
    ids = {row[0] for row in staging_query(db, "SELECT id FROM contacts")}
    assert {l["contact"] for l in upserts} == ids
    assert all(l["bytes_sent"] > 0 for l in upserts)
    assert any(l["attempt"] > 1 for l in upserts)
    enrolls = [l for l in lines if l["path"].endswith("/bulk-enroll/")]
    assert enrolls and all("chunk" in l for l in enrolls)
    assert KEY not in text
    assert stat.S_IMODE(os.stat(trace).st_mode) == 0o600


def test_trace_bodies_only_with_the_flag_never_the_key(tmp_path,
                                                       sandbox_factory, bulk):
    sb, _, trace, _ = faulty_import(tmp_path, sandbox_factory, bulk,
                                    "--trace-bodies", n=20)
    text, lines = read_trace(trace)
    assert KEY not in text
    answered = [l for l in lines if l["path"] == "/contacts/upsert/"
                and l["status"] == 201]
    assert answered
    for l in answered:
        body = json.loads(l["request_body"])
        assert body["email"].startswith("user")
        assert json.loads(l["response_body"])
    assert len(lines) == len(sb.requests())


def test_trace_appends_and_drops_the_query(tmp_path,
                                                       sandbox_factory, bulk):
    # The search text (here the key itself) stays out of the path.
    sb = sandbox_factory("--rate", "none", "--key", KEY)
    trace = str(tmp_path / "trace.jsonl")
    r = bulk(["sequences", "--search", KEY, "--trace", trace,
              "--trace-bodies"], key=KEY, base_url=sb.url)
    assert r.returncode == 0, r.stderr
    r = bulk(["ping", "--trace", trace], key=KEY, base_url=sb.url)
    assert r.returncode == 0, r.stderr
    text, lines = read_trace(trace)
    assert [l["path"] for l in lines] == ["/sequences/api/list/", "/ping/"]
    assert KEY not in text


def test_trace_bodies_needs_trace(bulk):
    r = bulk(["ping", "--trace-bodies"])
    assert r.returncode == 64
    assert "--trace-bodies needs --trace FILE" in r.stderr


def test_trace_of_a_refused_connection(tmp_path, bulk):
    # Nothing went out: one line per attempt, "send" 0, curl's error.
    trace = str(tmp_path / "trace.jsonl")
    r = bulk(["ping", "--trace", trace],
             env={"MEISA_BULK_GIVE_UP_SECONDS": "1",
                  "MEISA_BULK_BACKOFF_MS": "50"})
    assert r.returncode == 69, r.stderr
    _, lines = read_trace(trace)
    assert len(lines) >= 2
    assert [l["attempt"] for l in lines] == list(range(1, len(lines) + 1))
    for l in lines:
        assert l["status"] is None and l["send"] == 0
        assert l["error"]["curl"] == 7 and l["error"]["text"]


def test_verbose_prints_a_line_per_request(tmp_path, sandbox_factory, bulk):
    _, _, trace, r = faulty_import(tmp_path, sandbox_factory, bulk, "-v",
                                   n=30)
    _, lines = read_trace(trace)
    shown = re.findall(r"^POST /contacts/upsert/ (\d+|error \(.*\)) \d+ms "
                       r"contact (\d+) attempt (\d+)", r.stderr, re.M)
    # One line per answered request: a re-sent one is one line.
    answered = [l for l in lines if l["path"] == "/contacts/upsert/"
                and l["send"] == l["sends"]]
    assert len(shown) == len(answered)
    assert ("201", str(answered[-1]["contact"]),
            str(answered[-1]["attempt"])) in shown
    assert re.search(r"^GET /ping/ 200 \d+ms attempt 1$", r.stderr, re.M)
