"""End-to-end nightly sync (issue 5): the real meisa-bulk against the real
sandbox, two consecutive nightly dumps of an app's users.

Night 1 is 2,000 users; night 2 changes 100 of them, adds 20 and removes 10,
and also rewrites things that are not changes (row order, tag order, number
formatting).  The second push must send exactly the 120 changed or new
contacts (the sandbox's request log says what was sent), `export missing`
must list the 10, re-running sends nothing, a SIGKILL during the second
push converges, and an emptied custom field is counted and reported.

Night 1 is imported once per module (a 2,000-contact push under ASan takes
a while); each test starts from copies of its staging file and sandbox db.
"""
import csv
import gzip
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import MB_BUILD, run_bulk, start_sandbox, \
    staging_rows as rows

UPSERT = "/api/v1/contacts/upsert/"
ENROLL = "/api/v1/sequences/api/bulk-enroll/"
KEY = "meisa_test_sync"
SANDBOX_ARGS = ("--rate", "none", "--key", KEY, "--sequence",
                "onboarding=active")
N = 2000
CHANGED = set(range(100, 200))      # user 100: only its company cell emptied
NEW = set(range(N, N + 20))
REMOVED = set(range(1500, 1510))
COSMETIC = set(range(300, 350))     # tag order and number format only
SOURCE_SUPPRESSED = {5: "unsubscribed", 6: "bounced"}
HEADER = ["user_id", "email", "first_name", "last_name", "company", "plan",
          "seats", "score", "created_at", "status", "tags"]


def email(i):
    return "user%d@example.com" % i


def user(i, night):
    """User i as night `night`'s dump has it."""
    u = {
        "user_id": "u%05d" % i,
        "email": email(i),
        "first_name": "First%d" % i,
        "last_name": "Last%d" % i,
        "company": "Co %d" % (i % 50),
        "plan": ("free", "pro", "team")[i % 3],
        "seats": str(i % 20 + 1),
        "score": "%d.50" % (i % 500),
        "created_at": "2023-01-%02d 10:%02d:00" % (i % 28 + 1, i % 60),
        "status": SOURCE_SUPPRESSED.get(i, "active"),
        "tags": "customer;beta" if i % 4 == 0 or i in COSMETIC else "customer",
    }
    if night >= 2 and i in CHANGED:
        if i == 100:
            u["company"] = ""
        else:
            u["plan"] = "enterprise"
            u["seats"] = str(i % 20 + 100)
    if night >= 2 and i in COSMETIC:
        u["tags"] = "beta;customer"
        u["score"] = "%d.500" % (i % 500)
    return u


def night_users(night):
    ids = list(range(N))
    if night >= 2:
        ids = [i for i in ids if i not in REMOVED] + sorted(NEW)
        random.Random(night).shuffle(ids)
    return [user(i, night) for i in ids]


def write_dump(path, users):
    """An app's `\\copy ... csv header | gzip` dump."""
    with gzip.open(path, "wt", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=HEADER, lineterminator="\n")
        w.writeheader()
        w.writerows(users)
    return str(path)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def bulk(args, sb, **kw):
    return run_bulk(args, key=KEY, base_url=sb.url, **kw)


def import_args(dump, db, *extra):
    return ["import", dump, "--db", db, "--sequence", "onboarding",
            "--rate", "none", "--concurrency", "8", "--json", *extra]


def status(sb, db):
    r = bulk(["status", "--json", "--db", db], sb)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def reconcile(st):
    assert st["rows_read"] == st["rejected"] + st["duplicates"] + st["contacts"]
    assert st["contacts"] == (st["upserted"] + st["failed"] + st["pending"]
                              + st["skipped"])


def last_request_id(sb):
    r = sb.requests()
    return r[-1]["id"] if r else 0


def upserts_after(sb, first_id):
    """Emails of upserts the sandbox applied after request first_id, with
    their bodies (lost acknowledgements count: the write happened)."""
    out = []
    for r in sb.requests("id > ? AND path = ? AND (status IN (200, 201)"
                         " OR fault = 'lost_ack')", (first_id, UPSERT)):
        out.append((json.loads(r["body"])["email"], r["body"]))
    return out


def export(sb, db, what, path):
    r = bulk(["export", what, "-o", str(path), "--db", db], sb)
    assert r.returncode == 0, r.stderr
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def night1(tmp_path_factory):
    """Night 1 imported: (dir, staging db, sandbox db, dump), all to copy."""
    d = tmp_path_factory.mktemp("night1")
    dump = write_dump(d / "users-night1.csv.gz", night_users(1))
    started = []
    sb = start_sandbox(d, started, SANDBOX_ARGS)
    db = str(d / "sync.db")
    try:
        r = bulk(import_args(dump, db), sb)
        assert r.returncode == 0, r.stderr
        st = json.loads(r.stdout)
        reconcile(st)
        assert (st["contacts"], st["upserted"], st["skipped"]) == (N, N - 2, 2)
        assert st["generation"] == 1 and st["missing"] == 0
    finally:
        sb.stop()
    return d, db, sb.db_path, dump


@pytest.fixture
def synced(night1, tmp_path):
    """A fresh copy of night 1's staging file and sandbox, sandbox running."""
    d, db, sb_db, dump = night1
    shutil.copy(db, tmp_path / "sync.db")
    shutil.copy(sb_db, tmp_path / "sandbox.db")
    started = []
    sb = start_sandbox(tmp_path, started, SANDBOX_ARGS,
                       db=tmp_path / "sandbox.db")
    yield sb, str(tmp_path / "sync.db")
    sb.stop()


def changed_or_new():
    return {email(i) for i in CHANGED | NEW}


def test_second_night_sends_exactly_the_changed_and_new(synced, tmp_path):
    sb, db = synced
    dump = write_dump(tmp_path / "users-night2.csv.gz", night_users(2))
    before = last_request_id(sb)
    r = bulk(import_args(dump, db), sb)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    reconcile(st)

    # Exactly the 120 changed or new contacts, once each, with the exact
    # staged body; nothing for the unchanged, cosmetic or skipped ones.
    sent = upserts_after(sb, before)
    assert sorted(e for e, _ in sent) == sorted(changed_or_new())
    bodies = {x["email"]: x["body"] for x in rows(db, "SELECT email, body FROM contacts")}
    assert all(body == bodies[e] for e, body in sent)
    assert "2 skipped" in r.stderr and "1888 unchanged" in r.stderr

    # Counts of the second night.
    assert st["generation"] == 2
    assert st["rows_read"] == N - 10 + 20 == st["contacts"]
    assert st["duplicates"] == 0 and st["rejected"] == 0
    assert st["skipped"] == 2 and st["pending"] == 0 and st["failed"] == 0
    assert st["upserted"] == N - 10 + 20 - 2
    assert st["unchanged"] == N - 10 - 2 - len(CHANGED) == 1888
    assert st["missing"] == 10
    assert st["cleared_fields_not_sent"] == 1

    # Only the 20 new contacts are enrolled tonight.
    chunks = sb.requests("id > ? AND path = ?", (before, ENROLL))
    enrolled = [e for c in chunks for e in json.loads(c["body"])["emails"]]
    assert sorted(enrolled) == sorted(email(i) for i in NEW)

    # The source-suppressed contacts never reached Meisa, either night.
    made = {x["email"] for x in sb.query("SELECT email FROM contacts")}
    assert not made & {email(i) for i in SOURCE_SUPPRESSED}
    # Removed users are kept in Meisa (the API cannot delete).
    assert {email(i) for i in REMOVED} <= made

    # export missing: the 10, with their state.
    missing = export(sb, db, "missing", tmp_path / "missing.csv")
    assert sorted(x["email"] for x in missing) == sorted(email(i) for i in REMOVED)
    assert {x["state"] for x in missing} == {"upserted"}
    assert all(x["last_seen_in"].endswith("users-night1.csv.gz") for x in missing)

    # The emptied cell: reported in export results, still in Meisa.
    results = export(sb, db, "results", tmp_path / "results.csv")
    cleared = {x["email"]: x["cleared_fields"] for x in results if x["cleared_fields"]}
    assert cleared == {email(100): "company"}
    assert len(results) == N - 10 + 20
    meisa = sb.query("SELECT custom_fields FROM contacts WHERE email = ?",
                     (email(100),))
    assert json.loads(meisa[0]["custom_fields"])["company"] == "Co 0"

    # Run history: both imports, their input files with size and SHA-256.
    r = bulk(["status", "--runs", "--json", "--db", db], sb)
    assert r.returncode == 0, r.stderr
    runs = json.loads(r.stdout)
    assert [x["kind"] for x in runs] == ["import", "import"]
    assert all(x["exit_status"] == 0 and x["ended_at"] for x in runs)
    last = runs[-1]
    assert last["inputs"] == [{"path": dump, "size": os.path.getsize(dump),
                               "sha256": sha256(dump), "generation": 2,
                               "rows_read": N - 10 + 20, "complete": 1}]
    assert last["summary"]["stage"]["contacts_updated"] == N - 10
    assert last["summary"]["stage"]["contacts_new"] == 20
    assert last["summary"]["push"]["upserted"] == 120
    assert last["summary"]["status"]["cleared_fields_not_sent"] == 1
    assert KEY not in json.dumps(runs)
    assert status(sb, db)["last_run"]["id"] == last["id"]
    r = bulk(["status", "--runs", "--db", db], sb)
    assert r.returncode == 0 and sha256(dump) in r.stdout


def test_same_file_again_sends_nothing(synced, tmp_path):
    sb, db = synced
    dump = write_dump(tmp_path / "users-night2.csv.gz", night_users(2))
    r = bulk(import_args(dump, db), sb)
    assert r.returncode == 0, r.stderr
    first = json.loads(r.stdout)
    before = last_request_id(sb)
    r = bulk(import_args(dump, db), sb)
    assert r.returncode == 0, r.stderr
    assert "staged before" in r.stderr
    assert sb.requests("id > ? AND method = 'POST'", (before,)) == []
    again = json.loads(r.stdout)
    for k in ("generation", "contacts", "upserted", "unchanged", "missing",
              "cleared_fields_not_sent"):
        assert again[k] == first[k], k
    # Night 1's dump once more is not "the same file": it is a new night
    # whose picture is night 1's again (the 10 are back, the 20 missing),
    # and only what differs from what Meisa acknowledged is sent.
    night1_dump = write_dump(tmp_path / "again.csv.gz", night_users(1))
    r = bulk(import_args(night1_dump, db), sb)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["generation"] == 3 and st["missing"] == 20
    sent = upserts_after(sb, before)
    assert sorted(e for e, _ in sent) == sorted(email(i) for i in CHANGED)


def test_sigkill_during_second_push_converges(night1, tmp_path):
    d, db0, sb_db0, _ = night1
    db = str(tmp_path / "sync.db")
    shutil.copy(db0, db)
    shutil.copy(sb_db0, tmp_path / "sandbox.db")
    started = []
    sb = start_sandbox(tmp_path, started, SANDBOX_ARGS + ("--latency-ms", "40"),
                       db=tmp_path / "sandbox.db")
    try:
        dump = write_dump(tmp_path / "users-night2.csv.gz", night_users(2))
        before = last_request_id(sb)
        env = dict(os.environ, MEISA_API_KEY=KEY, MEISA_BASE_URL=sb.url)
        cmd = [os.path.join(MB_BUILD, "meisa-bulk")] + import_args(
            dump, db, "--concurrency", "2", "-q")
        rnd = random.Random(5)
        kills = 0
        for attempt in range(20):
            mark = last_request_id(sb)
            p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
            if kills < 3:
                # Kill mid-push: once this run's upserts have started.
                deadline = time.monotonic() + 60
                while (p.poll() is None and time.monotonic() < deadline
                       and not upserts_after(sb, mark)):
                    time.sleep(0.05)
                time.sleep(rnd.uniform(0.0, 0.6))
                if p.poll() is None:
                    p.send_signal(signal.SIGKILL)
                    p.wait()
                    kills += 1
                    continue
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err.decode()
            break
        assert kills >= 2
        st = status(sb, db)
        reconcile(st)
        assert st["pending"] == 0 and st["generation"] == 2
        assert st["missing"] == 10 and st["unchanged"] == 1888
        sent = upserts_after(sb, before)
        emails = [e for e, _ in sent]
        # Every changed or new contact reached Meisa with its night-2 body,
        # nothing else was sent, and re-sends stayed within the window plus
        # one commit batch per kill.
        assert set(emails) == changed_or_new()
        assert len(emails) - len(set(emails)) <= kills * (2 + 64)
        bodies = {x["email"]: x["body"] for x in rows(db, "SELECT email, body FROM contacts")}
        assert all(body == bodies[e] for e, body in sent)
        made = {x["email"]: json.loads(x["custom_fields"]) for x in sb.query(
            "SELECT email, custom_fields FROM contacts")}
        assert made[email(150)]["plan"] == "enterprise"
        enrolled = {x["email"] for x in sb.query("SELECT email FROM enrollments")}
        assert {email(i) for i in NEW} <= enrolled
        # A kill mid-run leaves the run without an end; later runs are whole.
        runs = rows(db, "SELECT kind, exit_status FROM runs ORDER BY id")
        assert runs[0] == {"kind": "import", "exit_status": 0}
        assert runs[-1] == {"kind": "import", "exit_status": 0}
        assert sum(r["exit_status"] is None for r in runs) == kills
    finally:
        sb.stop()


def small_dump(path, users, header=("user_id", "email", "first_name", "plan",
                                    "score", "tags")):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(users)
    return str(path)


def test_emptied_custom_field_is_counted_and_reported(sandbox_factory, tmp_path):
    sb = sandbox_factory(*SANDBOX_ARGS)
    db = str(tmp_path / "sync.db")
    n1 = small_dump(tmp_path / "n1.csv", [
        ("u1", "a@example.com", "Ana", "pro", "480.00", "x;y"),
        ("u2", "b@example.com", "Ben", "free", "12", "")])
    r = bulk(["import", n1, "--db", db, "--rate", "none", "--json"], sb)
    assert r.returncode == 0, r.stderr
    # Night 2: a's plan emptied (a change that cannot be sent), b's score
    # reformatted and nothing else.
    n2 = small_dump(tmp_path / "n2.csv", [
        ("u2", "b@example.com", "Ben", "free", "12.0", ""),
        ("u1", "a@example.com", "Ana", "", "480.0", "y;x")])
    before = last_request_id(sb)
    r = bulk(["import", n2, "--db", db, "--rate", "none", "--json"], sb)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["cleared_fields_not_sent"] == 1 and st["unchanged"] == 1
    sent = upserts_after(sb, before)
    assert [e for e, _ in sent] == ["a@example.com"]
    assert "plan" not in json.loads(sent[0][1])["custom_fields"]
    results = export(sb, db, "results", tmp_path / "r.csv")
    assert {x["email"]: x["cleared_fields"] for x in results} == {
        "a@example.com": "plan", "b@example.com": ""}
    runs = json.loads(bulk(["status", "--runs", "--json", "--db", db], sb).stdout)
    assert runs[-1]["summary"]["status"]["cleared_fields_not_sent"] == 1
    meisa = sb.query("SELECT custom_fields FROM contacts WHERE email = ?",
                     ("a@example.com",))
    assert json.loads(meisa[0]["custom_fields"])["plan"] == "pro"
    # Night 3, same content: still stale in Meisa, still reported, not sent.
    n3 = small_dump(tmp_path / "n3.csv", [
        ("u1", "a@example.com", "Ana", "", "480", "x;y"),
        ("u2", "b@example.com", "Ben", "free", "12", "")])
    before = last_request_id(sb)
    r = bulk(["import", n3, "--db", db, "--rate", "none", "--json"], sb)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["cleared_fields_not_sent"] == 1 and st["unchanged"] == 2
    assert upserts_after(sb, before) == []
    # The cell comes back: sent, and nothing is stale any more.
    n4 = small_dump(tmp_path / "n4.csv", [
        ("u1", "a@example.com", "Ana", "team", "480", "x;y"),
        ("u2", "b@example.com", "Ben", "free", "12", "")])
    r = bulk(["import", n4, "--db", db, "--rate", "none", "--json"], sb)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["cleared_fields_not_sent"] == 0


def test_full_sends_everything_and_resumes(sandbox_factory, tmp_path):
    sb = sandbox_factory(*SANDBOX_ARGS)
    db = str(tmp_path / "sync.db")
    users = [("u%d" % i, "p%d@example.com" % i, "P%d" % i, "pro", "1", "")
             for i in range(30)]
    users.append(("u99", "gone@example.com", "G", "pro", "1", ""))
    n1 = small_dump(tmp_path / "n1.csv", users)
    assert bulk(["import", n1, "--db", db, "--rate", "none"], sb).returncode == 0
    n2 = small_dump(tmp_path / "n2.csv", list(reversed(users[:30])))
    before = last_request_id(sb)
    r = bulk(["import", n2, "--db", db, "--rate", "none", "--json"], sb)
    assert r.returncode == 0, r.stderr
    assert upserts_after(sb, before) == []
    # --full: every contact of tonight's file, stopped after 10 requests
    # (ping and the unsubscribed list are two of them) ...
    r = bulk(["push", "--db", db, "--rate", "none", "--full", "--concurrency",
              "1", "--max-requests", "10", "--json"], sb)
    assert r.returncode == 75, r.stderr
    assert "30 to upsert" in r.stderr
    # ... then resumed with --full: the rest, not a second pass.
    r = bulk(["push", "--db", db, "--rate", "none", "--full", "--json"], sb)
    assert r.returncode == 0, r.stderr
    assert "22 to upsert" in r.stderr
    sent = [e for e, _ in upserts_after(sb, before)]
    assert sorted(sent) == sorted("p%d@example.com" % i for i in range(30))
    # Once a full pass is over, --full starts another.
    r = bulk(["push", "--db", db, "--rate", "none", "--full", "--dry-run"], sb)
    assert r.returncode == 0 and "30 to upsert" in r.stderr
    r = bulk(["push", "--db", db, "--rate", "none", "--dry-run"], sb)
    assert r.returncode == 0 and "0 to upsert" in r.stderr


def test_address_change_rekeys_by_external_id(sandbox_factory, tmp_path):
    sb = sandbox_factory(*SANDBOX_ARGS)
    db = str(tmp_path / "sync.db")
    n1 = small_dump(tmp_path / "n1.csv", [
        ("u1", "old@example.com", "Ana", "pro", "1", ""),
        ("u2", "b@example.com", "Ben", "pro", "1", "")])
    assert bulk(["import", n1, "--db", db, "--rate", "none"], sb).returncode == 0
    n2 = small_dump(tmp_path / "n2.csv", [
        ("u1", "new@example.com", "Ana", "pro", "1", ""),
        ("u2", "b@example.com", "Ben", "pro", "1", "")])
    before = last_request_id(sb)
    r = bulk(["import", n2, "--db", db, "--rate", "none", "--json"], sb)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["rejected"] == 0 and st["missing"] == 0 and st["contacts"] == 2
    assert [e for e, _ in upserts_after(sb, before)] == ["new@example.com"]
    made = sb.query("SELECT email FROM contacts WHERE external_id = 'u1'")
    assert [x["email"] for x in made] == ["new@example.com"]


def test_newly_unsubscribed_in_meisa_never_enrolled(night1, tmp_path):
    d, db0, sb_db0, _ = night1
    db = str(tmp_path / "sync.db")
    shutil.copy(db0, db)
    shutil.copy(sb_db0, tmp_path / "sandbox.db")
    unsub = tmp_path / "unsub.txt"
    # 150 changed since night 1 and 2005 new tonight: both unsubscribed in
    # Meisa meanwhile.
    unsub.write_text("%s\n%s\n" % (email(150), email(N + 5)))
    started = []
    sb = start_sandbox(tmp_path, started, SANDBOX_ARGS + ("--unsubscribed",
                       str(unsub)), db=tmp_path / "sandbox.db")
    try:
        dump = write_dump(tmp_path / "users-night2.csv.gz", night_users(2))
        before = last_request_id(sb)
        r = bulk(import_args(dump, db), sb)
        assert r.returncode == 0, r.stderr
        sent = {e for e, _ in upserts_after(sb, before)}
        assert sent == changed_or_new()      # upserted: data stays current
        chunks = sb.requests("id > ? AND path = ?", (before, ENROLL))
        enrolled = {e for c in chunks for e in json.loads(c["body"])["emails"]}
        assert enrolled == {email(i) for i in NEW} - {email(N + 5)}
        st = json.loads(r.stdout)
        assert st["meisa_unsubscribed"] == 2 and st["suppressed"] == 4
    finally:
        sb.stop()


def test_secret_looking_arguments_are_not_recorded(tmp_path):
    db = str(tmp_path / "s.db")
    r = run_bulk(["stage", "--db", db, "meisa_live_0123456789abcdef.csv"])
    assert r.returncode == 66
    runs = rows(db, "SELECT args, exit_status FROM runs")
    assert len(runs) == 1 and runs[0]["exit_status"] == 66
    assert runs[0]["args"].endswith("meisa-bulk stage --db %s <redacted>" % db)
    with open(db, "rb") as f:
        assert b"meisa_live_0123456789abcdef" not in f.read()


def test_older_staging_file_is_migrated(tmp_path):
    """A schema-1 file (written before nightly sync) opens as generation 1:
    its acknowledged contacts count as acknowledged with their body."""
    db = str(tmp_path / "v1.db")
    con = sqlite3.connect(db)
    con.executescript(V1_SCHEMA)
    con.execute("INSERT INTO inputs(path, size, sha256, rows_read, complete)"
                " VALUES('old.csv', 10, 'ab', 2, 1)")
    for i, state in enumerate(("upserted", "pending")):
        body = json.dumps({"email": "v%d@example.com" % i, "source": "import",
                           "custom_fields": {"plan": "pro"}},
                          separators=(",", ":"))
        con.execute("INSERT INTO contacts(email, body, input_id, line, state,"
                    " attempts) VALUES(?, ?, 1, ?, ?, ?)",
                    ("v%d@example.com" % i, body, i + 2, state,
                     int(state == "upserted")))
    con.execute("PRAGMA application_id=%d" % 0x4d424c4b)
    con.execute("PRAGMA user_version=1")
    con.commit()
    con.close()
    r = run_bulk(["status", "--json", "--db", db])
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert (st["generation"], st["contacts"], st["upserted"], st["pending"]) == (1, 2, 1, 1)
    assert rows(db, "PRAGMA user_version") == [{"user_version": 4}]
    acked = rows(db, "SELECT email, acked_hash IS NOT NULL AS a, acked_fields"
                 " FROM contacts ORDER BY id")
    assert acked == [{"email": "v0@example.com", "a": 1, "acked_fields": '["plan"]'},
                     {"email": "v1@example.com", "a": 0, "acked_fields": None}]


V1_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE runs(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, started_at TEXT NOT NULL,
 ended_at TEXT, args TEXT, exit_status INTEGER, summary TEXT);
CREATE TABLE inputs(id INTEGER PRIMARY KEY, run_id INTEGER, path TEXT NOT NULL,
 size INTEGER, sha256 TEXT UNIQUE, kind TEXT, preset TEXT, delimiter TEXT,
 rows_read INTEGER NOT NULL DEFAULT 0, rejected INTEGER NOT NULL DEFAULT 0,
 duplicates INTEGER NOT NULL DEFAULT 0, complete INTEGER NOT NULL DEFAULT 0,
 error TEXT, staged_at TEXT);
CREATE TABLE contacts(id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE,
 external_id TEXT, body TEXT NOT NULL, source_status TEXT,
 unconfirmed INTEGER NOT NULL DEFAULT 0, input_id INTEGER NOT NULL,
 line INTEGER NOT NULL, merged INTEGER NOT NULL DEFAULT 0,
 conflict INTEGER NOT NULL DEFAULT 0,
 state TEXT NOT NULL DEFAULT 'pending' CHECK (state = 'pending'
  OR state = 'sent' OR state = 'upserted' OR state = 'failed'
  OR state = 'skipped'),
 attempts INTEGER NOT NULL DEFAULT 0, http_status INTEGER,
 error TEXT, meisa_id TEXT, acked_at TEXT, chunk_id INTEGER, enroll_status TEXT);
CREATE UNIQUE INDEX contacts_external_id ON contacts(external_id)
 WHERE external_id IS NOT NULL;
CREATE TABLE rejects(id INTEGER PRIMARY KEY, input_id INTEGER NOT NULL, line INTEGER,
 email TEXT, reason TEXT NOT NULL, detail TEXT);
CREATE TABLE duplicates(id INTEGER PRIMARY KEY, input_id INTEGER NOT NULL, line INTEGER,
 email TEXT NOT NULL, contact_id INTEGER NOT NULL);
CREATE TABLE unsubscribed(email TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE chunks(id INTEGER PRIMARY KEY, sequence_slug TEXT NOT NULL,
 state TEXT NOT NULL DEFAULT 'built' CHECK (state = 'built'
  OR state = 'sent' OR state = 'acknowledged' OR state = 'failed'),
 size INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
 http_status INTEGER, error TEXT, created_at TEXT, acked_at TEXT);
CREATE TABLE sends(t_ms INTEGER NOT NULL);
INSERT INTO meta VALUES('requests', '0');
"""
