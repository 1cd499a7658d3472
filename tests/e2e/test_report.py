"""meisa-bulk report (issue 17): one self-contained HTML page, rendered in
headless Chromium.

The reports are built from real runs against the sandbox (rejects, a
permanent failure, transient faults, Meisa's unsubscribed list, several
runs), from an empty staging file and from an older schema.  In the
browser: the rendered page carries the numbers of status --json, nothing
leaves the page (every request would reach a recording proxy), and the
screenshot is not blank.
"""
import json
import os
import re
import sqlite3

import pytest

from conftest import REPO, run_bulk
from report_browser import Browser, png_colours

KEY = "meisa_test_sandbox"
COUNT = re.compile(r'data-count="(\w+)">(-?[\d,]+)<')
STATUS_COUNTS = ("rows_read", "rejected", "duplicates", "contacts",
                 "suppressed", "skipped", "upserted", "failed", "pending",
                 "enrolled", "requests", "unconfirmed", "meisa_unsubscribed",
                 "chunks", "chunks_acknowledged", "generation", "unchanged",
                 "missing", "cleared_fields_not_sent", "enroll_unknown")


@pytest.fixture
def browser(tmp_path):
    b = Browser(tmp_path)
    yield b
    b.close()


def write_csv(path, n=12):
    rows = ["email,first_name,status"]
    rows += ["user%02d@example.com,User %d,subscribed" % (i, i)
             for i in range(n)]
    rows += ["gone@example.com,Gone,unsubscribed",
             "bounce@example.com,Bounce,cleaned",
             "<script>alert(1)</script>,<script>alert(2)</script>,subscribed",
             "no-at-sign,x,subscribed",
             "user01@example.com,Again,subscribed"]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def status(db):
    r = run_bulk(["status", "--json", "--db", db])
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def report(db, out, *extra):
    r = run_bulk(["report", "--db", db, "-o", str(out)] + list(extra))
    assert r.returncode == 0, r.stderr
    return out.read_text(encoding="utf-8") if str(out) != "-" else r.stdout


def break_body(db, email):
    """A body Meisa refuses (400): a permanent failure."""
    con = sqlite3.connect(db)
    con.execute("UPDATE contacts SET body = json_set(body, '$.source',"
                " 'bogus') WHERE email = ?", (email,))
    con.commit()
    con.close()


def counts_in(text):
    """Every data-count of a page, each name with one value."""
    found = {}
    for name, value in COUNT.findall(text):
        found.setdefault(name, set()).add(int(value.replace(",", "")))
    return found


def assert_same_numbers(text, st):
    found = counts_in(text)
    for name in STATUS_COUNTS:
        assert found.get(name) == {st[name]}, (name, found.get(name),
                                               st[name])


def imported(tmp_path, sandbox_factory):
    """A staging file after stage, a push stopped early and a push to the
    end, through transient faults, with one contact Meisa refuses."""
    unsub = tmp_path / "unsub.txt"
    unsub.write_text("user03@example.com\n")
    sb = sandbox_factory("--rate", "none", "--key", KEY,
                         "--sequence", "onboarding=active",
                         "--unsubscribed", str(unsub),
                         "--fail-rate", "0.2", "--seed", "7",
                         "--fault-paths", "/contacts/")
    db = str(tmp_path / "s.db")
    r = run_bulk(["stage", "--db", db, write_csv(tmp_path / "in.csv")])
    assert r.returncode == 0, r.stderr
    break_body(db, "user05@example.com")
    push = ["push", "--db", db, "--rate", "600/m,5000/h", "--yes",
            "--sequence", "onboarding"]
    r = run_bulk(push + ["--max-requests", "4"], base_url=sb.url)
    assert r.returncode == 75, r.stderr
    r = run_bulk(push, base_url=sb.url)
    assert r.returncode == 1, r.stderr
    return db


def test_report_has_the_numbers_of_status_in_the_browser(tmp_path,
                                                         sandbox_factory,
                                                         browser):
    db = imported(tmp_path, sandbox_factory)
    st = status(db)
    assert st["rejected"] == 2 and st["failed"] == 1 and st["skipped"] == 2
    assert st["meisa_unsubscribed"] == 1 and st["enrolled"] > 0
    out = tmp_path / "report.html"
    html = report(db, out)
    assert_same_numbers(html, st)
    dom = browser.dump_dom(out)
    assert_same_numbers(dom, st)
    # The runs and inputs, the failure with Meisa's message, the hints.
    assert dom.count("<td>push</td>") == 2 and "<td>stage</td>" in dom
    assert "in.csv" in dom and "complete" in dom
    assert "user05@example.com" in dom and "<td>400</td>" in dom
    assert "meisa-bulk export rejects -o" in dom
    assert "meisa-bulk export results -o" in dom
    assert "600/m,5000/h" in dom
    assert browser.requests == []


def test_report_values_never_run_as_markup(tmp_path, sandbox_factory,
                                           browser):
    """An address or a cell of <script> is shown, never run."""
    db = imported(tmp_path, sandbox_factory)
    out = tmp_path / "report.html"
    html = report(db, out)
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    dom = browser.dump_dom(out)
    assert "<script" not in dom
    assert "alert(1)" in dom


def test_report_fetches_nothing(tmp_path, sandbox_factory, browser):
    db = imported(tmp_path, sandbox_factory)
    out = tmp_path / "report.html"
    html = report(db, out)
    assert not re.search(r'(src|href)\s*=\s*"?(https?:)?//', html, re.I)
    assert ("<meta http-equiv=\"Content-Security-Policy\" content=\""
            "default-src 'none'; style-src 'unsafe-inline'\">") in html
    browser.dump_dom(out)
    browser.screenshot(out, tmp_path / "shot.png")
    assert browser.requests == []
    # The proxy does see a page that fetches: the check can fail.
    leak = tmp_path / "leak.html"
    leak.write_text('<img src="http://report.invalid/pixel.png">')
    browser.dump_dom(leak)
    assert any("report.invalid" in r for r in browser.requests)


def test_report_screenshot_is_not_blank(tmp_path, sandbox_factory, browser):
    db = imported(tmp_path, sandbox_factory)
    out = tmp_path / "report.html"
    report(db, out)
    png = browser.screenshot(out, tmp_path / "shot.png")
    assert len(png_colours(png)) > 8


def test_report_no_examples_shows_counts_only(tmp_path, sandbox_factory):
    db = imported(tmp_path, sandbox_factory)
    html = report(db, tmp_path / "r.html", "--no-examples")
    assert "no-at-sign" not in html and "alert(1)" not in html
    assert "user05@example.com" not in html
    assert_same_numbers(html, status(db))


def test_report_of_an_empty_staging_file(tmp_path, browser):
    src = tmp_path / "empty.csv"
    src.write_text("email,first_name\n")
    db = str(tmp_path / "s.db")
    r = run_bulk(["stage", "--db", db, str(src)])
    assert r.returncode == 0, r.stderr
    out = tmp_path / "r.html"
    report(db, out)
    dom = browser.dump_dom(out)
    assert_same_numbers(dom, status(db))
    assert "Nothing acknowledged yet" in dom
    assert len(png_colours(browser.screenshot(out, tmp_path / "e.png"))) > 8


def test_report_of_an_older_schema(tmp_path):
    from test_sync import V1_SCHEMA
    db = str(tmp_path / "v1.db")
    con = sqlite3.connect(db)
    con.executescript(V1_SCHEMA)
    con.execute("INSERT INTO inputs(path, size, sha256, rows_read, complete)"
                " VALUES('old.csv', 10, 'ab', 1, 1)")
    con.execute("INSERT INTO contacts(email, body, input_id, line, state,"
                " attempts, acked_at) VALUES('v@example.com', '{}', 1, 2,"
                " 'upserted', 1, '2025-01-01T00:00:00.000Z')")
    con.execute("PRAGMA application_id=%d" % 0x4d424c4b)
    con.execute("PRAGMA user_version=1")
    con.commit()
    con.close()
    html = report(db, tmp_path / "r.html")
    assert_same_numbers(html, status(db))
    assert "old.csv" in html


def test_report_to_stdout_and_never_over_the_staging_file(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("email\na@example.com\n")
    db = str(tmp_path / "s.db")
    assert run_bulk(["stage", "--db", db, str(src)]).returncode == 0
    r = run_bulk(["report", "--db", db, "-o", "-"])
    assert r.returncode == 0 and r.stdout.startswith("<!DOCTYPE html>")
    before = open(db, "rb").read()
    r = run_bulk(["report", "--db", db, "-o", db])
    assert r.returncode == 64 and "staging file" in r.stderr
    assert open(db, "rb").read() == before
    r = run_bulk(["report", "--db", db])
    assert r.returncode == 64
    out = tmp_path / "r.html"
    report(db, out)
    assert oct(os.stat(out).st_mode & 0o777) == "0o600"
    assert not [n for n in os.listdir(tmp_path) if "meisa-report" in n]


def test_report_speaks_no_sql():
    with open(os.path.join(REPO, "lib", "report.c")) as f:
        text = f.read()
    for word in ("sqlite3_", "db_exec", "db_prepare", "db_int", "SELECT"):
        assert word not in text, "lib/report.c uses %s" % word


def test_report_while_a_push_runs(tmp_path, sandbox_factory):
    """report reads like status: a running push neither blocks it nor is
    blocked by it."""
    import subprocess
    from conftest import MB_BUILD, tool_env
    sb = sandbox_factory("--rate", "none", "--key", KEY,
                         "--latency-ms", "100")
    db = str(tmp_path / "s.db")
    r = run_bulk(["stage", "--db", db, write_csv(tmp_path / "in.csv", 20)])
    assert r.returncode == 0, r.stderr
    env = tool_env({"MEISA_API_KEY": KEY, "MEISA_BASE_URL": sb.url})
    push = subprocess.Popen([os.path.join(MB_BUILD, "meisa-bulk"), "push",
                             "--db", db, "--rate", "none", "--yes",
                             "--concurrency", "1"], env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            if status(db)["upserted"] > 0:
                break
        html = report(db, tmp_path / "during.html")
        assert push.poll() is None, "the push ended before the report"
        assert html.endswith("</html>\n")
        found = counts_in(html)
        assert found["pending"] != {0} and found["upserted"] != {0}
    finally:
        push.wait(timeout=60)
    assert push.returncode == 0, push.stderr.read()
