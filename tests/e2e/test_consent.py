"""Consent by default: unconfirmed people are neither upserted nor enrolled.

Never-subscribed and pending (unconfirmed double opt-in) people are skipped
by a push unless --include-unconfirmed: the first upsert of a contact fires
Meisa's contact_created automations.  Each test checks the sandbox's own
record of the requests, the staging file (status, export suppressed) and
the plan printed on stderr.
"""
import csv
import glob
import json
import os

from conftest import REPO

UPSERT = "/api/v1/contacts/upsert/"
ENROLL = "/api/v1/sequences/api/bulk-enroll/"
FIXTURES = os.path.join(REPO, "fixtures")
MAILCHIMP = sorted(glob.glob(os.path.join(FIXTURES, "mailchimp", "*.csv")))
NONSUBSCRIBED = {"buyer1@example.com", "buyer2@example.com",
                 "order-notify@example.org", "buyer3@example.com",
                 "buyer4@example.com"}


def upserted(sb):
    """Emails of the upserts the sandbox applied, in order."""
    rows = sb.requests("path = ? AND status IN (200, 201)", (UPSERT,))
    return [json.loads(r["body"])["email"] for r in rows]


def enrolled(sb):
    rows = sb.requests("path = ? AND status = 200", (ENROLL,))
    return [e for r in rows for e in json.loads(r["body"])["emails"]]


def status(bulk, db):
    r = bulk(["status", "--json", "--db", db])
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["rows_read"] == st["rejected"] + st["duplicates"] + st["contacts"]
    assert st["contacts"] == (st["upserted"] + st["failed"] + st["pending"]
                              + st["skipped"])
    return st


def suppressed(bulk, db, tmp_path):
    out = tmp_path / "suppressed.csv"
    r = bulk(["export", "suppressed", "-o", str(out), "--db", db])
    assert r.returncode == 0, r.stderr
    with open(out, newline="", encoding="utf-8") as f:
        return {row["email"]: row["reason"] for row in csv.DictReader(f)}


def push(bulk, sb, db, *extra):
    return bulk(["push", "--db", db, "--rate", "none", "--sequence",
                 "onboarding"] + list(extra), base_url=sb.url)


def test_mailchimp_nonsubscribed_skipped_then_included(tmp_path, sandbox, bulk):
    """Regression: the nonsubscribed_ file's people were created and
    enrolled by default."""
    db = str(tmp_path / "s.db")
    r = bulk(["import"] + MAILCHIMP + ["--db", db, "--rate", "none",
                                       "--sequence", "onboarding"],
             base_url=sandbox.url)
    assert r.returncode == 0, r.stderr
    assert "5 unconfirmed" in r.stderr and "--include-unconfirmed" in r.stderr
    sent = upserted(sandbox)
    assert len(sent) == 6 and not NONSUBSCRIBED & set(sent)
    assert not NONSUBSCRIBED & set(enrolled(sandbox))
    st = status(bulk, db)
    assert (st["contacts"], st["upserted"], st["skipped"]) == (20, 6, 14)
    assert st["unconfirmed"] == 5
    reasons = suppressed(bulk, db, tmp_path)
    assert {e for e, why in reasons.items() if why == "unconfirmed"} == \
        NONSUBSCRIBED
    r = bulk(["report", "--db", db, "-o", "-"])
    assert r.returncode == 0, r.stderr
    assert "<tr><td>unconfirmed</td><td class=\"n\">5</td></tr>" in r.stdout

    # --include-unconfirmed creates exactly them, and the plan says so.
    r = push(bulk, sandbox, db, "--include-unconfirmed", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "5 to upsert" in r.stderr and "contact_created" in r.stderr
    r = push(bulk, sandbox, db, "--include-unconfirmed")
    assert r.returncode == 0, r.stderr
    assert "5 unconfirmed" in r.stderr and "contact_created" in r.stderr
    sent = upserted(sandbox)
    assert set(sent[6:]) == NONSUBSCRIBED and len(sent) == 11
    assert NONSUBSCRIBED <= set(enrolled(sandbox))
    st = status(bulk, db)
    assert (st["upserted"], st["skipped"]) == (11, 9)
    assert "unconfirmed" not in suppressed(bulk, db, tmp_path).values()


def test_kit_and_mailerlite_pending_not_sent(tmp_path, sandbox, bulk):
    """Regression: Kit's inactive and MailerLite's unconfirmed people were
    upserted by default."""
    db_kit = str(tmp_path / "kit.db")
    r = bulk(["import", os.path.join(FIXTURES, "kit.csv"), "--preset", "kit",
              "--db", db_kit, "--rate", "none", "--sequence", "onboarding"],
             base_url=sandbox.url)
    assert r.returncode == 0, r.stderr
    db_ml = str(tmp_path / "ml.db")
    r = bulk(["import", os.path.join(FIXTURES, "mailerlite.csv"),
              "--db", db_ml, "--rate", "none", "--sequence", "onboarding"],
             base_url=sandbox.url)
    assert r.returncode == 0, r.stderr
    sent = set(upserted(sandbox))
    assert "grace@example.com" in sent and "kate@example.com" in sent
    assert not {"alan@example.com", "mo@example.org"} & sent
    assert not {"alan@example.com", "mo@example.org"} & set(enrolled(sandbox))
    assert suppressed(bulk, db_kit, tmp_path)["alan@example.com"] == \
        "unconfirmed"
    assert suppressed(bulk, db_ml, tmp_path)["mo@example.org"] == \
        "unconfirmed"
    assert status(bulk, db_kit)["skipped"] == 5   # 4 at the source + alan


def test_confirmed_next_night_is_sent(tmp_path, sandbox, bulk):
    """A contact skipped as pending is sent once the source confirms it."""
    db = str(tmp_path / "s.db")
    night1 = tmp_path / "night1.csv"
    night1.write_text("email,status\na@example.com,active\n"
                      "p@example.com,pending\n")
    night2 = tmp_path / "night2.csv"
    night2.write_text("email,status\na@example.com,active\n"
                      "p@example.com,active\n")
    for night, sent in ((night1, ["a@example.com"]),
                        (night2, ["a@example.com", "p@example.com"])):
        r = bulk(["import", str(night), "--db", db, "--rate", "none"],
                 base_url=sandbox.url)
        assert r.returncode == 0, r.stderr
        assert upserted(sandbox) == sent
    st = status(bulk, db)
    assert (st["upserted"], st["skipped"], st["unconfirmed"]) == (2, 0, 0)
    assert suppressed(bulk, db, tmp_path) == {}
