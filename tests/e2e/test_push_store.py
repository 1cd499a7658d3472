"""push keeps the logic, the store and meisa keep the rest (issue 14,
items 1 and 2): lib/push.c speaks no SQL to the staging file (the store_*
files do) and does not reach into struct meisa (meisa's functions do).
"""
import os
import re

from conftest import REPO


def push_source():
    with open(os.path.join(REPO, "lib", "push.c")) as f:
        return f.read()


def test_push_speaks_no_sql():
    text = push_source()
    for word in ("sqlite3_", "db_exec", "db_prepare", "db_int", "SELECT ",
                 "UPDATE ", "INSERT ", "DELETE "):
        assert word not in text, "lib/push.c uses %s" % word


def test_push_does_not_reach_into_meisa():
    found = re.findall(r"api\.(?:http|rl|requests|retries|throttled|json)\b",
                       push_source())
    assert not found, "lib/push.c reaches into struct meisa: %s" % found

