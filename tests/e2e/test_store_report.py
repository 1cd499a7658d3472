"""status and export read the staging file through the store (issue 14,
item 1): lib/status.c and lib/export.c speak no SQL, and a row the store
cannot read stops them with the staging file's name and SQLite's message,
never as the end of the rows.
"""
import os
import sqlite3

from conftest import REPO, run_bulk

CONTACTS = "email,first_name\n" + "".join(
    "user%02d@example.com,User %d\n" % (i, i) for i in range(5))


def staged(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(CONTACTS)
    db = str(tmp_path / "s.db")
    res = run_bulk(["stage", "--db", db, "-q", str(src)])
    assert res.returncode == 0, res.stderr
    return db


def damage_cleared(db, email):
    """A cleared list that is not JSON: reading it fails inside SQLite."""
    con = sqlite3.connect(db)
    try:
        con.execute("UPDATE contacts SET cleared = 'not json' WHERE"
                    " email = ?", (email,))
        con.commit()
    finally:
        con.close()


def test_status_and_export_speak_no_sql():
    for name in ("status.c", "export.c"):
        with open(os.path.join(REPO, "lib", name)) as f:
            text = f.read()
        for word in ("sqlite3_", "db_exec", "db_prepare", "db_int"):
            assert word not in text, "lib/%s uses %s" % (name, word)


def test_export_stops_at_a_row_it_cannot_read(tmp_path):
    db = staged(tmp_path)
    damage_cleared(db, "user02@example.com")
    out = tmp_path / "results.csv"
    res = run_bulk(["export", "results", "--db", db, "-o", str(out)])
    assert res.returncode == 73, res.stderr
    assert "s.db" in res.stderr and "malformed JSON" in res.stderr, \
        res.stderr
    assert not out.exists()
    assert not [n for n in os.listdir(tmp_path) if "meisa-bulk-" in n]


def test_status_fails_on_a_count_it_cannot_read(tmp_path):
    db = staged(tmp_path)
    damage_cleared(db, "user02@example.com")
    res = run_bulk(["status", "--db", db, "--json"])
    assert res.returncode == 73, res.stderr
    assert res.stdout == ""
    assert "s.db" in res.stderr and "malformed JSON" in res.stderr, \
        res.stderr
