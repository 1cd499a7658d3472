"""What Meisa's answers mean: shapes the tool must refuse or report.

Most tests run meisa-bulk against hostile_api.HostileAPI, which answers
what Meisa documents unless told otherwise; --retry-failed runs against the
real sandbox.
"""
import csv
import io
import json
import sqlite3

import pytest

from conftest import staging_rows
from hostile_api import (ENROLL, UPSERT, HostileAPI, all_enrolled, as_json)

KEY = "meisa_test_hostile"


def write_export(path, n):
    with open(path, "w", encoding="utf-8") as f:
        f.write("email,first_name\n")
        for i in range(n):
            f.write("user%d@example.com,Name%d\n" % (i, i))
    return str(path)


def staged(tmp_path, bulk, n=4):
    db = str(tmp_path / "stage.db")
    csv_path = write_export(tmp_path / "in.csv", n)
    r = bulk(["stage", csv_path, "--db", db, "-q"])
    assert r.returncode == 0, r.stderr
    return db


def push(bulk, api, db, *extra):
    return bulk(["push", "--db", db, "--rate", "none", "--yes",
                 "--sequence", "onboarding"] + list(extra),
                key=KEY, base_url=api.url)


# ---- item 5: the unsubscribed list ----------------------------------------

BAD_LISTS = {
    "results_key": as_json({"results": ["user1@example.com"]}),
    "emails_missing": as_json({"as_of": "2026-01-01T00:00:00Z", "count": 1}),
    "emails_object": as_json({"as_of": "2026-01-01T00:00:00Z", "count": 1,
                              "emails": {"user1@example.com": True}}),
    "count_disagrees": as_json({"as_of": "2026-01-01T00:00:00Z", "count": 3,
                                "emails": ["user1@example.com"]}),
    "non_string_entry": as_json({"as_of": "2026-01-01T00:00:00Z", "count": 2,
                                 "emails": ["user1@example.com",
                                            {"email": "user2@example.com"}]}),
    "bare_array_non_string": as_json(["user1@example.com", 7]),
    "not_json": (200, "text/html", "<html><body>Meisa portal</body></html>"),
    "scalar": as_json("user1@example.com"),
}


@pytest.mark.parametrize("shape", sorted(BAD_LISTS))
def test_unsubscribed_list_of_unknown_shape_stops_before_any_write(
        tmp_path, bulk, shape):
    """A list read as empty let unsubscribed addresses be enrolled."""
    db = staged(tmp_path, bulk)
    status, ctype, text = BAD_LISTS[shape]
    with HostileAPI(unsubscribed=BAD_LISTS[shape]) as api:
        r = push(bulk, api, db)
        assert r.returncode == 69, r.stderr
        assert "unsubscribed list" in r.stderr
        assert text[:20] in r.stderr, r.stderr   # what was received
        assert api.count("POST", UPSERT) == 0
        assert api.count("POST", ENROLL) == 0
        out = tmp_path / "unsub.csv"
        r = bulk(["export", "unsubscribed", "-o", str(out)], key=KEY,
                 base_url=api.url)
        assert r.returncode == 69, r.stderr
        assert "unsubscribed list" in r.stderr
        assert not out.exists()
    rows = staging_rows(db, "SELECT state FROM contacts")
    assert {row["state"] for row in rows} == {"pending"}


def test_unsubscribed_list_body_is_shortened_in_the_message(tmp_path, bulk):
    db = staged(tmp_path, bulk)
    big = {"results": ["x%d@example.com" % i for i in range(2000)]}
    with HostileAPI(unsubscribed=as_json(big)) as api:
        r = push(bulk, api, db)
    assert r.returncode == 69
    assert len(r.stderr) < 2000, r.stderr


def test_unsubscribed_bare_array_is_accepted_and_suppresses(tmp_path, bulk):
    db = staged(tmp_path, bulk)
    with HostileAPI(unsubscribed=as_json(["USER1@example.com"])) as api:
        r = push(bulk, api, db, "--json")
        assert r.returncode == 0, r.stderr
        st = json.loads(r.stdout)
        assert st["meisa_unsubscribed"] == 1 and st["upserted"] == 4
        enrolled = [e for b in api.bodies("POST", ENROLL) for e in b["emails"]]
        assert sorted(enrolled) == ["user0@example.com", "user2@example.com",
                                    "user3@example.com"]
        out = tmp_path / "unsub.csv"
        r = bulk(["export", "unsubscribed", "-o", str(out)], key=KEY,
                 base_url=api.url)
        assert r.returncode == 0, r.stderr
        assert out.read_text().split() == ["email", "USER1@example.com"]


def test_unsubscribed_documented_object_still_accepted(tmp_path, bulk):
    db = staged(tmp_path, bulk)
    listed = as_json({"as_of": "2026-02-03T04:05:06Z", "count": 1,
                      "emails": ["user2@example.com"]})
    with HostileAPI(unsubscribed=listed) as api:
        r = push(bulk, api, db, "--json")
        assert r.returncode == 0, r.stderr
        st = json.loads(r.stdout)
        assert st["meisa_unsubscribed"] == 1
        assert st["unsubscribed_as_of"] == "2026-02-03T04:05:06Z"


# ---- item 14: ping's 200 that is not JSON ---------------------------------

def test_ping_200_non_json_names_what_came_back(tmp_path, bulk):
    """A portal page read as "the key lacks contacts:write" (exit 77)."""
    page = (200, "text/html; charset=utf-8",
            "<html><head><title>Meisa</title></head><body>Sign in</body></html>")
    with HostileAPI(ping=page) as api:
        r = bulk(["ping"], key=KEY, base_url=api.url)
        assert r.returncode == 69, r.stderr
        assert "lacks" not in r.stderr
        assert "non-JSON body" in r.stderr
        assert "text/html" in r.stderr and "<html>" in r.stderr
        assert "MEISA_BASE_URL" in r.stderr
        db = staged(tmp_path, bulk)
        r = push(bulk, api, db)
        assert r.returncode == 69, r.stderr
        assert "non-JSON body" in r.stderr
        assert api.count("POST", UPSERT) == 0


# ---- item 12: unknown bulk-enroll statuses --------------------------------

def odd_statuses(emails):
    out = []
    for e in emails:
        if e == "user1@example.com":
            out.append({"email": e, "status": "queued_for_review"})
        elif e == "user2@example.com":
            out.append({"email": e, "status": "suppressed"})
        elif e == "user3@example.com":
            continue   # not in the answer at all
        else:
            out.append({"email": e, "status": "enrolled"})
    return out


def test_unknown_enroll_statuses_are_counted_and_exit_1(tmp_path, bulk):
    """An unknown per-address status passed silently with exit 0."""
    db = staged(tmp_path, bulk, n=5)
    with HostileAPI(enroll=odd_statuses) as api:
        r = push(bulk, api, db, "--json")
    assert r.returncode == 1, r.stderr
    assert "unknown" in r.stderr
    st = json.loads(r.stdout)
    assert st["enroll_unknown"] == 2
    assert st["enrolled"] == 2
    r = bulk(["status", "--json", "--db", db])
    assert json.loads(r.stdout)["enroll_unknown"] == 2
    r = bulk(["status", "--db", db])
    assert "enroll unknown" in r.stdout
    out = tmp_path / "results.csv"
    r = bulk(["export", "results", "-o", str(out), "--db", db])
    assert r.returncode == 0, r.stderr
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(out.read_text()))}
    assert rows["user1@example.com"]["enroll_status"] == "queued_for_review"
    assert rows["user2@example.com"]["enroll_status"] == "suppressed"
    assert rows["user3@example.com"]["enroll_status"] == "missing_from_answer"
    assert rows["user0@example.com"]["enroll_status"] == "enrolled"


def test_known_enroll_statuses_exit_0(tmp_path, bulk):
    def known(emails):
        names = ["enrolled", "already_enrolled", "suppressed", "invalid_email"]
        return [{"email": e, "status": names[i % 4]}
                for i, e in enumerate(emails)]

    db = staged(tmp_path, bulk, n=4)
    with HostileAPI(enroll=known) as api:
        r = push(bulk, api, db, "--json")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["enroll_unknown"] == 0 and st["enrolled"] == 2


def test_unknown_enroll_status_in_text_summary(tmp_path, bulk):
    db = staged(tmp_path, bulk, n=3)
    with HostileAPI(enroll=lambda emails: [{"email": e, "status": "weird"}
                                           for e in emails]) as api:
        r = push(bulk, api, db)
    assert r.returncode == 1, r.stderr
    assert "enroll unknown 3" in " ".join(r.stdout.split()), r.stdout


# ---- item 6: push --retry-failed -------------------------------------------

def break_body(db, email):
    con = sqlite3.connect(db)
    con.execute("UPDATE contacts SET body = json_set(body, '$.source', 'bogus')"
                " WHERE email = ?", (email,))
    con.commit()
    con.close()


def fix_body(db, email):
    con = sqlite3.connect(db)
    con.execute("UPDATE contacts SET body = json_remove(body, '$.source')"
                " WHERE email = ?", (email,))
    con.commit()
    con.close()


def test_retry_failed_sends_only_the_failed_contacts(tmp_path, sandbox_factory,
                                                     bulk):
    """Failed contacts came back only with --full (the whole list again)."""
    sb = sandbox_factory("--rate", "none", "--key", KEY)
    db = staged(tmp_path, bulk, n=4)
    break_body(db, "user1@example.com")
    args = ["push", "--db", db, "--rate", "none", "--yes", "--json"]
    r = bulk(args, key=KEY, base_url=sb.url)
    assert r.returncode == 1, r.stderr
    assert json.loads(r.stdout)["failed"] == 1
    fix_body(db, "user1@example.com")
    sent = len(sb.requests("path = ?", (UPSERT,)))
    # Without the flag a failed contact stays failed and is not sent.
    r = bulk(args, key=KEY, base_url=sb.url)
    assert r.returncode == 1, r.stderr
    assert "--retry-failed" in r.stderr
    assert len(sb.requests("path = ?", (UPSERT,))) == sent
    r = bulk(args + ["--retry-failed", "--dry-run"], key=KEY, base_url=sb.url)
    assert r.returncode == 0, r.stderr
    assert "1 to upsert" in r.stderr and "1 failed" in r.stderr
    assert len(sb.requests("path = ?", (UPSERT,))) == sent
    r = bulk(args + ["--retry-failed"], key=KEY, base_url=sb.url)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["failed"] == 0 and st["upserted"] == 4 and st["pending"] == 0
    again = sb.requests("path = ?", (UPSERT,))[sent:]
    assert [json.loads(x["body"])["email"] for x in again] == [
        "user1@example.com"]
    assert again[0]["status"] in (200, 201)
    # Nothing failed is left: a second --retry-failed sends nothing.
    r = bulk(args + ["--retry-failed"], key=KEY, base_url=sb.url)
    assert r.returncode == 0, r.stderr
    assert len(sb.requests("path = ?", (UPSERT,))) == sent + 1


def test_retry_failed_is_documented(bulk):
    r = bulk(["push", "--help"])
    assert "--retry-failed" in r.stdout
    r = bulk(["import", "--help"])
    assert "--retry-failed" in r.stdout
