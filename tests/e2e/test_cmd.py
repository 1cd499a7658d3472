"""cmd/meisa-bulk.c as a thin program (issue 14 items 1, 3, 8).

It prints what the library hands it, escaped where the output is JSON; it
holds no SQL (the store layer and meisa read for it), so a read that fails
is an error it reports, never a shorter listing; and it maps results to
exit statuses through one table (lib/err.c).
"""
import json
import os
import re
import sqlite3

from conftest import REPO
from hostile_api import SCOPES, HostileAPI, as_json

KEY = "meisa_test_cmd"
CMD = os.path.join(REPO, "cmd", "meisa-bulk.c")


def cmd_source():
    with open(CMD, encoding="utf-8") as f:
        return f.read()


# Hostile text: a quote, a backslash, a newline, a tab, a control byte.
NASTY = 'te"st\\\n\t\x01'


def test_ping_json_escapes_the_servers_text(bulk):
    """ping --json printed environment and scopes unescaped (broken JSON)."""
    ping = as_json({"status": "ok", "environment": NASTY,
                    "scopes": SCOPES + ['x"y\\z\nw']})
    with HostileAPI(ping=ping) as api:
        r = bulk(["ping", "--json"], key=KEY, base_url=api.url)
        assert r.returncode == 0, r.stderr
        assert r.stdout.count("\n") == 1, r.stdout
        got = json.loads(r.stdout)
        assert got["environment"] == NASTY
        assert got["scopes"] == ",".join(SCOPES + ['x"y\\z\nw'])
        assert got["base_url"] == api.url


def test_sequences_lists_what_meisa_parsed(bulk):
    """The table comes from meisa's parsed list, a missing member empty."""
    seqs = as_json({"count": 2, "results": [
        {"slug": "onboarding", "name": "On board", "status": "active"},
        {"slug": "later", "status": "paused"}]})
    with HostileAPI(sequences=seqs) as api:
        r = bulk(["sequences"], key=KEY, base_url=api.url)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines() == [
            "%-32s %-8s %s" % ("slug", "status", "name"),
            "%-32s %-8s %s" % ("onboarding", "active", "On board"),
            "%-32s %-8s " % ("later", "paused")]
        r = bulk(["sequences", "--json"], key=KEY, base_url=api.url)
        assert json.loads(r.stdout)[1] == {"slug": "later", "name": None,
                                           "status": "paused"}


def test_status_runs_stops_at_a_run_it_cannot_read(tmp_path, bulk):
    """A failed step ended the run listing early, exit 0 (read as the end)."""
    db = str(tmp_path / "stage.db")
    src = tmp_path / "in.csv"
    src.write_text("email\na@example.com\n")
    assert bulk(["stage", str(src), "--db", db, "-q"]).returncode == 0
    con = sqlite3.connect(db)
    con.executescript("ALTER TABLE runs RENAME TO runs_kept;"
                      " CREATE VIEW runs AS SELECT id, kind, started_at,"
                      " ended_at, exit_status, json('not json') AS args,"
                      " summary FROM runs_kept;")
    con.close()
    r = bulk(["status", "--runs", "--db", db])
    assert r.returncode == 73, (r.stdout, r.stderr)
    assert "cannot read the run history of" in r.stderr
    assert "malformed JSON" in r.stderr


def test_cmd_holds_no_sql():
    """cmd/ reached into the staging file and opened :memory: databases."""
    hits = [line for line in cmd_source().splitlines()
            if re.search(r"sqlite3|SELECT|INSERT|UPDATE|:memory:|->sql\b|"
                         r"json_patch", line)]
    assert hits == []


def test_cmd_exit_statuses_come_from_one_table():
    """Literal 64/70/74 beside mb_exit_code: two tables that could drift."""
    hits = [line for line in cmd_source().splitlines()
            if re.search(r"\b(return|exit\s*\()\s*\(?\s*"
                         r"(6[4-9]|7[0-9])\b", line)]
    assert hits == []
